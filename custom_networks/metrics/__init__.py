"""Metrics beyond ``monai.metrics``: clinical indices and the original paper's per-slice protocol."""

from __future__ import annotations

from custom_networks.metrics.clinical import (
    MYOCARDIAL_DENSITY_G_PER_ML,
    clinical_indices,
    ejection_fraction,
    label_volumes_ml,
)
from custom_networks.metrics.gemini_compat import (
    GeminiCompatDiceMetric,
    GeminiCompatImageMetric,
    slicewise_dice,
    slicewise_psnr_ssim,
)

__all__ = [
    "MYOCARDIAL_DENSITY_G_PER_ML",
    "GeminiCompatDiceMetric",
    "GeminiCompatImageMetric",
    "clinical_indices",
    "ejection_fraction",
    "label_volumes_ml",
    "slicewise_dice",
    "slicewise_psnr_ssim",
]
