"""The M&Ms importer: one item per phase with the info CSV (frames and metadata), one per subject without it;
unlabelled subjects, subjects without a CSV row and frames outside the cine are skipped with the reason."""

from __future__ import annotations

import pytest
from layout_files import make_mnms, skips

from custom_networks.core.errors import InputError
from custom_networks.datalists.mnms import LAYOUT, import_mnms


@pytest.fixture
def mnms(tmp_path):
    return make_mnms(tmp_path)


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
    reasons = skips(skipped)
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


def test_the_registry_entry_takes_the_info_csv(mnms, tmp_path):
    assert LAYOUT.name == "mnms" and LAYOUT.options == ("info_csv",)
    assert len(LAYOUT(mnms, info_csv=tmp_path / "info.csv")[0]) == 4
