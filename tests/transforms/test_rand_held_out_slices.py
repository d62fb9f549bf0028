"""Drop-slices pairs of real stacks: world coordinates of the dropped planes, the mask, the interpolated input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import apply_affine, rotation_matrix
from custom_networks.transforms import RandHeldOutSlicesd

SLICES = 9  # odd: every dropped slice of start 1 is scored; start 0 drops none at the ends
INPLANE = (40, 36)
SPACING = (10.0, 1.5, 1.5)  # slice axis FIRST in the array: the transform must find it from the affine


def _stack(seed: int = 0):
    """An oblique stack whose voxel value is a linear function of its in-plane world position plus a random
    per-slice offset: exact under in-plane linear resampling, and each slice identifiable."""
    rng = np.random.default_rng(seed)
    affine = np.eye(4)
    affine[:3, :3] = rotation_matrix([20.0, -15.0, 35.0]) * np.asarray(SPACING)
    affine[:3, 3] = [-30.0, 12.0, 50.0]
    shape = (SLICES, *INPLANE)
    ijk = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), axis=-1)
    world = apply_affine(affine, ijk)
    normal = affine[:3, 0] / SPACING[0]
    inplane = world - (world @ normal)[..., None] * normal  # world position projected onto the slice plane
    offsets = rng.uniform(0.0, 0.3, size=SLICES)
    values = 0.3 + 0.004 * (inplane @ np.asarray([1.0, -0.5, 0.25])) + offsets[:, None, None]
    probs = np.zeros((4, *shape), np.float32)
    probs[0] = 1.0
    probs[0, :, 14:26, 12:24], probs[1, :, 14:26, 12:24] = 0.1, 0.9  # the heart: in-plane box 14..25 x 12..23
    image = MetaTensor(torch.as_tensor(values[None], dtype=torch.float32), affine=torch.as_tensor(affine))
    return {"image": image, "probs": MetaTensor(torch.as_tensor(probs), affine=torch.as_tensor(affine))}, offsets


def _stack_index(out, key: str = "image") -> np.ndarray:
    """Stack voxel index (i = slice, j, k) of every HR voxel: (X', Y', Z', 3)."""
    shape = out[key].shape[1:]
    ijk = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), axis=-1)
    return ijk


def _to_stack(out, stack_affine, ijk):
    return apply_affine(np.linalg.inv(stack_affine) @ np.asarray(out["image"].affine, float), ijk)


@pytest.mark.parametrize("inplane_spacing", [None, 1.25])
def test_dropped_planes_world_coordinates_mask_and_input(inplane_spacing):
    item, offsets = _stack()
    stack_affine = np.asarray(item["image"].affine, float)
    values = np.asarray(item["image"])[0]
    t = RandHeldOutSlicesd(inplane_spacing=inplane_spacing, margin_mm=6.0, renormalise=False)
    t.set_random_state(0)
    starts = set()
    for _ in range(8):
        out = t(item)
        assert "probs" not in out and set(out) >= {"image", "target", "mask"}
        start = out["image"].meta["held_out_start"]
        starts.add(start)
        kept = np.arange(start, SLICES, 2)
        scored = np.setdiff1d(np.arange(kept[0], kept[-1]), kept)
        image, target, mask = (np.asarray(out[k]) for k in ("image", "target", "mask"))
        assert image.shape[0] == 5 and target.shape[0] == mask.shape[0] == 1
        assert all(s % 8 == 0 for s in image.shape[1:]) and image.shape[1:] == target.shape[1:] == mask.shape[1:]
        hr_spacing = np.sqrt((np.asarray(out["image"].affine)[:3, :3] ** 2).sum(axis=0))
        np.testing.assert_allclose(hr_spacing[2], SPACING[0] / 5, rtol=1e-6)  # 10 mm / 5 divides exactly
        np.testing.assert_allclose(hr_spacing[:2], inplane_spacing or SPACING[1], rtol=1e-6)
        pos = _to_stack(out, stack_affine, _stack_index(out))  # (X', Y', Z', 3) stack indices, slice first
        plane_slice = pos[0, 0, :, 0]
        # HR planes are planes of the stack (through-plane index constant over a plane) every 1/5 slice
        np.testing.assert_allclose(pos[..., 0], np.broadcast_to(plane_slice, pos.shape[:3]), atol=1e-6)
        np.testing.assert_allclose(np.diff(plane_slice), 0.2, atol=1e-6)
        masked_planes = np.flatnonzero(mask[0].any(axis=(0, 1)))
        masked_slices = plane_slice[masked_planes]
        # the mask sits exactly on the scored dropped slices (within the crop's through-plane span), nowhere else
        np.testing.assert_allclose(masked_slices, np.round(masked_slices), atol=1e-6)
        in_span = scored[(scored >= plane_slice.min() - 1e-6) & (scored <= plane_slice.max() + 1e-6)]
        np.testing.assert_array_equal(np.round(masked_slices).astype(int), in_span)
        assert masked_planes.size == in_span.size >= 1
        for m, k in zip(masked_planes, in_span, strict=True):
            inside = mask[0, :, :, m] > 0
            assert inside.all()  # the heart box lies inside the field of view
            p = pos[:, :, m]
            # the target at the dropped plane is the real dropped slice k at those world positions
            expected = values[k, 0, 0] + 0.004 * (
                (apply_affine(stack_affine, p) - apply_affine(stack_affine, np.zeros(3) + [k, 0, 0]))
                @ np.asarray([1.0, -0.5, 0.25])
            )
            np.testing.assert_allclose(target[0, :, :, m], expected, atol=1e-4)
            # the input there is the mean of the two kept neighbours (linear between kept slices, 20 mm apart)
            np.testing.assert_allclose(
                image[0, :, :, m] - target[0, :, :, m], (offsets[k - 1] + offsets[k + 1]) / 2 - offsets[k], atol=1e-4
            )
        assert target[mask == 0].max() == 0.0
        # the stage-1 channels are the kept slices' probabilities (constant through-plane here)
        np.testing.assert_allclose(image[1:].sum(axis=0), 1.0, atol=1e-5)
        # the heart box (+6 mm) is inside the output's in-plane extent
        heart_j = (pos[:, 0, 0, 1].min(), pos[:, 0, 0, 1].max())
        heart_k = (pos[0, :, 0, 2].min(), pos[0, :, 0, 2].max())
        assert heart_j[0] <= 14 - 4 + 1e-6 and heart_j[1] >= 25 + 4 - 1e-6
        assert heart_k[0] <= 12 - 4 + 1e-6 and heart_k[1] >= 23 + 4 - 1e-6
    assert starts == {0, 1}


def test_end_slice_without_two_kept_neighbours_is_not_masked():
    item, _ = _stack()
    item["image"], item["probs"] = item["image"][:, :8], item["probs"][:, :8]  # 8 slices: start 0 drops slice 7 last
    t = RandHeldOutSlicesd(margin_mm=6.0, renormalise=False)
    t.set_random_state(1)
    for _ in range(6):
        out = t(item)
        pos = _to_stack(out, np.asarray(item["image"].affine, float), _stack_index(out))
        masked = np.round(pos[0, 0, np.flatnonzero(np.asarray(out["mask"])[0].any(axis=(0, 1))), 0]).astype(int)
        start = out["image"].meta["held_out_start"]
        assert 7 not in masked and 0 not in masked
        assert set(masked) <= set(range(1 + start, 7, 2))


def test_roi_crop_steps_and_renormalisation():
    item, _ = _stack()
    t = RandHeldOutSlicesd(steps=(2, 3), roi_size=(16, 24, 16), margin_mm=6.0)
    t.set_random_state(2)
    steps = set()
    for _ in range(12):
        out = t(item)
        steps.add(out["image"].meta["held_out_step"])
        assert tuple(out["image"].shape) == (5, 16, 24, 16) and tuple(out["mask"].shape) == (1, 16, 24, 16)
        image = np.asarray(out["image"][0])
        assert image.min() >= 0.0 and image.max() <= 1.0  # the kept slices' percentile scale
    assert steps == {2, 3}


def test_refuses_a_stack_too_short_and_mismatched_probabilities():
    item, _ = _stack()
    with pytest.raises(InputError, match="no slice to drop"):
        RandHeldOutSlicesd()({"image": item["image"][:, :2], "probs": item["probs"][:, :2]})
    with pytest.raises(InputError, match="probabilities on its grid"):
        RandHeldOutSlicesd()({"image": item["image"], "probs": item["probs"][:, :4]})


def test_the_heart_box_ignores_a_small_false_positive_away_from_the_heart():
    item, _ = _stack()
    probs = item["probs"].clone()
    probs[0, 4, 34:38, 30:34], probs[3, 4, 34:38, 30:34] = 0.0, 1.0  # a stage-1 blob on one slice, far away
    item["probs"] = probs
    out = RandHeldOutSlicesd(margin_mm=6.0, renormalise=False, random_crop=False)(item)
    pos = _to_stack(out, np.asarray(item["image"].affine, float), _stack_index(out))
    assert pos[:, 0, 0, 1].max() < 34 and pos[0, :, 0, 2].max() < 30  # the box stops short of the blob
    big = RandHeldOutSlicesd(margin_mm=6.0, renormalise=False, random_crop=False, largest_component=False)(item)
    assert big["image"].shape[1] > out["image"].shape[1]
