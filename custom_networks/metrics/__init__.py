"""Metrics beyond ``monai.metrics``: clinical indices, cardiac function from a cine (with its quality control) and
the original paper's per-slice protocol."""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "CURVE_RESIDUAL_FRACTION": "quality_control",
    "FLAT_CURVE_FRACTION": "cardiac_cycle",
    "INDEX_NAMES": "cardiac_cycle",
    "INDEX_UNITS": "cardiac_cycle",
    "LV_ENCLOSURE_THRESHOLD": "quality_control",
    "MYOCARDIAL_DENSITY_G_PER_ML": "clinical",
    "PLAUSIBLE_RANGES": "quality_control",
    "QC_FLAGS": "quality_control",
    "REFERENCE_RANGES": "cardiac_cycle",
    "FunctionResult": "cardiac_cycle",
    "QCResult": "quality_control",
    "cardiac_function": "cardiac_cycle",
    "find_ed_es": "cardiac_cycle",
    "function_qc": "quality_control",
    "smooth_volume_curve": "cardiac_cycle",
    "volume_curves": "cardiac_cycle",
    "GeminiCompatDiceMetric": "gemini_compat",
    "GeminiCompatImageMetric": "gemini_compat",
    "clinical_indices": "clinical",
    "ejection_fraction": "clinical",
    "label_volumes_ml": "clinical",
    "slicewise_dice": "gemini_compat",
    "slicewise_psnr_ssim": "gemini_compat",
}
__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
