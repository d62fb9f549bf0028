"""Source twins of a generated target cohort: the same subjects rendered in the source domain."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import tiny_pairs

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import load_nifti
from custom_networks.pairs import load_pairs
from custom_networks.pairs.source_twins import TWIN_DIR, add_source_twins


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    return tiny_pairs(tmp_path_factory)


def test_twins_are_the_target_subjects_in_source_appearance(pairs_dir):
    items = load_pairs(pairs_dir, "test", include_rejected=True, source_twins=True)
    assert items
    for item in items:
        target, target_affine = load_nifti(item["target"])
        twin, twin_affine = load_nifti(item["target_twin"])
        # same grid, same anatomy (label maps of the HR images), another appearance
        np.testing.assert_allclose(twin_affine, target_affine, atol=1e-4)
        assert twin.shape == target.shape
        hr_twin_label = load_nifti(item["target_twin"].replace("lr_on_hr", "hr_label"))[0]
        assert np.array_equal(hr_twin_label, load_nifti(item["target_label"])[0])
        blood, myo = hr_twin_label == 1, hr_twin_label == 2
        # source preset: brighter blood pool relative to the myocardium than target_a (1.0 / 0.3 vs 0.85 / 0.38)
        assert twin[blood].mean() / twin[myo].mean() > 1.2 * target[blood].mean() / target[myo].mean()
        assert load_nifti(item["target_twin_hr_image"])[0].shape == target.shape


def test_twins_added_to_a_dataset_made_without_them(pairs_dir, tmp_path):
    old = tmp_path / "pairs"
    shutil.copytree(pairs_dir, old, ignore=shutil.ignore_patterns(TWIN_DIR))
    pairs = json.loads((old / "pairs.json").read_text())
    for split in ("training", "validation", "test", "rejected"):
        for item in pairs[split]:
            item.pop("target_twin", None)
            item.pop("target_twin_hr_image", None)
    (old / "pairs.json").write_text(json.dumps(pairs))
    assert "target_twin" not in load_pairs(old, "test")[0]
    items = load_pairs(old, "test", source_twins=True)
    assert all((old / TWIN_DIR).as_posix() in item["target_twin"] for item in items)
    before = (old / "pairs.json").stat().st_mtime_ns
    add_source_twins(old)  # already there: nothing to do
    assert (old / "pairs.json").stat().st_mtime_ns == before


def test_twins_need_a_generated_target_cohort(pairs_dir, tmp_path):
    with pytest.raises(InputError, match="no paired dataset"):
        add_source_twins(tmp_path)
    real = tmp_path / "real"
    shutil.copytree(pairs_dir, real, ignore=shutil.ignore_patterns(TWIN_DIR, "manifest.json"))
    pairs = json.loads((real / "pairs.json").read_text())
    pairs["test"][0].pop("target_twin")
    (real / "pairs.json").write_text(json.dumps(pairs))
    with pytest.raises(InputError, match="generated target cohort"):
        add_source_twins(real)
