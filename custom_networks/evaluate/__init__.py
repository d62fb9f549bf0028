"""Evaluation suite: score any method's outputs against references in world coordinates, with standard 3D metrics,
the original per-slice protocol and clinical indices, and write CSV / markdown / PNG reports; cardiac function of a
segmentation file and the per-subject and cohort function reports.

Command line: ``python -m custom_networks.evaluate --pred DIR --ref DIR --out REPORT_DIR``.
"""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "FUNCTION_COLUMNS": "function_report",
    "cohort_table": "function_report",
    "function_row": "function_report",
    "write_function_outputs": "function_report",
    "analyse_ed_es": "cine_function",
    "analyse_segmentation": "cine_function",
    "segmentation_frames": "cine_function",
    "qc_thumbnail": "cohort_report",
    "read_subject_rows": "cohort_report",
    "write_cohort_outputs": "cohort_report",
    "HeldOutSplit": "held_out",
    "dice_per_class": "floors",
    "drop_slices": "held_out",
    "interpolate_dropped": "held_out",
    "label_agreement": "held_out",
    "label_floor": "floors",
    "nn_upsample_labels": "floors",
    "score_held_out": "held_out",
    "summarise_held_out": "held_out",
    "CaseResult": "pipeline",
    "Evaluation": "pipeline",
    "PredictionCase": "cases",
    "ReferenceCase": "cases",
    "clinical_scores": "scores",
    "compat_scores": "scores",
    "evaluate": "command",
    "find_methods": "cases",
    "find_predictions": "cases",
    "find_references": "cases",
    "heart_region": "scores",
    "image_scores": "scores",
    "on_grid": "pipeline",
    "robust_scale": "scores",
    "score_methods": "pipeline",
    "segmentation_scores": "scores",
}
__all__ = [*_EXPORTS]
#: Names that lived here before, for configs users still hold: using one says where it went.
_MOVED = {
    "LabelValueError": "custom_networks.core.label_maps.LabelValueError",
    "load_label": "custom_networks.core.label_maps.load_label",
    "phase_of": "custom_networks.core.cases.phase_of",
    "FloorPair": "custom_networks.datalists.FloorPair",
    "find_floor_pairs": "custom_networks.datalists.find_floor_pairs",
    "ACDC_TO_PROJECT": "custom_networks.datalists.ACDC_LABEL_MAP",
    "CLASS_NAMES": "custom_networks.core.labels.CLASS_NAMES",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, moved=_MOVED)
