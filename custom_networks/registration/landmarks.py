"""Anatomical landmarks of a cardiac label map, as in the original V-AMA alignment block.

The original pipeline (IRTK/MIRTK) registered subjects by six landmarks: the centroids of the LV myocardium
(label 2) and of the RV (label 3) at the lowest, middle and highest slice of the heart. Here a *slice* is a plane
of the label map's own slice axis (the array axis with the largest voxel size, found from the affine), and every
centroid is returned in world millimetres (RAS, through the NIfTI affine), so landmarks of maps on different grids
can be paired directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import apply_affine, spacing_from_affine

__all__ = ["LANDMARK_NAMES", "LandmarkSet", "label_landmarks", "landmark_slice_axis"]

#: Label values whose centroids are the landmarks (LV myocardium, RV).
LANDMARK_LABELS = (2, 3)

#: Order of the six landmarks returned by :func:`label_landmarks`.
LANDMARK_NAMES = ("myo_lowest", "rv_lowest", "myo_middle", "rv_middle", "myo_highest", "rv_highest")


@dataclass
class LandmarkSet:
    """Six landmarks of one label map.

    Attributes:
        points: ``(6, 3)`` world coordinates (mm, RAS) in the order of :data:`LANDMARK_NAMES`.
        slices: array indices ``(lowest, middle, highest)`` of the slices used, along ``slice_axis``.
        slice_axis: array axis the slices are taken along.
        slice_direction: world unit vector (RAS) of increasing index along ``slice_axis``.
    """

    points: np.ndarray
    slices: tuple[int, int, int]
    slice_axis: int
    slice_direction: np.ndarray

    def to_dict(self) -> dict:
        """JSON-friendly form (points rounded to 1 micrometre)."""
        return {
            "names": list(LANDMARK_NAMES),
            "points_mm": np.round(self.points, 3).tolist(),
            "slices": list(self.slices),
            "slice_axis": self.slice_axis,
        }


def landmark_slice_axis(affine: np.ndarray) -> int:
    """Slice axis of a grid: the array axis with the largest voxel size.

    Same rule as :func:`custom_networks.core.geometry.slice_axis_of`, except that a tie (e.g. an isotropic grid)
    resolves to the *last* tied axis, the slice axis of the project's canonical layout.

    Args:
        affine: voxel-to-world affine.
    """
    spacing = spacing_from_affine(affine)
    tied = np.flatnonzero(spacing >= spacing.max() * (1.0 - 1e-3))
    return int(tied[-1])


def label_landmarks(label: np.ndarray, affine: np.ndarray, min_voxels: int = 1, name: str = "label map") -> LandmarkSet:
    """Centroids of the myocardium (2) and RV (3) at the lowest, middle and highest heart slice.

    Heart slices are the slices (along :func:`landmark_slice_axis`) holding at least ``min_voxels`` voxels of
    *both* the myocardium and the RV. The lowest and highest are the first and last of them by array index; the
    middle one is the heart slice nearest to their mid-point (the lower one on a tie). Centroids are the mean
    world positions of the label's voxel centres in that slice.

    Args:
        label: 3D label map (0 background, 1 LV blood pool, 2 LV myocardium, 3 RV).
        affine: voxel-to-world affine (RAS) of ``label``.
        min_voxels: minimum number of voxels of each label for a slice to count.
        name: how error messages name the label map (e.g. its file name).

    Returns:
        The six landmarks with the slices they come from.

    Raises:
        InputError: not a 3D map, or fewer than two slices hold both labels (landmarks undefined).
    """
    label = np.asarray(label)
    if label.ndim != 3:
        raise InputError(f"{name}: expected a 3D label map, got shape {label.shape}")
    affine = np.asarray(affine, dtype=float)
    axis = landmark_slice_axis(affine)
    order = [axis] + [a for a in range(3) if a != axis]
    moved = np.moveaxis(np.rint(label).astype(np.int16) if label.dtype.kind == "f" else label, axis, 0)
    counts = {lab: (moved == lab).reshape(moved.shape[0], -1).sum(axis=1) for lab in LANDMARK_LABELS}
    valid = np.flatnonzero((counts[2] >= min_voxels) & (counts[3] >= min_voxels))
    missing = [f"{lab} ({'myocardium' if lab == 2 else 'RV'})" for lab in LANDMARK_LABELS if counts[lab].sum() == 0]
    if missing:
        raise InputError(f"{name}: no voxel of label {' or '.join(missing)}; landmarks are undefined")
    if valid.size < 2:
        raise InputError(
            f"{name}: {valid.size} slice(s) along axis {axis} hold both the myocardium (2) and the RV (3) "
            f"(at least {min_voxels} voxel(s) each); need 2 or more to define landmarks"
        )
    low, high = int(valid[0]), int(valid[-1])
    middle = int(valid[np.argmin(np.abs(valid - (low + high) / 2.0))])
    points = []
    for index in (low, middle, high):
        for lab in LANDMARK_LABELS:
            in_plane = np.argwhere(moved[index] == lab).astype(float)
            voxels = np.empty((in_plane.shape[0], 3))
            voxels[:, order] = np.insert(in_plane, 0, float(index), axis=1)  # moved (slice, a, b) -> array axes
            points.append(apply_affine(affine, voxels).mean(axis=0))
    direction = affine[:3, axis] / np.linalg.norm(affine[:3, axis])
    return LandmarkSet(np.asarray(points), (low, middle, high), axis, direction)
