"""Finding and reading the real labelled sets: full and partial annotations, and the bad inputs that are skipped
with a reason (image without label, label on another grid, empty label, labelled-slices file that does not fit)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import real_data_path

from custom_networks.evaluate.real_sets import find_real_cases, load_real_case
from custom_networks.utils.nifti import InputError, save_nifti

AFFINE = np.diag([1.5, 1.5, 10.0, 1.0])


def _case(folder, name, label=None, image_shape=(20, 18, 6), label_affine=AFFINE):
    image = np.random.default_rng(0).normal(100, 10, image_shape).astype(np.float32)
    if label is None:
        label = np.zeros(image_shape, np.uint8)
        label[5:10, 5:10, 1:5] = 1
        label[12:16, 5:10, 1:5] = 3
    save_nifti(image, AFFINE, folder / f"{name}_image.nii.gz")
    save_nifti(label, label_affine, folder / f"{name}_gt.nii.gz", label=True)


def test_find_and_load_full_and_partial_annotations(tmp_path):
    _case(tmp_path / "setA", "s1_ED")
    _case(tmp_path / "setA", "s1_ES")
    _case(tmp_path / "setB", "s2_ED")
    (tmp_path / "setB" / "s2_ED_labelled_slices.json").write_text(
        json.dumps({"labelled_slices_by_label": {"1": [1, 2, 3]}, "slice_axis": 2})
    )
    save_nifti(np.ones((4, 4, 4), np.float32), AFFINE, tmp_path / "setB" / "lonely_image.nii.gz")
    cases, skipped = find_real_cases(tmp_path)
    assert [(c.set, c.name, c.subject, c.phase) for c in cases] == [
        ("setA", "s1_ED", "s1", "ED"),
        ("setA", "s1_ES", "s1", "ES"),
        ("setB", "s2_ED", "s2", "ED"),
    ]
    assert skipped == [{"set": "setB", "case": "lonely", "reason": f"{tmp_path / 'setB' / 'lonely_image.nii.gz'}: "
                        "no manual label (_gt)"}]  # fmt: skip
    _, _, _, full = load_real_case(cases[0])
    assert all(full.slice_mask(c).all() for c in (1, 2, 3))
    _, _, _, partial = load_real_case(cases[2])
    assert partial.slice_mask(1).tolist() == [False, True, True, True, False, False]
    assert not partial.labelled(2) and not partial.labelled(3)
    with pytest.raises(InputError, match="set folder not found"):
        find_real_cases(tmp_path, ["nope"])


def test_bad_cases_are_refused_with_the_file_named(tmp_path):
    _case(tmp_path / "s", "grid_ED", label_affine=np.diag([1.5, 1.5, 8.0, 1.0]))
    _case(tmp_path / "s", "empty_ED", label=np.zeros((20, 18, 6), np.uint8))
    _case(tmp_path / "s", "json_ED")
    (tmp_path / "s" / "json_ED_labelled_slices.json").write_text(json.dumps({"labelled_slices_by_label": {"1": [9]}}))
    cases = {c.name: c for c in find_real_cases(tmp_path)[0]}
    with pytest.raises(InputError, match="grid_ED_gt.nii.gz: grid .* differs from its image"):
        load_real_case(cases["grid_ED"])
    with pytest.raises(InputError, match="empty_ED_gt.nii.gz: manual label is empty"):
        load_real_case(cases["empty_ED"])
    with pytest.raises(InputError, match="json_ED_labelled_slices.json: slice 9 outside"):
        load_real_case(cases["json_ED"])


@pytest.mark.realdata
def test_real_labelled_folder_reads():
    """Every case of the real labelled sets reads; Sunnybrook never labels the RV and labels no myocardium at ES."""
    cases, skipped = find_real_cases(real_data_path("real_labelled"))
    assert not skipped
    assert {c.set for c in cases} == {"acdc", "mnms", "sunnybrook"}
    assert sum(c.set == "acdc" for c in cases) == 60
    sunny = {c.name: load_real_case(c)[3] for c in cases if c.set == "sunnybrook"}
    assert not any(a.labelled(3) for a in sunny.values())
    assert sunny["SCD0000101_ED"].labelled(2) and not sunny["SCD0000101_ES"].labelled(2)
    assert sunny["SCD0000101_ED"].slice_mask(1).nonzero()[0].tolist() == list(range(1, 10))
