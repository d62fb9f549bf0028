"""Evaluation suite: score any method's outputs against references in world coordinates, with standard 3D metrics,
the original per-slice protocol and clinical indices, and write CSV / markdown / PNG reports.

Command line: ``python -m custom_networks.evaluate --pred DIR --ref DIR --out REPORT_DIR``.
"""

from __future__ import annotations

from custom_networks.evaluate.cases import (
    PredictionCase,
    ReferenceCase,
    find_methods,
    find_predictions,
    find_references,
    phase_of,
)
from custom_networks.evaluate.command import evaluate
from custom_networks.evaluate.pipeline import (
    CaseResult,
    Evaluation,
    LabelValueError,
    load_label,
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
    "CLASS_NAMES",
    "CaseResult",
    "Evaluation",
    "LabelValueError",
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
    "load_label",
    "on_grid",
    "phase_of",
    "robust_scale",
    "score_methods",
    "segmentation_scores",
]
