from __future__ import annotations

import csv

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from custom_networks.baselines.interpolation import resample_image
from custom_networks.core.geometry import apply_affine, centered_grid_affine, hr_grid_for, rotation_matrix
from custom_networks.nets import ConditionedGeminiGenerator
from custom_networks.transforms import PIPELINE_WARNINGS, HeartRegionGeminid, SaveNiftid, heart_box


def _stack(shape=(72, 64, 9), spacing=(1.8, 1.8, 10.0), angles=(25, -35, 120), flip=True, centre_shift=(0, 0)):
    """A smooth random stack and stage-1-like probabilities of an ellipsoidal 'heart' (LV pool in a myocardium
    ring, an RV beside it), on an oblique (and mirrored) grid."""
    rotation = rotation_matrix(angles)
    if flip:
        rotation = rotation @ np.diag([1.0, -1.0, 1.0])
    affine = centered_grid_affine(shape, spacing, rotation, (10.0, -20.0, 5.0))
    rng = np.random.default_rng(0)
    from scipy import ndimage

    image = ndimage.gaussian_filter(rng.random(shape), 2.0).astype(np.float32)
    image = (image - image.min()) / (image.max() - image.min())
    ijk = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij"), axis=-1)
    centre = (np.asarray(shape) - 1) / 2 + np.asarray([*centre_shift, 0])
    r = np.linalg.norm((ijk - centre)[..., :2] * np.asarray(spacing[:2]), axis=-1)
    heart_slices = (ijk[..., 2] >= 2) & (ijk[..., 2] <= 6)
    labels = np.zeros(shape, np.int64)
    labels[heart_slices & (r < 25)] = 2
    labels[heart_slices & (r < 17)] = 1
    rv = np.linalg.norm((ijk - centre - np.asarray([0, 22, 0]))[..., :2] * np.asarray(spacing[:2]), axis=-1)
    labels[heart_slices & (rv < 12) & (labels == 0)] = 3
    probs = np.stack([(labels == c) for c in range(4)]).astype(np.float32)
    image[labels == 1] = 1.0  # the bright blood pool, to follow it in world coordinates
    return image, probs, affine, labels


def _data(image, probs, affine):
    aff = torch.as_tensor(affine)
    return {
        "image": MetaTensor(torch.as_tensor(image)[None], affine=aff, meta={"filename_or_obj": "stack.nii.gz"}),
        "pred": MetaTensor(torch.as_tensor(probs), affine=aff.clone()),
    }


@pytest.fixture(scope="module")
def untrained():
    """A conditioned generator with its heads at zero: it returns its inputs (the interpolated stack and stage 1)."""
    torch.manual_seed(0)
    return ConditionedGeminiGenerator(features=(4, 8))


def test_outside_the_heart_box_sr_is_bspline_and_label_background(untrained):
    image, probs, affine, _ = _stack()
    out = HeartRegionGeminid(untrained, margin_mm=10.0, divisible=2)(_data(image, probs, affine))
    sr, pred = np.asarray(out["image"][0]), np.asarray(out["pred"])
    hr_affine = np.asarray(out["image"].affine)
    lo, hi = out["image"].meta["heart_box"]
    outside = np.ones(sr.shape, bool)
    outside[lo[0] : hi[0], lo[1] : hi[1], :] = False
    assert outside.mean() > 0.5 and (~outside).any()
    # the label: background, with certainty, everywhere outside the box
    assert np.all(pred[0][outside] == 1.0) and np.all(pred[1:][:, outside] == 0.0)
    # the image: ITK's cubic B-spline of the stack in world coordinates (away from the field of view's edges,
    # where the boundary conditions of ITK and scipy differ, and between the outer slice centres)
    bspline = resample_image(image, affine, sr.shape, hr_affine, method="bspline")
    inner = np.zeros(sr.shape, bool)
    inner[8:-8, 8:-8, 12:-12] = True
    assert np.abs(sr - bspline)[outside & inner].max() < 2e-3


def test_inside_the_box_the_untrained_generator_returns_stage_one(untrained):
    """Zero heads: inside the box the probabilities are stage 1's, interpolated linearly between slices."""
    image, probs, affine, labels = _stack()
    out = HeartRegionGeminid(untrained, margin_mm=10.0, divisible=2)(_data(image, probs, affine))
    pred = np.asarray(out["pred"])
    hr_affine = np.asarray(out["pred"].affine)
    lo, hi = out["pred"].meta["heart_box"]
    from custom_networks.core.geometry import resample_channels_to_grid

    linear = resample_channels_to_grid(probs, affine, pred.shape[1:], hr_affine, order=1)
    box = (slice(None), slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(None))
    np.testing.assert_allclose(pred[box].argmax(0), linear[box].argmax(0))


def test_outputs_overlay_an_oblique_mirrored_stack_in_world_coordinates(untrained):
    image, probs, affine, labels = _stack(angles=(-40, 15, 200), flip=True, centre_shift=(6, -4))
    assert np.linalg.det(affine[:3, :3]) < 0
    out = HeartRegionGeminid(untrained, margin_mm=10.0, divisible=2)(_data(image, probs, affine))
    hr_affine = np.asarray(out["pred"].affine)
    hr_shape, expected_affine, _ = hr_grid_for(image.shape, affine)
    np.testing.assert_allclose(hr_affine, expected_affine, atol=1e-6)
    assert out["pred"].shape[1:] == hr_shape and out["image"].shape[1:] == hr_shape
    # same field-of-view centre and axes as the stack
    centre_in = apply_affine(affine, (np.asarray(image.shape) - 1) / 2)
    centre_out = apply_affine(hr_affine, (np.asarray(hr_shape) - 1) / 2)
    np.testing.assert_allclose(centre_out, centre_in, atol=1e-6)
    for axis in range(3):
        a = affine[:3, axis] / np.linalg.norm(affine[:3, axis])
        b = hr_affine[:3, axis] / np.linalg.norm(hr_affine[:3, axis])
        np.testing.assert_allclose(b, a, atol=1e-6)

    # the LV label and the bright pool sit where they are in the stack, in world coordinates (mm)
    def centroid(mask, aff):
        return apply_affine(aff, np.argwhere(mask).mean(axis=0))

    lv_in = centroid(labels == 1, affine)
    np.testing.assert_allclose(centroid(np.asarray(out["pred"]).argmax(0) == 1, hr_affine), lv_in, atol=1.0)
    np.testing.assert_allclose(centroid(np.asarray(out["image"][0]) > 0.9, hr_affine), lv_in, atol=1.5)


def test_no_heart_gives_the_interpolated_stack_an_empty_label_and_a_warning(untrained, tmp_path):
    image, probs, affine, _ = _stack()
    probs[:] = 0.0
    probs[0] = 1.0
    calls = []
    untrained.register_forward_hook(lambda *args: calls.append(1))
    out = HeartRegionGeminid(untrained, divisible=2)(_data(image, probs, affine))
    assert not calls  # the 3D step was not run
    assert np.all(np.asarray(out["pred"]).argmax(0) == 0)
    bspline = resample_image(image, affine, out["image"].shape[1:], np.asarray(out["image"].affine), method="bspline")
    assert np.abs(np.asarray(out["image"][0]) - bspline)[8:-8, 8:-8, 12:-12].max() < 2e-3
    (warning,) = out["pred"].meta[PIPELINE_WARNINGS]
    assert "no heart" in warning
    # the writer says it in the log and in warnings.csv, and writes the empty label map and the interpolated stack
    SaveNiftid(["pred", "image"], str(tmp_path), ["seg", "sr"], overwrite=False)(out)
    rows = list(csv.reader((tmp_path / "warnings.csv").open()))
    assert rows[0] == ["input", "warning"] and ["stack.nii.gz", warning] in rows
    assert nib.load(tmp_path / "stack_seg.nii.gz").get_fdata().max() == 0
    assert nib.load(tmp_path / "stack_sr.nii.gz").shape == out["image"].shape[1:]


def test_a_heart_at_the_edge_of_the_field_of_view_is_said(untrained):
    image, probs, affine, _ = _stack(centre_shift=(25, 0))  # the myocardium ring reaches the first row
    out = HeartRegionGeminid(untrained, divisible=2)(_data(image, probs, affine))
    assert any("edge of the field of view" in w for w in out["pred"].meta[PIPELINE_WARNINGS])
    image, probs, affine, _ = _stack()
    out = HeartRegionGeminid(untrained, divisible=2)(_data(image, probs, affine))
    assert out["pred"].meta[PIPELINE_WARNINGS] == []


def test_the_box_is_the_largest_component_plus_margin_and_divisible():
    shape = (60, 60, 8)
    affine = centered_grid_affine(shape, (1.5, 1.5, 10.0), np.eye(3), (0.0, 0.0, 0.0))
    mask = np.zeros(shape, bool)
    mask[20:40, 25:35, 2:6] = True  # the heart: 30 x 15 mm
    mask[2:4, 55:57, 0] = True  # a stray label far away
    hr_shape, hr_affine, _ = hr_grid_for(shape, affine)
    box = heart_box(mask, affine, hr_shape, hr_affine, margin_mm=5.0, divisible=8)
    assert box is not None and not box.touches_edge
    assert all(s % 8 == 0 for s in box.shape[:2]) and box.lo[2] == 0 and box.hi[2] == hr_shape[2]
    # world extent of the box covers the heart + margin and not the stray voxel
    lo_w, hi_w = np.asarray(box.lo[:2]) * 1.25, np.asarray(box.hi[:2]) * 1.25
    heart_lo, heart_hi = np.asarray([19.5, 24.5]) * 1.5, np.asarray([39.5, 34.5]) * 1.5
    assert np.all(lo_w <= heart_lo - 5.0 + 1e-6) and np.all(hi_w >= heart_hi + 5.0 - 1.25)
    assert hi_w[0] - lo_w[0] < 30 + 10 + 2 * 1.25 * 8
    assert heart_box(np.zeros(shape, bool), affine, hr_shape, hr_affine) is None
