"""Cardiac function of segmentation files (``custom_networks.evaluate.cine_function``): frames read in order, the
frame interval from the header (unknown stays unknown), ED + ES pairs on their own slice axis."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest

from custom_networks.core.errors import InputError
from custom_networks.evaluate.cine_function import analyse_ed_es, analyse_segmentation, segmentation_frames


def _heart(radius: float, shape=(64, 48, 12)) -> np.ndarray:
    """LV blood pool (disc of ``radius``), a 3-voxel myocardial ring and an RV block that shrinks with the LV."""
    x, y = np.meshgrid(np.arange(shape[0]) - 20, np.arange(shape[1]) - 24, indexing="ij")
    r = np.hypot(x, y)
    section = np.where(r < radius, 1, np.where(r < radius + 3, 2, 0)).astype(np.uint8)
    section[(x > radius + 4) & (x < 3 * radius + 4) & (np.abs(y) < radius + 2)] = 3
    label = np.repeat(section[..., None], shape[2], axis=2)
    label[..., :2] = 0
    return label


def _save(path, label, step, unit):
    img = nib.Nifti1Image(label, np.diag([1.5, 1.5, 8.0, 1.0]))
    img.header.set_xyzt_units("mm", unit)
    img.header.set_zooms((1.5, 1.5, 8.0, step))
    nib.save(img, path)
    return path


@pytest.fixture
def cycle():
    radii = 8 + 3 * np.cos(2 * np.pi * np.arange(10) / 10)  # ED at frame 0, ES at 5
    return np.stack([_heart(r) for r in radii], axis=-1)


def test_frames_interval_and_indices(tmp_path, cycle):
    path = _save(tmp_path / "seg.nii.gz", cycle, 35.0, "msec")
    frames, spacing, interval, read = segmentation_frames(path)
    assert (frames, interval) == (10, 35.0) and spacing == pytest.approx((1.5, 1.5, 8.0))
    np.testing.assert_array_equal(read(7), cycle[..., 7])
    result, qc = analyse_segmentation(path)
    assert (result.ed_frame, result.es_frame) == (0, 5)
    voxel_ml = 1.5 * 1.5 * 8.0 / 1000
    assert result.indices["LVEDV_ml"] == pytest.approx((cycle[..., 0] == 1).sum() * voxel_ml)
    assert result.indices["LVESV_ml"] == pytest.approx((cycle[..., 5] == 1).sum() * voxel_ml)
    assert math.isfinite(result.indices["LV_PER_ml_s"])
    assert qc.flags["structures_on_mid_slices"] and qc.flags["lv_enclosed_by_myocardium"]


def test_one_second_per_frame_is_an_unknown_interval(tmp_path, cycle):
    """nibabel's default (pixdim[4] 1, unit sec) is not a frame interval: rates NaN with the reason."""
    path = _save(tmp_path / "seg.nii.gz", cycle, 1.0, "sec")
    assert segmentation_frames(path)[2] is None
    result, _ = analyse_segmentation(path)
    assert math.isnan(result.indices["LV_PER_ml_s"]) and "interval" in result.reasons["LV_PER_ml_s"]
    result, _ = analyse_segmentation(path, frame_interval_ms=30.0)
    assert math.isfinite(result.indices["LV_PER_ml_s"])


def test_ed_es_pair_on_its_slice_axis(tmp_path, cycle):
    """Slices along the first array axis: the QC's mid-slice checks must follow the geometry, not axis 2."""
    affine = np.array([[0, 1.5, 0, 0], [0, 0, 1.5, 0], [8.0, 0, 0, 0], [0, 0, 0, 1]])  # array axis 0: 8 mm
    for phase, t in (("ED", 0), ("ES", 5)):
        nib.save(nib.Nifti1Image(np.moveaxis(cycle[..., t], 2, 0), affine), tmp_path / f"{phase}.nii.gz")
    result, qc = analyse_ed_es(tmp_path / "ED.nii.gz", tmp_path / "ES.nii.gz")
    assert result.indices["LVEF_pct"] > 30 and qc.passed and qc.flags["curve_smooth"] is None
    nib.save(nib.Nifti1Image(cycle[..., 5], np.diag([1.5, 1.5, 8.0, 1.0])), tmp_path / "other.nii.gz")
    with pytest.raises(InputError, match="grid"):
        analyse_ed_es(tmp_path / "ED.nii.gz", tmp_path / "other.nii.gz")
