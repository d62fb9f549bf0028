"""The UK Biobank-style importer: one item per subject, the label optional, an unreadable label skipped."""

from __future__ import annotations

from layout_files import corrupt, nii

from custom_networks.datalists.ukbb import LAYOUT, import_ukbb, is_ukbb_subject


def test_ukbb_label_optional_and_corrupt_label_skipped(tmp_path):
    root = tmp_path / "ukbb"
    for name in ("1000001", "1000002", "1000003"):
        nii(root / name / "sa.nii.gz", (8, 8, 3, 4))
    nii(root / "1000001" / "seg_sa.nii.gz", (8, 8, 3, 4), label=True)
    corrupt(root / "1000003" / "seg_sa.nii.gz")
    items, skipped = import_ukbb(root, base_dir=tmp_path)
    assert items == [
        {"subject": "1000001", "image": "ukbb/1000001/sa.nii.gz", "label": "ukbb/1000001/seg_sa.nii.gz"},
        {"subject": "1000002", "image": "ukbb/1000002/sa.nii.gz"},
    ]
    assert [(s["subject"], s["path"]) for s in skipped] == [("1000003", "ukbb/1000003/seg_sa.nii.gz")]
    assert "unreadable NIfTI header" in skipped[0]["reason"]
    assert LAYOUT.subject_test is is_ukbb_subject and is_ukbb_subject(root / "1000002")
