"""Evaluation suite: score any method's outputs against references in world coordinates, with standard 3D metrics,
the original per-slice protocol and clinical indices, and write CSV / markdown / PNG reports; cardiac function of a
segmentation file and the per-subject and cohort function reports.

Command line: ``python -m custom_networks.evaluate --pred DIR --ref DIR --out REPORT_DIR``.
"""

from __future__ import annotations

from custom_networks.evaluate.cases import (
    PredictionCase,
    ReferenceCase,
    find_methods,
    find_predictions,
    find_references,
)
from custom_networks.evaluate.cine_function import analyse_ed_es, analyse_segmentation, segmentation_frames
from custom_networks.evaluate.cohort_report import qc_thumbnail, read_subject_rows, write_cohort_outputs
from custom_networks.evaluate.command import evaluate
from custom_networks.evaluate.floors import FloorPair, dice_per_class, find_floor_pairs, label_floor, nn_upsample_labels
from custom_networks.evaluate.function_report import (
    FUNCTION_COLUMNS,
    cohort_table,
    function_row,
    write_function_outputs,
)
from custom_networks.evaluate.held_out import (
    ACDC_TO_PROJECT,
    HeldOutSplit,
    drop_slices,
    interpolate_dropped,
    label_agreement,
    score_held_out,
    summarise_held_out,
)
from custom_networks.evaluate.pipeline import (
    CaseResult,
    Evaluation,
    on_grid,
    score_methods,
)
from custom_networks.evaluate.scores import (
    CLASS_NAMES,
    clinical_scores,
    compat_scores,
    heart_region,
    image_scores,
    robust_scale,
    segmentation_scores,
)

__all__ = [
    "ACDC_TO_PROJECT",
    "FUNCTION_COLUMNS",
    "cohort_table",
    "function_row",
    "write_function_outputs",
    "analyse_ed_es",
    "analyse_segmentation",
    "segmentation_frames",
    "qc_thumbnail",
    "read_subject_rows",
    "write_cohort_outputs",
    "FloorPair",
    "HeldOutSplit",
    "dice_per_class",
    "drop_slices",
    "find_floor_pairs",
    "interpolate_dropped",
    "label_agreement",
    "label_floor",
    "nn_upsample_labels",
    "score_held_out",
    "summarise_held_out",
    "CLASS_NAMES",
    "CaseResult",
    "Evaluation",
    "PredictionCase",
    "ReferenceCase",
    "clinical_scores",
    "compat_scores",
    "evaluate",
    "find_methods",
    "find_predictions",
    "find_references",
    "heart_region",
    "image_scores",
    "on_grid",
    "robust_scale",
    "score_methods",
    "segmentation_scores",
]
