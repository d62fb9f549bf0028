"""``python -m custom_networks.evaluate``: matching, world-coordinate resampling, values, report files, bad input."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from conftest import REPO, checksums

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import resample_to_grid
from custom_networks.core.nifti import load_nifti, save_nifti
from custom_networks.evaluate import evaluate, segmentation_scores


def _test_cases(dataset):
    return json.loads((dataset / "dataset.json").read_text())["test"]


def _name(item):
    return f"{item['subject']}_{item['phase']}"


@pytest.fixture(scope="module")
def predictions(tiny_dataset, tmp_path_factory):
    """Three methods: the reference itself ("perfect"), the reference on a rotated / shifted grid ("regridded"),
    and an eroded LV ("eroded"); one case of "eroded" is missing."""
    from scipy import ndimage

    root = tmp_path_factory.mktemp("preds")
    for k, item in enumerate(_test_cases(tiny_dataset)):
        label, affine = load_nifti(tiny_dataset / item["label"], dtype=np.uint8)
        image, _ = load_nifti(tiny_dataset / item["hr_image"])
        lo, hi = np.percentile(image, [0.5, 99.5])
        scaled = np.clip((image - lo) / (hi - lo), 0, 1)
        save_nifti(label, affine, root / "perfect" / f"{_name(item)}_seg.nii.gz", label=True)
        save_nifti(scaled, affine, root / "perfect" / f"{_name(item)}_sr.nii.gz")
        # Same anatomy stored on another grid: the reference grid turned by 90 degrees about its own slice axis and
        # shifted by 0.6 mm, so the arrays differ and only world coordinates can match them.
        c = (np.asarray(label.shape) - 1) / 2
        turn = np.eye(4)
        turn[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
        turn[:3, 3] = c - turn[:3, :3] @ c
        other = affine @ turn
        other[:3, 3] += 0.6 * affine[:3, 0] / np.linalg.norm(affine[:3, 0])
        save_nifti(
            resample_to_grid(label, affine, label.shape, other, order=0, mode="constant"),
            other,
            root / "regridded" / f"{_name(item)}_seg.nii.gz",
            label=True,
        )
        if k == 0:
            eroded = label.copy()
            lv = label == 1
            eroded[lv & ~ndimage.binary_erosion(lv, iterations=2)] = 0
            save_nifti(eroded, affine, root / "eroded" / f"{_name(item)}_seg.nii.gz", label=True)
    (root / "perfect" / "timing.json").write_text(json.dumps({"seconds_per_volume": 1.5, "peak_memory_mb": 321}))
    return root


@pytest.fixture(scope="module")
def report(predictions, tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report"
    evaluation = evaluate(predictions, tiny_dataset, out)
    return out, evaluation


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_scores_equal_the_metrics_computed_directly(report, predictions, tiny_dataset):
    out, _ = report
    rows = {(r["method"], r["case"]): r for r in _rows(out / "cases.csv")}
    item = _test_cases(tiny_dataset)[0]
    perfect = rows[("perfect", _name(item))]
    assert float(perfect["dice_lv"]) == pytest.approx(1.0) and float(perfect["hd95_rv"]) == pytest.approx(0.0)
    assert float(perfect["ssim"]) == pytest.approx(1.0, abs=1e-4)
    eroded = rows[("eroded", _name(item))]
    pred, _ = load_nifti(predictions / "eroded" / f"{_name(item)}_seg.nii.gz", dtype=np.uint8)
    ref, affine = load_nifti(tiny_dataset / item["label"], dtype=np.uint8)
    direct, _ = segmentation_scores(pred, ref, np.sqrt((affine[:3, :3] ** 2).sum(0)))
    for key in ("dice_lv", "hd95_lv", "msd_lv", "dice_myo"):
        assert float(eroded[key]) == pytest.approx(direct[key], rel=1e-5)
    assert float(eroded["dice_lv"]) < 0.9


def test_other_grids_are_resampled_in_world_coordinates(report, tiny_dataset):
    out, _ = report
    rows = [r for r in _rows(out / "cases.csv") if r["method"] == "regridded"]
    assert len(rows) == len(_test_cases(tiny_dataset))
    for row in rows:  # the same anatomy on a turned grid scores close to the reference, not like a mismatch
        assert float(row["dice_lv"]) > 0.95 and float(row["dice_rv"]) > 0.95
        assert "resampled onto the reference grid" in row["notes"]


def test_report_files_skips_clinical_and_speed(report, tiny_dataset):
    out, evaluation = report
    summary = (out / "summary.md").read_text()
    assert "| perfect | 2 | 1.000 +- 0.000 | 1.000 +- 0.000 | 1.000 +- 0.000 |" in summary
    assert "| perfect | 1.50 | 321 | cpu |" in summary
    missing = _name(_test_cases(tiny_dataset)[1])
    skipped = _rows(out / "skipped.csv")
    assert [(s["method"], s["case"]) for s in skipped] == [("eroded", missing)]
    assert "no prediction" in skipped[0]["reason"] and f"eroded / {missing}" in summary
    clinical = {r["method"]: r for r in _rows(out / "clinical.csv")}
    assert float(clinical["perfect"]["err_LVEF"]) == pytest.approx(0.0)
    assert 0.3 < float(clinical["perfect"]["ref_LVEF"]) < 0.8
    for png in ("boxplots.png", "cases_00_eroded.png", "cases_01_perfect.png", "cases_02_regridded.png"):
        assert (out / "figures" / png).stat().st_size > 10_000
        assert f"figures/{png}" in summary


def test_bad_label_values_are_skipped_with_the_reason(predictions, tiny_dataset, tmp_path):
    item = _test_cases(tiny_dataset)[0]
    src = predictions / "perfect" / f"{_name(item)}_seg.nii.gz"
    img = nib.load(src)
    data = np.asarray(img.dataobj).copy()
    data[data == 3] = 4
    bad = tmp_path / "rv4"
    bad.mkdir()
    nib.save(nib.Nifti1Image(data, img.affine), bad / src.name)
    # every case skipped: an error (exit status 2 from the command line), not an empty report
    with pytest.raises(InputError, match=r"no case could be scored .*label values \[4\] outside 0-3") as info:
        evaluate(bad, tiny_dataset, tmp_path / "r1", figures=False)
    assert "--label_map" in str(info.value) and str(bad / src.name) in str(info.value)
    assert not (tmp_path / "r1").exists()
    mapped = evaluate(bad, tiny_dataset, tmp_path / "r2", figures=False, label_map={4: 3})
    assert mapped.results[0].scores["dice_rv"] == pytest.approx(1.0)
    with pytest.raises(InputError, match="--label_map must be a mapping"):
        evaluate(bad, tiny_dataset, tmp_path / "r3", label_map="{4:")


def test_non_integer_label_values_are_refused_not_rounded(predictions, tiny_dataset, tmp_path):
    item = _test_cases(tiny_dataset)[0]
    src = predictions / "perfect" / f"{_name(item)}_seg.nii.gz"
    img = nib.load(src)
    data = np.asarray(img.dataobj).astype(np.float32)
    data[data == 1] = 1.4  # would round to LV
    odd = tmp_path / "odd"
    odd.mkdir()
    nib.save(nib.Nifti1Image(data, img.affine), odd / src.name)
    shutil.copy(predictions / "perfect" / f"{_name(_test_cases(tiny_dataset)[1])}_seg.nii.gz", odd)
    evaluation = evaluate(odd, tiny_dataset, tmp_path / "r", figures=False)
    reasons = {case: reason for _, case, reason in evaluation.skipped}
    assert "non-integer label values (e.g. 1.4" in reasons[_name(item)]
    assert len(evaluation.results) == 1


def test_mismatched_names_fail_clearly_and_write_nothing(predictions, tiny_dataset, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    shutil.copy(next((predictions / "perfect").glob("*_seg.nii.gz")), wrong / "patient01_seg.nii.gz")
    with pytest.raises(InputError, match="no prediction matches a reference case by name"):
        evaluate(wrong, tiny_dataset, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="prediction folder not found"):
        evaluate(tmp_path / "absent", tiny_dataset, tmp_path / "out")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "custom_networks.evaluate",
            "--pred",
            str(wrong),
            "--ref",
            str(tiny_dataset),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "error: no prediction matches" in done.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_overwrite_never_replaces_the_working_folder(predictions, tiny_dataset, user_folder, monkeypatch, capsys):
    """X3: ``--out . --overwrite True`` in the user's folder deleted it; now one line, exit 2, nothing touched."""
    from custom_networks.evaluate.command import main

    monkeypatch.chdir(user_folder)
    before = checksums(user_folder.parent)
    with pytest.raises(SystemExit) as exit_:
        main(pred=str(predictions), ref=str(tiny_dataset), out=".", figures=False, overwrite=True)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: {user_folder}: is (or holds) the current working folder; never replaced: choose a new or empty --out"
    ]
    done = subprocess.run(
        [sys.executable, "-m", "custom_networks.evaluate", "--pred", str(predictions), "--ref", str(tiny_dataset)]
        + ["--out", ".", "--overwrite", "True"],
        cwd=user_folder,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == err
    assert checksums(user_folder.parent) == before


def test_overwrite_replaces_only_a_report_it_wrote(predictions, tiny_dataset, user_folder, tmp_path, capsys):
    from custom_networks.evaluate.command import main

    out = tmp_path / "report"
    evaluate(predictions, tiny_dataset, out, figures=False)
    (out / "stale.txt").write_text("from the first run")
    with pytest.raises(InputError, match=r"not empty \(pass --overwrite True to replace it\)"):
        evaluate(predictions, tiny_dataset, out, figures=False)
    evaluate(predictions, tiny_dataset, out, figures=False, overwrite=True)  # its own report: replaced
    assert (out / "summary.md").is_file() and not (out / "stale.txt").exists()

    capsys.readouterr()
    before = checksums(tmp_path)
    with pytest.raises(SystemExit) as exit_:  # a folder it did not write: refused, untouched
        main(pred=str(predictions), ref=str(tiny_dataset), out=str(user_folder), figures=False, overwrite=True)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {user_folder}: exists and was not written by this project (no .custom_networks_output.json); "
        "--overwrite replaces only a folder this command wrote: choose a new or empty --out"
    ]
    assert checksums(tmp_path) == before
