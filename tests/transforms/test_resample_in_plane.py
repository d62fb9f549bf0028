"""In-plane resampling keeps the slices where they were acquired, in world coordinates, and inverts."""

from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor

from custom_networks.core.geometry import apply_affine, rotation_matrix, spacing_from_affine
from custom_networks.transforms import ResampleInPlaned


def _oblique_stack(slice_axis: int = 2) -> MetaTensor:
    spacing = [1.2, 1.2, 1.2]
    spacing[slice_axis] = 9.0
    affine = np.eye(4)
    affine[:3, :3] = rotation_matrix([20.0, -35.0, 10.0]) @ np.diag(spacing)
    affine[:3, 3] = [-40.0, 12.0, 7.0]
    shape = [60, 50, 60]
    shape[slice_axis] = 6
    data = torch.rand(1, *shape)
    return MetaTensor(data, affine=torch.as_tensor(affine))


def test_slices_stay_in_place_and_the_pixel_size_changes():
    for axis in (2, 0):
        stack = _oblique_stack(axis)
        out = ResampleInPlaned("image", spacing=1.5)({"image": stack})["image"]
        before, after = np.asarray(stack.affine), np.asarray(out.affine)
        expected = np.full(3, 1.5)
        expected[axis] = 9.0
        np.testing.assert_allclose(spacing_from_affine(after), expected, atol=1e-6)
        assert out.shape[1 + axis] == stack.shape[1 + axis]
        # the centre of every slice keeps its world position along the slice normal
        normal = before[:3, axis] / 9.0
        for k in range(stack.shape[1 + axis]):
            idx_before = (np.asarray(stack.shape[1:], float) - 1) / 2
            idx_after = (np.asarray(out.shape[1:], float) - 1) / 2
            idx_before[axis] = idx_after[axis] = k
            p, q = apply_affine(before, idx_before[None])[0], apply_affine(after, idx_after[None])[0]
            assert abs(float(np.dot(p - q, normal))) < 1e-4


def test_inverse_restores_the_acquired_grid():
    stack = _oblique_stack()
    t = ResampleInPlaned("image", spacing=1.5)
    out = t({"image": stack})
    back = t.inverse(out)["image"]
    assert back.shape == stack.shape
    np.testing.assert_allclose(np.asarray(back.affine), np.asarray(stack.affine), atol=1e-5)
    # smooth content survives the round trip
    smooth = MetaTensor(torch.linspace(0, 1, 60)[None, :, None, None].expand(1, 60, 50, 6).clone(), affine=stack.affine)
    rt = t.inverse(t({"image": smooth}))["image"]
    assert float((rt - smooth)[:, 2:-2].abs().max()) < 0.02
