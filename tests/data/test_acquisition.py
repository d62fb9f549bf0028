from __future__ import annotations

import numpy as np
import pytest

from custom_networks.core.geometry import apply_affine, centered_grid_affine, rotation_matrix, spacing_from_affine
from custom_networks.data.acquisition import StackProtocol, simulate_stack, stack_geometry, stack_to_hr

SHAPE = (64, 64, 48)
HR_AFF = centered_grid_affine(SHAPE, (1.25, 1.25, 2.0), rotation_matrix((25, -30, 100)), (5.0, -3.0, 8.0))


def _world(shape, affine):
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    return apply_affine(affine, ijk)


def _normal(affine):
    return affine[:3, 2] / np.linalg.norm(affine[:3, 2])


def test_protocol_rejects_bad_geometry():
    with pytest.raises(ValueError, match="overlap"):
        StackProtocol(slice_thickness=10.0, slice_spacing=8.0)
    StackProtocol(slice_thickness=10.0, slice_spacing=8.0, allow_overlap=True)
    with pytest.raises(ValueError, match="positive"):
        StackProtocol(inplane_spacing=0.0)
    with pytest.raises(ValueError, match="absurd"):
        StackProtocol(slice_spacing=80.0, slice_thickness=8.0)
    with pytest.raises(ValueError, match="max_shift"):
        StackProtocol(max_shift_mm=-1.0)


def test_slice_centres_lie_where_the_affine_says():
    """Object = signed distance along the slice normal; a symmetric slice profile averages a linear function to
    its value at the slice centre, so every stack voxel must read its own centre's world position."""
    protocol = StackProtocol(1.5, 8.0, 10.0, 0.0)
    n = _normal(HR_AFF)
    obj = (_world(SHAPE, HR_AFF) @ n).astype(np.float32)
    label = np.zeros(SHAPE, np.uint8)
    lr, _, lr_aff = simulate_stack(
        obj, label, HR_AFF, protocol, np.zeros((stack_geometry(SHAPE, HR_AFF, protocol)[0][2], 2))
    )
    expected = _world(lr.shape, lr_aff) @ n
    inner = (slice(4, -4), slice(4, -4), slice(1, -1))
    np.testing.assert_allclose(lr[inner], expected[inner], atol=0.05)
    np.testing.assert_allclose(spacing_from_affine(lr_aff), [1.5, 1.5, 10.0])
    np.testing.assert_allclose(_normal(lr_aff), n, atol=1e-9)


def test_misalignment_is_applied_as_recorded():
    """Object = world position along the stack's i axis: a slice shifted by s mm along i reads (value - s)."""
    protocol = StackProtocol(1.25, 8.0, 10.0, 3.0)
    (nx, ny, nz), _ = stack_geometry(SHAPE, HR_AFF, protocol)
    shifts = np.stack([np.linspace(-3, 3, nz), np.linspace(2, -2, nz)], axis=1)
    ax_i = HR_AFF[:3, 0] / np.linalg.norm(HR_AFF[:3, 0])
    ax_j = HR_AFF[:3, 1] / np.linalg.norm(HR_AFF[:3, 1])
    world = _world(SHAPE, HR_AFF)
    for axis, col in ((ax_i, 0), (ax_j, 1)):
        obj = (world @ axis).astype(np.float32)
        lr, _, lr_aff = simulate_stack(obj, np.zeros(SHAPE, np.uint8), HR_AFF, protocol, shifts)
        nominal = _world(lr.shape, lr_aff) @ axis
        measured = (nominal - lr)[8:-8, 8:-8, 1:-1].mean(axis=(0, 1))
        np.testing.assert_allclose(measured, shifts[1:-1, col], atol=0.05)


def test_stack_to_hr_shares_hr_grid_and_reproduces_linear_field():
    protocol = StackProtocol(1.25, 8.0, 10.0, 0.0)
    n = _normal(HR_AFF)
    obj = (_world(SHAPE, HR_AFF) @ n).astype(np.float32)
    (nz) = stack_geometry(SHAPE, HR_AFF, protocol)[0][2]
    lr, _, lr_aff = simulate_stack(obj, np.zeros(SHAPE, np.uint8), HR_AFF, protocol, np.zeros((nz, 2)))
    back = stack_to_hr(lr, lr_aff, SHAPE, HR_AFF)
    assert back.shape == SHAPE
    # Between the first and last slice centres linear interpolation of a linear field is exact.
    np.testing.assert_allclose(back[8:-8, 8:-8, 10:-10], obj[8:-8, 8:-8, 10:-10], atol=0.1)
