from __future__ import annotations

import numpy as np

from custom_networks.core.geometry import (
    apply_affine,
    centered_grid_affine,
    resample_to_grid,
    rotation_matrix,
    spacing_from_affine,
)


def _linear_field(shape, affine, coeffs):
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    return apply_affine(affine, ijk) @ np.asarray(coeffs)


def test_centered_grid_affine_places_centre_and_spacing():
    rot = rotation_matrix((20, -35, 110))
    aff = centered_grid_affine((40, 30, 20), (1.25, 1.5, 2.0), rot, (10.0, -5.0, 3.0))
    np.testing.assert_allclose(apply_affine(aff, [19.5, 14.5, 9.5]), [10.0, -5.0, 3.0], atol=1e-9)
    np.testing.assert_allclose(spacing_from_affine(aff), [1.25, 1.5, 2.0])


def test_resample_between_rotated_grids_follows_world_coordinates():
    """A linear function of world position must survive resampling between differently rotated grids."""
    coeffs = [0.3, -0.7, 1.1]
    src_aff = centered_grid_affine((60, 60, 40), (1.0, 1.0, 1.5), rotation_matrix((10, 20, 30)), (0, 0, 0))
    dst_aff = centered_grid_affine((30, 30, 20), (1.3, 1.3, 2.0), rotation_matrix((-15, 5, 70)), (2, -1, 1))
    src = _linear_field((60, 60, 40), src_aff, coeffs)
    out = resample_to_grid(src, src_aff, (30, 30, 20), dst_aff, order=1)
    truth = _linear_field((30, 30, 20), dst_aff, coeffs)
    np.testing.assert_allclose(out[5:-5, 5:-5, 4:-4], truth[5:-5, 5:-5, 4:-4], atol=1e-3)
    # An index-based copy (the original project's mistake) would be far off.
    assert np.abs(src[:30, :30, :20] - truth).mean() > 5


def test_nearest_resampling_keeps_label_dtype_and_values():
    lab = np.zeros((10, 10, 10), np.uint8)
    lab[3:7, 3:7, 3:7] = 3
    aff = np.diag([2.0, 2.0, 2.0, 1.0])
    out = resample_to_grid(lab, aff, (20, 20, 20), np.diag([1.0, 1.0, 1.0, 1.0]), order=0)
    assert out.dtype == np.uint8
    assert set(np.unique(out)) == {0, 3}


def test_channels_resampled_at_once_match_the_one_by_one_resampling():
    from custom_networks.core.geometry import hr_grid_for, resample_channels_to_grid, resample_to_grid, rotation_matrix

    rng = np.random.default_rng(0)
    array = rng.random((3, 30, 26, 7)).astype(np.float32)
    affine = np.eye(4)
    affine[:3, :3] = rotation_matrix([10.0, 25.0, -40.0]) @ np.diag([1.4, 1.4, 9.0])
    affine[:3, 3] = [5.0, -20.0, 33.0]
    hr_shape, hr_affine, _ = hr_grid_for(array.shape[1:], affine)
    fast = resample_channels_to_grid(array, affine, hr_shape, hr_affine, order=1)
    slow = np.stack([resample_to_grid(c, affine, hr_shape, hr_affine, order=1) for c in array])
    assert fast.shape == (3, *hr_shape) and fast.dtype == np.float32
    np.testing.assert_allclose(fast, slow, atol=1e-4)
    labels = rng.integers(0, 4, (1, 30, 26, 7)).astype(np.uint8)
    nearest = resample_channels_to_grid(labels, affine, hr_shape, hr_affine, order=0)
    np.testing.assert_array_equal(nearest[0], resample_to_grid(labels[0], affine, hr_shape, hr_affine, order=0))
