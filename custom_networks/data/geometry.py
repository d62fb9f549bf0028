"""Former home of world-coordinate geometry, kept so that existing imports and config ``_target_`` paths keep
working: the code lives in :mod:`custom_networks.core.geometry`."""

from __future__ import annotations

from custom_networks.core.geometry import (  # noqa: F401
    apply_affine,
    centered_grid_affine,
    resample_to_grid,
    rotation_matrix,
    spacing_from_affine,
)

__all__ = [
    "apply_affine",
    "centered_grid_affine",
    "resample_to_grid",
    "rotation_matrix",
    "spacing_from_affine",
]
