"""Paired source/target data of the V-AMA bundle (``custom_networks.pairs.domain_pairs``): generation, rigid alignment
of each source subject onto its target subject, rejection of failed registrations, loading for the configs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import dice, tiny_pairs

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import resample_to_grid
from custom_networks.core.nifti import load_nifti
from custom_networks.pairs import domain_pairs, ensure_paired_dataset, load_pairs, pair_datasets
from custom_networks.registration import label_dice


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory) -> Path:
    return tiny_pairs(tmp_path_factory)


def test_layout_splits_and_pairing(pairs_dir):
    pairs = json.loads((pairs_dir / "pairs.json").read_text())
    assert (pairs_dir / "source" / "dataset.json").is_file() and (pairs_dir / "target_a" / "dataset.json").is_file()
    assert pairs["numRejected"] == 0, pairs["rejected"]
    source = json.loads((pairs_dir / "source" / "dataset.json").read_text())
    target = json.loads((pairs_dir / "target_a" / "dataset.json").read_text())
    assert target["domain"] == "target_a" and source["domain"] == "source"
    # different seeds: other subjects (other anatomy), as for two real cohorts
    manifest_s = json.loads((pairs_dir / "source" / "manifest.json").read_text())
    manifest_t = json.loads((pairs_dir / "target_a" / "manifest.json").read_text())
    assert manifest_s["arguments"]["seed"] != manifest_t["arguments"]["seed"]
    for split in ("training", "validation", "test"):
        items = pairs[split]
        assert len(items) == 2  # one subject per split, ED and ES
        source_split = {f"{i['subject']}_{i['phase']}" for i in source[split]}
        for item in items:
            assert item["source_case"] in source_split  # same split
            assert item["source_case"].split("_")[1] == item["case"].split("_")[1]  # same phase
            reg = item["registration"]
            assert reg["converged"] and reg["method"] == "landmarks+intensity"
            assert (pairs_dir / reg["transform"]).is_file()
            # the deformable refinement starts from the rigid overlap and raises it (or is not used)
            warp = reg["deformable"]
            assert warp["dice_before"] == pytest.approx(reg["dice_after"], abs=1e-4)
            assert warp["used"] and warp["dice_after"] > warp["dice_before"] + 0.05, warp
            for key in ("source", "source_label", "target", "target_label", "target_hr_image", "target_lr_image"):
                assert not Path(item[key]).is_absolute() and (pairs_dir / item[key]).is_file(), key
    # no staging folder left behind
    assert not [p for p in pairs_dir.parent.iterdir() if p.name.startswith(".vama_tiny_pairs")]


def test_aligned_source_overlays_the_target(pairs_dir):
    """On the target grid the aligned source label map overlaps the target's far better than the source subject as
    it lies in world space (different subjects: not perfectly)."""
    for item in load_pairs(pairs_dir, "training") + load_pairs(pairs_dir, "test"):
        target_label, affine = load_nifti(item["target_label"])
        aligned_label, aligned_affine = load_nifti(item["source_label"])
        np.testing.assert_allclose(aligned_affine, affine, atol=1e-5)  # written on the target grid
        aligned_image, image_affine = load_nifti(item["source"])
        assert aligned_image.shape == target_label.shape
        np.testing.assert_allclose(image_affine, affine, atol=1e-5)
        source_case = item["source_case"].replace("_", "/")
        raw, raw_affine = load_nifti(pairs_dir / "source" / source_case / "hr_label.nii.gz")
        unaligned = resample_to_grid(raw.astype(np.uint8), raw_affine, target_label.shape, affine, order=0)
        before = dice(unaligned > 0, target_label > 0)
        after = dice(aligned_label > 0, target_label > 0)
        assert after > before + 0.15 and after > 0.75, (item["case"], before, after)


def test_load_pairs_gives_absolute_paths_without_nested_records(pairs_dir):
    items = load_pairs(pairs_dir, "validation")
    assert len(items) == 2 and all("registration" not in i for i in items)
    assert all(Path(i["source"]).is_absolute() and Path(i["source"]).is_file() for i in items)
    assert "registration" in load_pairs(pairs_dir, "validation", with_registration=True)[0]
    with pytest.raises(ValueError, match="split must be one of"):
        load_pairs(pairs_dir, "train")
    # an existing folder that is not a paired dataset is never overwritten
    with pytest.raises(InputError, match="no pairs.json"):
        ensure_paired_dataset(pairs_dir / "source")


def _one_pair_datasets(pairs_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A source and a target dataset of one training case each (files of the tiny paired dataset)."""
    folders = []
    for name in ("source", "target_a"):
        data = json.loads((pairs_dir / name / "dataset.json").read_text())
        item = {
            k: (f"../{name}/{v}" if k in ("image", "label", "hr_image", "lr_image") else v)
            for k, v in data["training"][0].items()
        }
        folder = tmp_path / f"one_{name}"
        folder.mkdir()
        (folder / "dataset.json").write_text(json.dumps({"training": [item], "validation": [], "test": []}))
        folders.append(folder)
    for name in ("source", "target_a"):  # the relative paths above resolve from tmp_path
        (tmp_path / name).symlink_to(pairs_dir / name)
    return folders[0], folders[1]


def test_non_converged_registrations_are_recorded_and_dropped(pairs_dir, tmp_path):
    source, target = _one_pair_datasets(pairs_dir, tmp_path)
    # the optimiser stops at its iteration limit: not converged
    out = pair_datasets(source, target, tmp_path / "limit", registration={"iterations": 1}, progress=False)
    pairs = json.loads((out / "pairs.json").read_text())
    assert pairs["training"] == [] and pairs["numRejected"] == 1
    rejected = pairs["rejected"][0]
    assert rejected["split"] == "training" and rejected["registration"]["converged"] is False
    assert "iteration limit" in rejected["registration"]["stop_reason"]
    with pytest.raises(InputError, match="1 rejected"):
        load_pairs(out, "training")
    assert load_pairs(out, "training", include_rejected=True)[0]["case"] == rejected["case"]
    # a converged optimiser whose result leaves the hearts apart is rejected by the label-overlap check
    out = pair_datasets(source, target, tmp_path / "dice", min_label_dice=0.99, progress=False)
    reason = json.loads((out / "pairs.json").read_text())["rejected"][0]["registration"]["stop_reason"]
    assert "aligned label Dice" in reason


def test_rigid_only_pairing_keeps_the_rigid_overlap(pairs_dir, tmp_path):
    """deformable=False writes the rigidly aligned source: lower overlap than the refined one, no warp record."""
    source, target = _one_pair_datasets(pairs_dir, tmp_path)
    out = pair_datasets(source, target, tmp_path / "rigid", deformable=False, progress=False)
    pairs = json.loads((out / "pairs.json").read_text())
    assert pairs["deformable"] is False
    item = pairs["training"][0]
    assert "deformable" not in item["registration"]
    refined = json.loads((pairs_dir / "pairs.json").read_text())
    refined = next(i for i in refined["training"] if i["case"] == item["case"])
    rigid_label = load_nifti(out / item["source_label"])[0]
    target_label = load_nifti(out / item["target_label"])[0]
    rigid = label_dice(np.rint(rigid_label), np.rint(target_label))
    assert rigid == pytest.approx(item["registration"]["dice_after"], abs=1e-4)
    assert refined["registration"]["deformable"]["dice_after"] > rigid + 0.05


def test_failed_pair_is_logged_and_only_that_one_dropped(pairs_dir, tmp_path, monkeypatch, caplog):
    """Bookkeeping with a stand-in registration: every pair is kept except the non-converged one."""
    real = domain_pairs.align_pair

    def fake_align_pair(fixed, moving, out, **kwargs):
        result = real(fixed, moving, out, refine=False, **kwargs)  # landmark fit only: fast
        result.converged = "sub-0002" not in str(fixed)
        return result

    monkeypatch.setattr(domain_pairs, "align_pair", fake_align_pair)
    target = pairs_dir / "target_a"
    with caplog.at_level("WARNING"):
        out = pair_datasets(pairs_dir / "source", target, tmp_path / "pairs", progress=False)
    pairs = json.loads((out / "pairs.json").read_text())
    kept = [i["case"] for split in ("training", "validation", "test") for i in pairs[split]]
    dropped = [i["case"] for i in pairs["rejected"]]
    assert dropped and all(c.startswith("sub-0002") for c in dropped)
    assert len(kept) + len(dropped) == 6 and not any(c.startswith("sub-0002") for c in kept)
    assert any("did not converge" in r.getMessage() and "pair dropped" in r.getMessage() for r in caplog.records)
