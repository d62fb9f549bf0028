"""numpy arrays with a NIfTI (RAS) affine <-> ITK images (LPS physical space).

NIfTI affines map voxel indices to RAS millimetres; ITK images carry origin, spacing and direction in LPS. The
conversion ``x_lps = diag(-1, -1, 1) x_ras`` happens here only. Arrays are indexed ``[i, j, k]`` as nibabel gives
them; ITK reads C-ordered arrays as ``[k, j, i]``, so arrays are transposed on the way in and out.
"""

from __future__ import annotations

import numpy as np

from custom_networks.core.errors import InputError

__all__ = ["RAS_TO_LPS", "array_from_image", "image_from_array", "lps_geometry"]

#: RAS <-> LPS flip of the first two world axes (its own inverse), as a 4x4 homogeneous matrix.
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def lps_geometry(affine: np.ndarray) -> tuple[list[float], list[float], np.ndarray]:
    """``(spacing, origin, direction)`` in ITK's LPS convention of a RAS voxel-to-world affine.

    Raises:
        InputError: not a finite 4x4 affine, or a singular one.
    """
    affine = np.asarray(affine, dtype=float)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise InputError(f"expected a finite 4x4 affine, got {affine.shape}")
    lps = RAS_TO_LPS @ affine
    spacing = np.sqrt((lps[:3, :3] ** 2).sum(axis=0))
    if spacing.min() <= 0 or abs(np.linalg.det(lps[:3, :3])) < 1e-12:
        raise InputError("singular affine")
    direction = np.ascontiguousarray(lps[:3, :3] / spacing)
    return spacing.tolist(), lps[:3, 3].tolist(), direction


def image_from_array(array: np.ndarray, affine: np.ndarray, pixel=np.float32):
    """ITK image of a 3D array indexed ``[i, j, k]`` on the grid of a RAS affine.

    Args:
        array: 3D array.
        affine: NIfTI (RAS) voxel-to-world affine.
        pixel: numpy dtype of the ITK pixel.
    """
    import itk

    image = itk.image_from_array(np.ascontiguousarray(np.asarray(array, dtype=pixel).transpose(2, 1, 0)))
    spacing, origin, direction = lps_geometry(affine)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(itk.matrix_from_array(direction))
    return image


def array_from_image(image, dtype=np.float32) -> np.ndarray:
    """The voxels of a 3D ITK image as an array indexed ``[i, j, k]`` (a copy)."""
    import itk

    return np.ascontiguousarray(itk.array_from_image(image).transpose(2, 1, 0), dtype=dtype)
