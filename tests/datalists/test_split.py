"""Subject-grouped splits: no subject in two splits, seeded, stratified in proportion, fractions checked; the check
that catches a subject in two splits; the data engine's split unchanged; and the command line round trip (build,
split, check) with its exit statuses and refusals."""

from __future__ import annotations

import json
import random
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from monai.data import load_decathlon_datalist

from custom_networks.core.errors import InputError
from custom_networks.data import split_subjects
from custom_networks.datalists import (
    SPLITS,
    check_datalist,
    read_datalist,
    split_datalist,
    split_indices,
    split_sizes,
)
from custom_networks.datalists.cli import main

GROUPS = ("DCM", "HCM", "NOR")


def _items(subjects: int = 60) -> list[dict]:
    """Two items (ED, ES) per subject; subject i in group ``GROUPS[i % 3]``."""
    return [
        {"subject": f"p{i:03d}", "phase": phase, "image": f"p{i:03d}_{phase}.nii.gz", "group": GROUPS[i % 3]}
        for i in range(subjects)
        for phase in ("ED", "ES")
    ]


def _subjects(split: dict) -> dict[str, set[str]]:
    return {name: {i["subject"] for i in items} for name, items in split.items()}


def test_no_subject_in_two_splits_and_every_item_kept():
    items = _items()
    split = split_datalist(items, seed=0)
    subjects = _subjects(split)
    assert [len(subjects[n]) for n in ("training", "validation", "test")] == [42, 9, 9]
    assert not (subjects["training"] & subjects["validation"]) and not (subjects["training"] & subjects["test"])
    assert not (subjects["validation"] & subjects["test"])
    assert sorted(json.dumps(i) for s in split.values() for i in s) == sorted(json.dumps(i) for i in items)
    assert all(len(s) == 2 * len(subjects[n]) for n, s in split.items())  # both phases of a subject together


def test_split_is_seeded_and_independent_of_item_order():
    items = _items()
    a, b = split_datalist(items, seed=3), split_datalist(items, seed=3)
    assert a == b
    assert _subjects(split_datalist(items, seed=4)) != _subjects(a)
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)
    assert _subjects(split_datalist(shuffled, seed=3)) == _subjects(a)


def test_stratified_split_spreads_every_stratum_in_proportion():
    items = _items()  # 20 subjects per group
    split = split_datalist(items, seed=0, stratify="group")
    for group in GROUPS:
        counts = [len({i["subject"] for i in split[n] if i["group"] == group}) for n in SPLITS]
        assert counts == [14, 3, 3], group
    assert split_datalist(items, seed=0, stratify="group") == split
    assert _subjects(split_datalist(items, seed=1, stratify="group")) != _subjects(split)


def test_stratum_must_be_unique_per_subject():
    items = _items(6)
    items[1]["group"] = "MINF"  # p000 ES
    with pytest.raises(InputError, match=r"subject 'p000': several values of 'group' \('DCM', 'MINF'\)"):
        split_datalist(items, stratify="group")
    del items[3]["group"]  # p001 ES
    items[1]["group"] = "DCM"
    with pytest.raises(InputError, match=r"subject 'p001': item 3 has no 'group'"):
        split_datalist(items, stratify="group")


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ((0.5, 0.5, 0.5), "must sum to 1 .they sum to 1.5"),
        ((1.2, -0.1, -0.1), "finite and non-negative"),
        ((0.5, 0.5), "three numbers"),
        ("0.7,abc,0.15", "three numbers"),
        ((0.7, float("nan"), 0.3), "finite and non-negative"),
    ],
)
def test_invalid_fractions_are_refused(fractions, message):
    with pytest.raises(InputError, match=rf"^--fractions .*{message}"):
        split_datalist(_items(6), fractions=fractions)


def test_bad_items_and_seed_are_refused():
    with pytest.raises(InputError, match=r"item 2 has no 'subject'"):
        split_datalist([{"subject": "a"}, {"subject": "b"}, {"image": "x.nii.gz"}])
    with pytest.raises(InputError, match="^--seed -1: must be a non-negative integer"):
        split_datalist(_items(6), seed=-1)
    with pytest.raises(InputError, match="no item to split"):
        split_datalist([])


def test_zero_fraction_gives_an_empty_split_and_string_fractions():
    split = split_datalist(_items(10), seed=0, fractions="0.8,0.2,0")
    assert split["test"] == [] and len(_subjects(split)["validation"]) == 2 and len(split["training"]) == 16
    assert split_sizes(4, (0.2, 0.4, 0.4)) == (1, 1, 2)  # training keeps a subject (validation gives one up)
    assert split_sizes(2, (0.5, 0, 0.5)) == (1, 0, 1)
    assert split_sizes(1, (0.7, 0.15, 0.15)) == (1, 0, 0)


def _engine_split_before(n, seed, fractions=(0.7, 0.15, 0.15)):
    """The synthetic engine's split_subjects as it was before it used split_indices (verbatim)."""
    order = np.random.default_rng([seed, 7919]).permutation(n).tolist()
    n_val = max(1, int(round(fractions[1] * n))) if n >= 3 else (1 if n == 2 else 0)
    n_test = max(1, int(round(fractions[2] * n))) if n >= 3 else 0
    return {
        "validation": sorted(order[:n_val]),
        "test": sorted(order[n_val : n_val + n_test]),
        "training": sorted(order[n_val + n_test :]),
    }


@pytest.mark.parametrize("fractions", [(0.7, 0.15, 0.15), (0.8, 0.1, 0.1), (1.0, 0.0, 0.0), (0.1, 0.45, 0.45)])
def test_engine_split_unchanged(fractions):
    for n in range(0, 80):
        for seed in range(4):
            assert split_subjects(n, seed, fractions) == _engine_split_before(n, seed, fractions), (n, seed)
    assert split_indices(40, 0) == _engine_split_before(40, 0)


def test_check_datalist_counts_and_catches_overlap():
    split = split_datalist(_items(), seed=0)
    counts = check_datalist(split)
    assert counts["splits"]["training"] == {"items": 84, "subjects": 42}
    assert (counts["items"], counts["subjects"]) == (120, 60)
    moved = {n: list(items) for n, items in split.items()}
    leaked = next(i for i in moved["training"] if i["phase"] == "ES")
    moved["test"].append(leaked)
    crossing = rf"1 subject\(s\) in more than one split: {leaked['subject']} \(training \+ test\)"
    with pytest.raises(InputError, match=crossing):
        check_datalist(moved)
    moved["test"][-1] = {"image": "x.nii.gz"}
    with pytest.raises(InputError, match=r"1 item\(s\) without 'subject': test\[\d+\]"):
        check_datalist(moved)
    with pytest.raises(InputError, match="numTraining is 3 but the training list holds 84 items"):
        check_datalist({**split, "numTraining": 3})
    with pytest.raises(InputError, match="no 'training', 'validation', 'test' list"):
        check_datalist({"items": []})


# ------------------------------------------------------------------------------------------------------------- CLI


def _flat_set(root: Path, subjects: int = 12) -> Path:
    root.mkdir(parents=True)
    for i in range(subjects):
        for phase in ("ED", "ES"):
            for kind in ("image", "gt"):
                img = nib.Nifti1Image(np.zeros((8, 8, 3), np.int16), np.eye(4))
                nib.save(img, str(root / f"s{i:02d}_{phase}_{kind}.nii.gz"))
    return root


def test_cli_round_trip(tmp_path, capsys):
    root = _flat_set(tmp_path / "set")
    built, split = tmp_path / "lists" / "all.json", tmp_path / "splits" / "dataset.json"
    assert main(["build", str(root), "--out", str(built)]) == 0
    assert "24 items of 12 subjects (flat layout)" in capsys.readouterr().out
    assert main(["split", str(built), "--out", str(split), "--seed", "2", "--fractions", "0.5,0.25,0.25"]) == 0
    data = read_datalist(split)
    assert (data["seed"], data["fractions"], data["stratify"], data["layout"]) == (2, [0.5, 0.25, 0.25], None, "flat")
    assert (data["numTraining"], data["numValidation"], data["numTest"]) == (12, 6, 6)
    assert data["source"] == "../lists/all.json" and data["root"] == "../set"
    assert data["training"][0]["image"].startswith("../set/")  # rewritten relative to the split file's folder
    for name in ("training", "validation", "test"):
        for item in load_decathlon_datalist(split, data_list_key=name):
            assert Path(item["image"]).is_file() and Path(item["label"]).is_file()
    capsys.readouterr()
    assert main(["check", str(split)]) == 0
    out = capsys.readouterr().out
    assert "no subject in more than one split" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows == {
        "split": ["items", "subjects"],
        "training": ["12", "6"],
        "validation": ["6", "3"],
        "test": ["6", "3"],
        "total": ["24", "12"],
    }


def test_cli_check_overlap_exits_2_with_one_line(tmp_path, capsys):
    data = {"training": [{"subject": "a"}, {"subject": "b"}], "test": [{"subject": "b"}], "numTest": 1}
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(data))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {path}: 1 subject(s) in more than one split: b (training + test)"]


def test_cli_refuses_existing_output_and_bad_input(tmp_path, capsys):
    root = _flat_set(tmp_path / "set", subjects=4)
    out = tmp_path / "all.json"
    out.write_text("keep")
    assert main(["build", str(root), "--out", str(out)]) == 2
    assert out.read_text() == "keep"
    assert capsys.readouterr().err.strip() == f"error: {out}: exists (pass --overwrite True to replace it)"
    assert main(["build", str(root), "--out", str(out), "--overwrite", "True"]) == 0
    assert read_datalist(out)["numItems"] == 8
    capsys.readouterr()
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"name": "x"}))
    cases = [
        (["split", str(tmp_path / "missing.json"), "--out", str(tmp_path / "s.json")], "missing.json: file not found"),
        (["split", str(bad_json), "--out", str(tmp_path / "s.json")], "bad.json: not JSON"),
        (["split", str(wrong), "--out", str(tmp_path / "s.json")], "wrong.json: no 'items' list"),
        (["check", str(wrong)], "wrong.json: no 'training', 'validation', 'test' list"),
        (["split", str(out), "--out", str(tmp_path / "s.json"), "--fractions", "0.5,0.5,0.5"], "--fractions"),
        (["split", str(out), "--out", str(tmp_path / "s.json"), "--stratify", "vendor"], "all.json: subject 's00'"),
        (["build", str(root), "--out", str(tmp_path / "x.txt")], "x.txt: output must be a .json file"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], (argv, err)
    assert not (tmp_path / "s.json").exists()


def test_cli_keeps_numeric_paths_as_typed(tmp_path, monkeypatch, capsys):
    _flat_set(tmp_path / "2024", subjects=3)
    monkeypatch.chdir(tmp_path)
    assert main(["build", "2024", "--out", "0012.json"]) == 0
    assert read_datalist(tmp_path / "0012.json")["name"] == "2024"


def test_resplit_of_a_split_file_into_another_folder(tmp_path, capsys):
    """A split datalist (e.g. the synthetic engine's dataset.json) is re-split, stratified, into another folder: every
    item kept once, image paths rewritten relative to the new file, subject names and metadata kept."""
    items = _items(12)
    for item in items:
        (tmp_path / item["image"]).write_text("")
    source = tmp_path / "dataset.json"
    source.write_text(json.dumps({"name": "synthetic", "labels": {"1": "lv"}, **split_datalist(items, seed=0)}))
    out = tmp_path / "resplit" / "dataset.json"
    assert main(["split", str(source), "--out", str(out), "--seed", "5", "--stratify", "group"]) == 0
    data = read_datalist(out)
    assert (data["name"], data["labels"], data["stratify"], data["source"]) == (
        "synthetic",
        {"1": "lv"},
        "group",
        "../dataset.json",
    )
    got = sorted((i["subject"], i["phase"], i["image"]) for n in SPLITS for i in data[n])
    assert got == sorted((i["subject"], i["phase"], f"../{i['image']}") for i in items)
    for group in GROUPS:  # 4 subjects per group: 2 / 1 / 1
        assert [len({i["subject"] for i in data[n] if i["group"] == group}) for n in SPLITS] == [2, 1, 1]
    assert main(["check", str(out)]) == 0
