from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor

from custom_networks.core.geometry import (
    apply_affine,
    centered_grid_affine,
    hr_grid_for,
    rotation_matrix,
    slice_axis_of,
    spacing_from_affine,
)
from custom_networks.transforms import ResampleToHRGridd


def _field(shape, affine, coeffs):
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    return apply_affine(affine, ijk) @ np.asarray(coeffs)


def test_slice_axis_found_from_geometry_and_moved_last():
    # Stack stored slice-axis first (like the UKDH demo files): 12 x 96 x 80 at 10 x 1.5 x 1.5 mm, rotated.
    aff = centered_grid_affine((12, 96, 80), (10.0, 1.5, 1.5), rotation_matrix((20, -40, 75)), (3.0, -7.0, 11.0))
    assert slice_axis_of(aff) == 0
    shape, hr_aff, order = hr_grid_for((12, 96, 80), aff)
    assert order == (1, 2, 0)
    np.testing.assert_allclose(spacing_from_affine(hr_aff), [1.25, 1.25, 2.0])
    np.testing.assert_allclose(hr_aff[:3, 2] / 2.0, aff[:3, 0] / 10.0, atol=1e-9)
    assert shape == (116, 96, 60)  # ceil(144/1.25), ceil(120/1.25), ceil(120/2)


def test_resampling_is_exact_for_a_linear_world_field():
    """A linear function of world position, sampled on an oblique anisotropic stack, must read the same function
    at the HR voxel centres (inside the slab of slice centres)."""
    shape = (64, 56, 10)
    aff = centered_grid_affine(shape, (1.8, 1.8, 10.0), rotation_matrix((-30, 25, 140)), (0.0, 5.0, -3.0))
    coeffs = [0.2, -0.5, 0.9]
    img = MetaTensor(
        torch.as_tensor(_field(shape, aff, coeffs), dtype=torch.float32)[None], affine=torch.as_tensor(aff)
    )
    out = ResampleToHRGridd("image")({"image": img})["image"]
    hr_aff = np.asarray(out.affine)
    truth = _field(out.shape[1:], hr_aff, coeffs)
    inner = (slice(6, -6), slice(6, -6), slice(8, -8))
    np.testing.assert_allclose(np.asarray(out[0])[inner], truth[inner], atol=1e-3)
    np.testing.assert_allclose(out.meta["lr_affine"], aff)
    assert tuple(out.meta["lr_shape"]) == shape


def test_a_volume_already_on_the_hr_grid_keeps_its_shape_with_float32_affines():
    """Re-gridding an HR-grid volume (e.g. an adapted image fed to Gemini-GAN) must not add a voxel because of the
    float32 rounding of NIfTI headers."""
    shape = (129, 129, 65)
    affine = centered_grid_affine(shape, (1.25, 1.25, 2.0), rotation_matrix([24.7, -41.4, -82.6]), [-96.7, 62.7, 82.6])
    hr_shape, _, order = hr_grid_for(shape, affine.astype(np.float32).astype(float))
    assert hr_shape == shape and order == (0, 1, 2)
