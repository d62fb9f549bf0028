"""Importers of the cardiac MR folder layouts (ACDC, M&Ms, UK Biobank, DICOM, flat): the items they give (subjects,
phases, 0-based frames, labels present or absent, metadata), the subjects or phases they skip with a reason, layout
detection, MONAI loading of the written datalist, and the errors for a missing or empty root."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from conftest import real_data_path
from monai.data import load_decathlon_datalist

from custom_networks.datalists import (
    LAYOUTS,
    build_datalist,
    build_file,
    detect_layout,
    import_acdc,
    import_dicom,
    import_flat,
    import_mnms,
    import_ukbb,
)
from custom_networks.utils import InputError

AFFINE = np.diag([1.5, 1.5, 8.0, 1.0])


def _nii(path: Path, shape=(8, 8, 3), label: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.zeros(shape, np.uint8 if label else np.int16), AFFINE), str(path))
    return path


def _corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a NIfTI file")
    return path


def _skips(skipped: list[dict]) -> dict[tuple[str, str | None], str]:
    return {(s["subject"], s.get("phase")): s["reason"] for s in skipped}


# ------------------------------------------------------------------------------------------------------------ ACDC


def _acdc_patient(root: Path, name: str, ed: int, es: int, cfg: bool = True, cine: int | None = 4, group="DCM"):
    folder = root / name
    folder.mkdir(parents=True)
    if cfg:
        (folder / "Info.cfg").write_text(
            f"ED: {ed}\nES: {es}\nGroup: {group}\nHeight: 184.0\nNbFrame: {cine or 30}\nWeight: 95.0\n"
        )
    if cine:
        _nii(folder / f"{name}_4d.nii.gz", (8, 8, 3, cine))
    for number in (ed, es):
        _nii(folder / f"{name}_frame{number:02d}.nii.gz")
        _nii(folder / f"{name}_frame{number:02d}_gt.nii.gz", label=True)
    return folder


@pytest.fixture
def acdc(tmp_path) -> Path:
    root = tmp_path / "acdc"
    _acdc_patient(root, "patient001", 1, 3)
    _acdc_patient(root, "patient002", 2, 4, cine=None, group="NOR")
    (_acdc_patient(root, "patient003", 1, 2) / "patient003_frame02_gt.nii.gz").unlink()  # ES label missing
    _acdc_patient(root, "patient004", 1, 2, cfg=False)  # no Info.cfg
    _corrupt(_acdc_patient(root, "patient005", 1, 2) / "patient005_frame01_gt.nii.gz")  # ED label corrupt
    folder = _acdc_patient(root, "patient006", 1, 2, cine=2)
    (folder / "Info.cfg").write_text("ED: 1\nES: 9\nGroup: MINF\n")  # ES beyond the 2 frames of the cine
    _nii(_acdc_patient(root, "patient007", 1, 2) / "patient007_frame01_gt.nii.gz", (8, 8, 4), label=True)
    (root / "notes").mkdir()  # not a subject folder: ignored
    return root


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
    reasons = _skips(skipped)
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


def test_paths_relative_to_base_and_loaded_by_monai(acdc, tmp_path):
    out = tmp_path / "lists" / "acdc.json"
    path, datalist = build_file(acdc, out)
    assert path == out and datalist["layout"] == "acdc" and datalist["root"] == "../acdc"
    assert (datalist["numItems"], datalist["numSubjects"], datalist["numSkipped"]) == (8, 6, 5)
    assert datalist["items"][0]["image"] == "../acdc/patient001/patient001_frame01.nii.gz"
    loaded = load_decathlon_datalist(out, data_list_key="items")
    assert len(loaded) == 8
    for item in loaded:
        assert os.path.isfile(item["image"]) and os.path.isfile(item["label"])
    assert loaded[0]["cine"] == str(acdc / "patient001" / "patient001_4d.nii.gz")
    assert loaded[0]["subject"] == "patient001"  # the datalist lies outside the image folders: names stay names


def test_warns_when_monai_would_turn_names_into_paths(acdc, caplog):
    with caplog.at_level(logging.WARNING, logger="custom_networks.datalists"):
        datalist = build_datalist(acdc, base_dir=acdc)
    assert datalist["items"][0]["image"] == "patient001/patient001_frame01.nii.gz"
    assert any("load_decathlon_datalist would turn them into paths" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------------------------------------------ M&Ms

MNMS_CSV = (
    ",External code,VendorName,Vendor,Centre,ED,ES\n"
    "0,A1D0Q7,Siemens,A,1,0,3\n"
    "1,B2E1R8,Philips,B,2,1,4\n"
    "2,E5H4U1,GE,C,3,0,7\n"
)


@pytest.fixture
def mnms(tmp_path) -> Path:
    root = tmp_path / "mnms"
    for name in ("A1D0Q7", "B2E1R8", "C3F2S9", "D4G3T0", "E5H4U1"):
        _nii(root / name / f"{name}_sa.nii.gz", (8, 8, 3, 5))
        if name != "C3F2S9":  # an unlabelled subject
            _nii(root / name / f"{name}_sa_gt.nii.gz", (8, 8, 3, 5), label=True)
    (tmp_path / "info.csv").write_text(MNMS_CSV)
    return root


def test_mnms_with_info_csv_gives_one_item_per_phase(mnms, tmp_path):
    items, skipped = import_mnms(mnms, info_csv=tmp_path / "info.csv", base_dir=mnms)
    assert [(i["subject"], i["phase"], i["frame"]) for i in items] == [
        ("A1D0Q7", "ED", 0),
        ("A1D0Q7", "ES", 3),
        ("B2E1R8", "ED", 1),
        ("B2E1R8", "ES", 4),
    ]
    assert items[0]["image"] == "A1D0Q7/A1D0Q7_sa.nii.gz" and items[0]["label"] == "A1D0Q7/A1D0Q7_sa_gt.nii.gz"
    assert (items[2]["vendor"], items[2]["vendor_name"], items[2]["centre"]) == ("B", "Philips", "2")
    reasons = _skips(skipped)
    assert set(reasons) == {("C3F2S9", None), ("D4G3T0", None), ("E5H4U1", None)}
    assert "no label C3F2S9_sa_gt.nii.gz" in reasons["C3F2S9", None]
    assert reasons["D4G3T0", None].startswith(str(tmp_path / "info.csv")) and "no row" in reasons["D4G3T0", None]
    assert "ES frame 7 beyond the 5 frames" in reasons["E5H4U1", None]


def test_mnms_without_info_csv_gives_one_item_per_subject(mnms):
    items, skipped = import_mnms(mnms)
    assert [i["subject"] for i in items] == ["A1D0Q7", "B2E1R8", "D4G3T0", "E5H4U1"]
    assert all("phase" not in i and "frame" not in i and i["label"].endswith("_sa_gt.nii.gz") for i in items)
    assert [s["subject"] for s in skipped] == ["C3F2S9"]


def test_mnms_info_csv_errors(mnms, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("External code,ED\nA1D0Q7,0\n")
    with pytest.raises(InputError, match=rf"^{bad}: no column 'ES'"):
        import_mnms(mnms, info_csv=bad)
    with pytest.raises(InputError, match=r"missing.csv: info CSV not found"):
        import_mnms(mnms, info_csv=tmp_path / "missing.csv")
    with pytest.raises(InputError, match="only the mnms layout reads an info CSV"):
        build_datalist(mnms, layout="ukbb", info_csv=tmp_path / "info.csv")


# ------------------------------------------------------------------------------------------------------------ UKBB


def test_ukbb_label_optional_and_corrupt_label_skipped(tmp_path):
    root = tmp_path / "ukbb"
    for name in ("1000001", "1000002", "1000003"):
        _nii(root / name / "sa.nii.gz", (8, 8, 3, 4))
    _nii(root / "1000001" / "seg_sa.nii.gz", (8, 8, 3, 4), label=True)
    _corrupt(root / "1000003" / "seg_sa.nii.gz")
    items, skipped = import_ukbb(root, base_dir=tmp_path)
    assert items == [
        {"subject": "1000001", "image": "ukbb/1000001/sa.nii.gz", "label": "ukbb/1000001/seg_sa.nii.gz"},
        {"subject": "1000002", "image": "ukbb/1000002/sa.nii.gz"},
    ]
    assert [(s["subject"], s["path"]) for s in skipped] == [("1000003", "ukbb/1000003/seg_sa.nii.gz")]
    assert "unreadable NIfTI header" in skipped[0]["reason"]


# ----------------------------------------------------------------------------------------------------------- DICOM


def test_dicom_study_tree(tmp_path):
    from conftest import write_dicom_cine, write_dicom_slice

    root = tmp_path / "dicom"
    cine = np.arange(8 * 8 * 3 * 2).reshape(8, 8, 3, 2) % 50
    write_dicom_cine(root / "subjA" / "cine", cine, AFFINE)
    two = root / "subjB" / "study1" / "sa"
    write_dicom_cine(two, cine, AFFINE)
    direction = np.diag([-1.0, -1.0, 1.0])
    tags = {"0020|000e": "1.2.826.0.1.3680043.2.1125.99", "0018|1060": "0", "0020|0013": "1"}
    write_dicom_slice(two / "localiser", np.zeros((8, 8)), [0.0, 0.0, 50.0], direction, [1.5, 1.5, 8.0], tags)
    bad = root / "subjC" / "cine"
    write_dicom_cine(bad, cine, AFFINE)
    (bad / "zz_junk.dat").write_bytes(b"\x00not dicom")
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not DICOM")
    items, skipped = import_dicom(root, base_dir=root)
    assert [(i["subject"], i["image"], i.get("series")) for i in items] == [
        ("subjA", "subjA/cine", None),
        ("subjB", "subjB/study1/sa", "1.2.826.0.1.3680043.2.1125.7"),
        ("subjB", "subjB/study1/sa", "1.2.826.0.1.3680043.2.1125.99"),
    ]
    assert [(s["subject"], s["path"]) for s in skipped] == [("subjC", "subjC/cine")]
    assert "not readable DICOM" in skipped[0]["reason"] and skipped[0]["reason"].startswith(str(bad))
    assert detect_layout(root) == "dicom"


# ------------------------------------------------------------------------------------------------------------ flat


@pytest.fixture
def flat(tmp_path) -> Path:
    root = tmp_path / "flatset"
    for case in ("s01_ED", "s01_ES", "s02_ED", "s03"):
        _nii(root / f"{case}_image.nii.gz")
        _nii(root / f"{case}_gt.nii.gz", label=True)
    _nii(root / "s02_ES_image.nii.gz")  # no label
    _nii(root / "s04_ED_image.nii.gz")
    _nii(root / "s04_ED_gt.nii.gz", (8, 8, 5), label=True)  # another grid
    return root


def test_flat_subjects_and_phases(flat):
    items, skipped = import_flat(flat, base_dir=flat)
    assert [(i["subject"], i.get("phase"), i["case"]) for i in items] == [
        ("s01", "ED", "s01_ED"),
        ("s01", "ES", "s01_ES"),
        ("s02", "ED", "s02_ED"),
        ("s03", None, "s03"),
    ]
    assert items[0]["image"] == "s01_ED_image.nii.gz" and items[0]["label"] == "s01_ED_gt.nii.gz"
    reasons = _skips(skipped)
    assert set(reasons) == {("s02", "ES"), ("s04", "ED")}
    assert "no manual label" in reasons["s02", "ES"] and "shape (8, 8, 5)" in reasons["s04", "ED"]
    assert {s["path"] for s in skipped} == {"s02_ES_image.nii.gz", "s04_ED_gt.nii.gz"}


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


# ------------------------------------------------------------------------------------------------ detect / errors


def test_detect_layout(acdc, mnms, flat, tmp_path):
    assert detect_layout(acdc) == "acdc"
    assert detect_layout(mnms) == "mnms"
    assert detect_layout(flat) == "flat"
    ukbb = tmp_path / "ukbb"
    _nii(ukbb / "1000001" / "sa.nii.gz", (8, 8, 3, 4))
    assert detect_layout(ukbb) == "ukbb"
    assert build_datalist(ukbb)["layout"] == "ukbb"
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    with pytest.raises(InputError, match=rf"^{empty}: no known layout"):
        detect_layout(empty)
    _nii(acdc / "1000001" / "sa.nii.gz")
    with pytest.raises(InputError, match=r"several layouts \(acdc, ukbb\)"):
        detect_layout(acdc)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_missing_or_empty_root_is_refused(layout, tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(InputError, match=rf"^{missing}: folder not found"):
        LAYOUTS[layout](missing)
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("nothing here")
    with pytest.raises(InputError, match=rf"^{empty}: no "):
        LAYOUTS[layout](empty)


def test_all_subjects_skipped_is_refused(tmp_path):
    root = tmp_path / "mnms"
    _nii(root / "A1" / "A1_sa.nii.gz", (8, 8, 3, 5))
    with pytest.raises(InputError, match=r"no usable item: all 1 subjects or phases skipped \(first: .*no label"):
        build_datalist(root)
    with pytest.raises(InputError, match="--layout 'nifti': unknown layout"):
        build_datalist(root, layout="nifti")
