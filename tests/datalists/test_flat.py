"""The flat layout of the real labelled sets: finding the cases (full and partial annotations, cines beside them),
reading one with its set's declared label map, the bad inputs refused or skipped with a reason (image without label,
label on another grid, empty label, labelled-slices file that does not fit), and its datalist items."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import real_data_path
from layout_files import make_flat, skips

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import save_nifti
from custom_networks.datalists.base import RealSet
from custom_networks.datalists.flat import LAYOUT, find_real_cases, import_flat, is_flat, load_real_case
from custom_networks.datalists.registry import REAL_SETS, detect_layout

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


def test_a_set_declares_its_label_map_and_a_subject_its_cine(tmp_path, monkeypatch):
    rv4 = np.zeros((20, 18, 6), np.uint8)
    rv4[5:10, 5:10, 1:5] = 1
    rv4[12:16, 5:10, 1:5] = 4
    _case(tmp_path / "rv4set", "p1_ED", label=rv4)
    save_nifti(np.zeros((20, 18, 6, 3), np.float32), AFFINE, tmp_path / "rv4set" / "p1_cine.nii.gz")
    (case,) = find_real_cases(tmp_path)[0]
    assert case.cine == tmp_path / "rv4set" / "p1_cine.nii.gz" and case.label_map == {}
    with pytest.raises(InputError, match=r"label values \[4\] outside 0-3"):
        load_real_case(case)
    monkeypatch.setitem(REAL_SETS, "rv4set", RealSet("rv4set", "Someone et al.", "CC0", label_map={4: 3}))
    _, label, _, _ = load_real_case(case)
    assert sorted(np.unique(label).tolist()) == [0, 1, 3] and (label == 3).sum() == (rv4 == 4).sum()


def test_flat_subjects_and_phases(tmp_path):
    flat = make_flat(tmp_path)
    items, skipped = import_flat(flat, base_dir=flat)
    assert [(i["subject"], i.get("phase"), i["case"]) for i in items] == [
        ("s01", "ED", "s01_ED"),
        ("s01", "ES", "s01_ES"),
        ("s02", "ED", "s02_ED"),
        ("s03", None, "s03"),
    ]
    assert items[0]["image"] == "s01_ED_image.nii.gz" and items[0]["label"] == "s01_ED_gt.nii.gz"
    reasons = skips(skipped)
    assert set(reasons) == {("s02", "ES"), ("s04", "ED")}
    assert "no manual label" in reasons["s02", "ES"] and "shape (8, 8, 5)" in reasons["s04", "ED"]
    assert {s["path"] for s in skipped} == {"s02_ES_image.nii.gz", "s04_ED_gt.nii.gz"}
    assert LAYOUT.root_test is is_flat and is_flat(flat) and not is_flat(tmp_path)


@pytest.mark.realdata
def test_real_acdc_flat_folder():
    root = real_data_path("real_labelled", "acdc")
    assert detect_layout(root) == "flat"
    items, skipped = import_flat(root)
    assert skipped == [] and len(items) == 60
    assert len({i["subject"] for i in items}) == 30
    assert sorted({i["phase"] for i in items}) == ["ED", "ES"]
    assert sum(i["phase"] == "ED" for i in items) == 30
    assert all(i["image"].endswith("_image.nii.gz") and i["label"].endswith("_gt.nii.gz") for i in items)


@pytest.mark.realdata
def test_real_labelled_folder_reads():
    """Every case of the real labelled sets reads; Sunnybrook never labels the RV and labels no myocardium at ES."""
    cases, skipped = find_real_cases(real_data_path("real_labelled"))
    assert not skipped
    assert {c.set for c in cases} == {"acdc", "mnms", "sunnybrook"} == set(REAL_SETS)
    assert sum(c.set == "acdc" for c in cases) == 60
    sunny = {c.name: load_real_case(c)[3] for c in cases if c.set == "sunnybrook"}
    assert not any(a.labelled(3) for a in sunny.values())
    assert sunny["SCD0000101_ED"].labelled(2) and not sunny["SCD0000101_ES"].labelled(2)
    assert sunny["SCD0000101_ED"].slice_mask(1).nonzero()[0].tolist() == list(range(1, 10))
    assert {c.cine.name for c in cases if c.cine is not None} == {"SCD0000101_cine.nii.gz", "SCD0000201_cine.nii.gz"}
