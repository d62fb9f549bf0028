"""Classic baselines. Super-resolution: interpolation of a short-axis stack onto the HR grid with ITK (linear,
nearest-neighbour, cubic B-spline; label maps by nearest neighbour or one-hot linear interpolation), always in
world coordinates. Domain adaptation: histogram matching onto the source cohort (:class:`HistogramMatching`).

Command line: ``python -m custom_networks.baselines {stack,dataset} ...`` (see
:mod:`custom_networks.baselines.__main__`).
"""

from __future__ import annotations

from custom_networks.baselines.histogram_matching import HistogramMatching, interp_monotone
from custom_networks.baselines.interpolation import (
    LABEL_METHODS,
    METHODS,
    NUM_CLASSES,
    interpolate_dataset,
    interpolate_stack,
    resample_image,
    resample_labels,
)

__all__ = [
    "HistogramMatching",
    "interp_monotone",
    "LABEL_METHODS",
    "METHODS",
    "NUM_CLASSES",
    "interpolate_dataset",
    "interpolate_stack",
    "resample_image",
    "resample_labels",
]
