"""The DICOM study-tree importer: one item per folder of DICOM files (per series when several), the subject the
first folder under the root, folders with files that are not DICOM skipped; the layout is found by walking the tree."""

from __future__ import annotations

import numpy as np
from layout_files import AFFINE

from custom_networks.datalists.dicom import LAYOUT, dicom_folders, import_dicom
from custom_networks.datalists.registry import detect_layout


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
    assert dicom_folders(root, first_only=True) == [root / "subjA" / "cine"]
    assert LAYOUT.tree_test is not None and LAYOUT.subject_test is None
