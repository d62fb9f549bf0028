"""Acquisition of a conventional 2D short-axis stack from a high-resolution volume, and its interpolation back.

The stack shares the HR grid's orientation (the HR slice axis is the stack's slice normal). Each thick slice
integrates the object with a Gaussian slice profile (FWHM = slice thickness) and an in-plane Gaussian PSF
(FWHM = in-plane voxel size). Breath-hold misalignment displaces the anatomy of slice ``k`` by an in-plane
vector ``shift_mm[k]`` (stack axes i, j, in mm): ``lr[i, j, k] = object(world(i, j, k) - shift_world[k])``,
while the stack's affine stays the nominal one, exactly as in a real misaligned acquisition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from custom_networks.core.geometry import apply_affine, centered_grid_affine, resample_to_grid, spacing_from_affine
from custom_networks.data.appearance import gaussian_psf

__all__ = ["StackProtocol", "acquire_image", "sample_slice_shifts", "simulate_stack", "stack_geometry", "stack_to_hr"]


@dataclass(frozen=True)
class StackProtocol:
    """Geometry of the simulated 2D short-axis stack.

    Args:
        inplane_spacing: in-plane voxel size (mm).
        slice_thickness: slice thickness (mm), FWHM of the Gaussian slice profile.
        slice_spacing: distance between slice centres (mm).
        max_shift_mm: largest in-plane misalignment of a slice (mm); 0 gives an aligned stack.
        allow_overlap: accept ``slice_spacing < slice_thickness`` (overlapping slices).
    """

    inplane_spacing: float = 1.25
    slice_thickness: float = 8.0
    slice_spacing: float = 10.0
    max_shift_mm: float = 3.0
    allow_overlap: bool = False

    def __post_init__(self) -> None:
        for key in ("inplane_spacing", "slice_thickness", "slice_spacing"):
            value = getattr(self, key)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{key} must be a positive number of mm, got {value}")
        if self.max_shift_mm < 0 or not np.isfinite(self.max_shift_mm):
            raise ValueError(f"max_shift_mm must be >= 0, got {self.max_shift_mm}")
        if self.slice_spacing < self.slice_thickness and not self.allow_overlap:
            raise ValueError(
                f"slice_spacing ({self.slice_spacing} mm) is smaller than slice_thickness ({self.slice_thickness} mm):"
                " slices would overlap; pass allow_overlap=True if that is intended"
            )
        if self.inplane_spacing > 5.0 or self.slice_spacing > 30.0:
            raise ValueError(
                f"absurd stack spacing ({self.inplane_spacing} mm in-plane, {self.slice_spacing} mm between slices)"
            )

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def stack_geometry(hr_shape: Sequence[int], hr_affine: np.ndarray, protocol: StackProtocol):
    """Shape and affine of the stack covering the HR field of view with the HR grid's orientation."""
    hr_spacing = spacing_from_affine(hr_affine)
    extent = np.asarray(hr_shape) * hr_spacing
    shape = (
        max(1, int(round(extent[0] / protocol.inplane_spacing))),
        max(1, int(round(extent[1] / protocol.inplane_spacing))),
        max(1, int(round(extent[2] / protocol.slice_spacing))),
    )
    rotation = hr_affine[:3, :3] / hr_spacing
    center = apply_affine(hr_affine, (np.asarray(hr_shape) - 1) / 2.0)
    spacing = (protocol.inplane_spacing, protocol.inplane_spacing, protocol.slice_spacing)
    return shape, centered_grid_affine(shape, spacing, rotation, center)


def sample_slice_shifts(rng: np.random.Generator, n_slices: int, max_shift_mm: float) -> np.ndarray:
    """Per-slice in-plane shifts (mm, stack axes i and j), Gaussian with norm capped at ``max_shift_mm``."""
    if max_shift_mm <= 0:
        return np.zeros((n_slices, 2))
    shifts = rng.normal(0.0, max_shift_mm / 2.0, size=(n_slices, 2))
    norm = np.linalg.norm(shifts, axis=1, keepdims=True)
    return np.where(norm > max_shift_mm, shifts * max_shift_mm / np.maximum(norm, 1e-9), shifts)


def _sample_points(lr_shape, lr_affine, hr_affine, shifts_mm) -> np.ndarray:
    """HR voxel coordinates ``(3, *lr_shape)`` at which each stack voxel samples the object."""
    ijk = np.stack(np.meshgrid(*[np.arange(s, dtype=float) for s in lr_shape], indexing="ij"), axis=-1)
    world = apply_affine(lr_affine, ijk)
    axes = lr_affine[:3, :3] / spacing_from_affine(lr_affine)
    shift_world = shifts_mm[:, 0:1] * axes[:, 0] + shifts_mm[:, 1:2] * axes[:, 1]  # (n_slices, 3)
    world = world - shift_world[None, None, :, :]
    return np.moveaxis(apply_affine(np.linalg.inv(hr_affine), world), -1, 0)


def acquire_image(
    obj: np.ndarray, hr_affine: np.ndarray, protocol: StackProtocol, shifts_mm: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Acquire the stack of an object: ``(lr_image, lr_affine, points)``, noise-free.

    Args:
        obj: noise-free object intensities on the HR grid.
        hr_affine: affine of the HR grid.
        protocol: stack geometry.
        shifts_mm: per-slice in-plane shifts ``(n_slices, 2)`` in mm (see :func:`sample_slice_shifts`).

    Returns:
        The stack, its affine and the HR voxel coordinates each stack voxel sampled (``(3, *lr_shape)``).
    """
    lr_shape, lr_affine = stack_geometry(obj.shape, hr_affine, protocol)
    if shifts_mm.shape != (lr_shape[2], 2):
        raise ValueError(f"shifts_mm must have shape ({lr_shape[2]}, 2), got {shifts_mm.shape}")
    spacing = spacing_from_affine(hr_affine)
    fwhm = (protocol.inplane_spacing, protocol.inplane_spacing, protocol.slice_thickness)
    points = _sample_points(lr_shape, lr_affine, hr_affine, shifts_mm)
    lr_image = ndimage.map_coordinates(gaussian_psf(obj, fwhm, spacing), points, order=1, mode="nearest")
    return lr_image.astype(np.float32), lr_affine, points


def simulate_stack(
    obj: np.ndarray,
    label: np.ndarray,
    hr_affine: np.ndarray,
    protocol: StackProtocol,
    shifts_mm: np.ndarray,
    num_classes: int = 4,
):
    """Acquire the stack: returns ``(lr_image, lr_label, lr_affine)``, noise-free (noise is added by the caller).

    Args:
        obj: noise-free object intensities on the HR grid.
        label: HR label map (0..num_classes-1).
        hr_affine: affine of the HR grid.
        protocol: stack geometry.
        shifts_mm: per-slice in-plane shifts ``(n_slices, 2)`` in mm (see :func:`sample_slice_shifts`).
        num_classes: number of label classes.
    """
    lr_image, lr_affine, points = acquire_image(obj, hr_affine, protocol, shifts_mm)
    spacing = spacing_from_affine(hr_affine)
    fwhm = (protocol.inplane_spacing, protocol.inplane_spacing, protocol.slice_thickness)
    probs = [
        ndimage.map_coordinates(gaussian_psf((label == c).astype(np.float32), fwhm, spacing), points, order=1)
        for c in range(num_classes)
    ]
    lr_label = np.argmax(np.stack(probs), axis=0).astype(np.uint8)
    return lr_image, lr_label, lr_affine


def stack_to_hr(
    lr_image: np.ndarray, lr_affine: np.ndarray, hr_shape: Sequence[int], hr_affine: np.ndarray, order: int = 1
) -> np.ndarray:
    """Interpolate the stack onto the HR grid in world coordinates (the network input of the original method).

    Points beyond the first/last slice centre take the nearest slice's value.
    """
    return resample_to_grid(lr_image, lr_affine, hr_shape, hr_affine, order=order, mode="nearest")
