"""SaveNiftid: outputs in world coordinates, and a label map that misses the heart is said, never silent."""

from __future__ import annotations

import csv
import logging

import nibabel as nib
import numpy as np
import torch
from monai.data import MetaTensor

from custom_networks.transforms import SaveNiftid

AFFINE = np.diag([1.25, 1.25, 2.0, 1.0])


def _item(labels, source):
    pred = MetaTensor(torch.as_tensor(labels[None].astype(np.float32)), affine=torch.as_tensor(AFFINE))
    pred.meta["filename_or_obj"] = source
    return {"pred": pred}


def test_empty_and_partial_label_maps_are_written_with_a_warning(tmp_path, caplog):
    save = SaveNiftid("pred", output_dir=str(tmp_path), postfixes=["seg"])
    full = np.zeros((8, 8, 4), np.uint8)
    full[1:3, 1:3, 1] = 1
    full[3:5, 1:3, 1] = 2
    full[5:7, 1:3, 1] = 3
    lv_only = np.where(full == 1, 1, 0).astype(np.uint8)
    with caplog.at_level(logging.WARNING):
        save(_item(full, "/data/good.nii.gz"))
        save(_item(np.zeros((8, 8, 4), np.uint8), "/data/empty.nii.gz"))
        save(_item(lv_only, "/data/lv_only.nii.gz"))
    for name in ("good", "empty", "lv_only"):
        written = nib.load(tmp_path / f"{name}_seg.nii.gz")
        np.testing.assert_allclose(written.affine, AFFINE)
    assert "/data/empty.nii.gz: no heart found" in caplog.text
    assert "/data/good.nii.gz" not in caplog.text
    with open(tmp_path / "warnings.csv", newline="") as fh:
        rows = [",".join(r) for r in csv.reader(fh)]
    assert rows[0] == "input,warning" and len(rows) == 3
    assert "empty.nii.gz" in rows[1] and "no heart found" in rows[1]
    assert "lv_only.nii.gz" in rows[2] and "no LV myocardium, no RV found" in rows[2]


def test_stacks_outside_the_trained_acquisition_are_said(tmp_path, caplog):
    heart = np.zeros((8, 8, 4), np.uint8)
    heart[1:3, 1:3, 1], heart[3:5, 1:3, 1], heart[5:7, 1:3, 1] = 1, 2, 3
    trained = {"inplane_spacing_mm": [1.0, 1.5], "slice_spacing_mm": [8.0, 12.0]}
    save = SaveNiftid("pred", output_dir=str(tmp_path), postfixes=["seg"], trained_range=trained)
    # Stack grids: slice axis first (the largest voxel size is found, not assumed), oblique in-plane axes.
    rotation = np.array([[0.0, 0.6, -0.8], [0.0, 0.8, 0.6], [1.0, 0.0, 0.0]])
    for name, spacing in (("inside", (10.0, 1.25, 1.25)), ("coarse", (10.0, 2.1, 2.1)), ("thick", (15.0, 1.4, 1.4))):
        item = _item(heart, f"/data/{name}.nii.gz")
        lr_affine = np.eye(4)
        lr_affine[:3, :3] = rotation * np.asarray(spacing)
        item["pred"].meta["lr_affine"] = lr_affine
        with caplog.at_level(logging.WARNING):
            save(item)
    with open(tmp_path / "warnings.csv", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    assert [r[0] for r in rows] == ["/data/coarse.nii.gz", "/data/thick.nii.gz"]
    assert "in-plane voxel size 2.10 mm is outside the range the weights were trained on (1-1.5 mm)" in rows[0][1]
    assert "slice spacing 15.00 mm is outside the range the weights were trained on (8-12 mm)" in rows[1][1]
    assert "/data/inside.nii.gz" not in caplog.text


def test_unknown_trained_range_key_is_refused(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="trained_range: unknown key 'thickness_mm'"):
        SaveNiftid("pred", output_dir=str(tmp_path), postfixes=["seg"], trained_range={"thickness_mm": [5, 10]})
