"""Metrics beyond ``monai.metrics``: clinical indices."""

from __future__ import annotations

from custom_networks.metrics.clinical import (
    MYOCARDIAL_DENSITY_G_PER_ML,
    clinical_indices,
    ejection_fraction,
    label_volumes_ml,
)

__all__ = ["MYOCARDIAL_DENSITY_G_PER_ML", "clinical_indices", "ejection_fraction", "label_volumes_ml"]
