"""The ACDC importer: one item per subject and phase with the 0-based frame and the subject's metadata; subjects or
phases with a missing, unreadable or mismatched companion are skipped with the reason and logged."""

from __future__ import annotations

import logging

import pytest
from layout_files import make_acdc, skips

from custom_networks.datalists.acdc import LAYOUT, import_acdc, is_acdc_subject


@pytest.fixture
def acdc(tmp_path):
    return make_acdc(tmp_path)


def test_acdc_items_frames_and_metadata(acdc):
    items, skipped = import_acdc(acdc)
    got = {(i["subject"], i["phase"]): i for i in items}
    assert list(got) == [
        ("patient001", "ED"),
        ("patient001", "ES"),
        ("patient002", "ED"),
        ("patient002", "ES"),
        ("patient003", "ED"),
        ("patient005", "ES"),
        ("patient006", "ED"),
        ("patient007", "ES"),
    ]
    # Info.cfg's 1-based frame numbers become 0-based frames of the 4D cine
    assert [got["patient001", p]["frame"] for p in ("ED", "ES")] == [0, 2]
    assert [got["patient002", p]["frame"] for p in ("ED", "ES")] == [1, 3]
    first = got["patient001", "ED"]
    assert first["image"] == str(acdc / "patient001" / "patient001_frame01.nii.gz")
    assert first["label"] == str(acdc / "patient001" / "patient001_frame01_gt.nii.gz")
    assert first["cine"] == str(acdc / "patient001" / "patient001_4d.nii.gz")
    assert (first["group"], first["height_cm"], first["weight_kg"]) == ("DCM", 184.0, 95.0)
    assert "cine" not in got["patient002", "ED"] and got["patient002", "ES"]["group"] == "NOR"
    reasons = skips(skipped)
    assert set(reasons) == {
        ("patient003", "ES"),
        ("patient004", None),
        ("patient005", "ED"),
        ("patient006", "ES"),
        ("patient007", "ED"),
    }
    assert "no label patient003_frame02_gt.nii.gz" in reasons["patient003", "ES"]
    assert (
        reasons["patient004", None].startswith(str(acdc / "patient004"))
        and "no Info.cfg" in reasons["patient004", None]
    )
    assert reasons["patient005", "ED"].startswith(str(acdc / "patient005" / "patient005_frame01_gt.nii.gz"))
    assert "unreadable NIfTI header" in reasons["patient005", "ED"]
    assert "ES frame 9 beyond the cine's 2 frames" in reasons["patient006", "ES"]
    assert "shape (8, 8, 4) differs from its image's (8, 8, 3)" in reasons["patient007", "ED"]
    skipped_paths = {s["subject"]: s["path"] for s in skipped}
    assert skipped_paths["patient004"] == str(acdc / "patient004")


def test_skipped_subjects_are_logged(acdc, caplog):
    with caplog.at_level(logging.WARNING, logger="custom_networks.datalists"):
        import_acdc(acdc)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 5 and any("patient004" in m and "no Info.cfg" in m for m in warned)


def test_the_registry_entry_recognises_subject_folders(acdc):
    assert LAYOUT.name == "acdc" and LAYOUT.subject_test is is_acdc_subject
    assert is_acdc_subject(acdc / "patient004") and not is_acdc_subject(acdc / "notes")
    items = import_acdc(acdc)[0]
    assert LAYOUT(acdc)[0] == items and all(item["label_map"] == {"1": 3, "3": 1} for item in items)


def test_acdc_labels_are_read_in_the_project_convention(acdc):
    """ACDC writes 1 RV, 3 LV blood pool: a training run reading the layout's datalist gets 1 LV, 3 RV."""
    import nibabel as nib
    import numpy as np

    from custom_networks.transforms import LoadManualLabeld

    item = next(i for i in LAYOUT(acdc)[0] if i["subject"] == "patient001" and i["phase"] == "ED")
    acdc_values = np.zeros((8, 8, 3), np.uint8)
    acdc_values[1:3, 1:3] = 1  # ACDC RV
    acdc_values[4:6, 4:6] = 3  # ACDC LV blood pool
    acdc_values[6, 6] = 2  # myocardium
    nib.save(nib.Nifti1Image(acdc_values, nib.load(item["label"]).affine), item["label"])
    label = np.asarray(LoadManualLabeld("label")(item)["label"])
    assert (label[1:3, 1:3] == 3).all() and (label[4:6, 4:6] == 1).all() and label[6, 6, 0] == 2
