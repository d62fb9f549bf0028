"""Metrics beyond ``monai.metrics``: clinical indices, cardiac function from a cine (with its quality control) and
the original paper's per-slice protocol."""

from __future__ import annotations

from custom_networks.metrics.cardiac_cycle import (
    FLAT_CURVE_FRACTION,
    INDEX_NAMES,
    INDEX_UNITS,
    REFERENCE_RANGES,
    FunctionResult,
    cardiac_function,
    find_ed_es,
    smooth_volume_curve,
    volume_curves,
)
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
from custom_networks.metrics.quality_control import (
    CURVE_RESIDUAL_FRACTION,
    LV_ENCLOSURE_THRESHOLD,
    PLAUSIBLE_RANGES,
    QC_FLAGS,
    QCResult,
    function_qc,
)

__all__ = [
    "CURVE_RESIDUAL_FRACTION",
    "FLAT_CURVE_FRACTION",
    "INDEX_NAMES",
    "INDEX_UNITS",
    "LV_ENCLOSURE_THRESHOLD",
    "MYOCARDIAL_DENSITY_G_PER_ML",
    "PLAUSIBLE_RANGES",
    "QC_FLAGS",
    "REFERENCE_RANGES",
    "FunctionResult",
    "QCResult",
    "cardiac_function",
    "find_ed_es",
    "function_qc",
    "smooth_volume_curve",
    "volume_curves",
    "GeminiCompatDiceMetric",
    "GeminiCompatImageMetric",
    "clinical_indices",
    "ejection_fraction",
    "label_volumes_ml",
    "slicewise_dice",
    "slicewise_psnr_ssim",
]
