"""External test cohort of a generated paired dataset: further target subjects with their source twins."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import tiny_pairs

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import load_nifti
from custom_networks.pairs import load_pairs
from custom_networks.pairs.external_test import EXTERNAL_DIR, ensure_external_test


def test_external_cohort_holds_new_subjects_with_their_twins(tmp_path_factory, tmp_path):
    pairs = tmp_path / "pairs"
    shutil.copytree(tiny_pairs(tmp_path_factory), pairs)
    items = ensure_external_test(pairs, subjects=2, progress=False)
    assert sorted(i["case"] for i in items) == ["sub-0000_ED", "sub-0000_ES", "sub-0001_ED", "sub-0001_ES"]
    paired_labels = [load_nifti(i["target_label"])[0] for i in load_pairs(pairs, "test", include_rejected=True)]
    for item in items:
        label = load_nifti(item["target_label"])[0]
        twin_label = load_nifti(item["target_twin"].replace("lr_on_hr", "hr_label"))[0]
        assert np.array_equal(label, twin_label)  # the twin is the same subject
        assert not any(np.array_equal(label, other) for other in paired_labels)  # not a subject of the paired cohort
        target, twin = load_nifti(item["target"])[0], load_nifti(item["target_twin"])[0]
        assert target.shape == twin.shape and not np.allclose(target, twin)  # another appearance
    # kept once made (the size argument does not regenerate it); the bundle reaches it as the split "external"
    record = json.loads((pairs / EXTERNAL_DIR / "items.json").read_text())
    assert record["seed"] == 2000 and len(record["items"]) == 4
    assert [i["case"] for i in load_pairs(pairs, "external")] == [i["case"] for i in items]
    assert len(ensure_external_test(pairs, subjects=5, progress=False)) == 4


def test_external_cohort_needs_a_generated_paired_dataset(tmp_path_factory, tmp_path):
    with pytest.raises(InputError, match="no paired dataset"):
        ensure_external_test(tmp_path)
    real = tmp_path / "real"
    shutil.copytree(tiny_pairs(tmp_path_factory), real, ignore=shutil.ignore_patterns("manifest.json", EXTERNAL_DIR))
    with pytest.raises(InputError, match="only for generated data"):
        ensure_external_test(real, subjects=1)
    assert not (real / EXTERNAL_DIR).exists()
    with pytest.raises(ValueError, match="split must be one of"):
        load_pairs(real, "externals")
