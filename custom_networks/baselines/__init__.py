"""Classic baselines. Super-resolution: interpolation of a short-axis stack onto the HR grid with ITK (linear,
nearest-neighbour, cubic B-spline; label maps by nearest neighbour or one-hot linear interpolation), always in
world coordinates. Domain adaptation: histogram matching onto the source cohort (:class:`HistogramMatching`,
fitted on the V-AMA bundle's source training items by :func:`fit_histogram_matching`).

Command line: ``python -m custom_networks.baselines {stack,dataset} ...`` (see
:mod:`custom_networks.baselines.__main__`).
"""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "HistogramMatching": "histogram_matching",
    "interp_monotone": "histogram_matching",
    "LABEL_METHODS": "interpolation",
    "METHODS": "interpolation",
    "interpolate_dataset": "interpolation",
    "interpolate_stack": "interpolation",
    "resample_image": "interpolation",
    "resample_labels": "interpolation",
    "fit_histogram_matching": "histogram_calibration",
    "load_calibration": "histogram_calibration",
    "source_training_items": "histogram_calibration",
}
__all__ = [*_EXPORTS]
#: Names that lived here before: using one says where it went.
_MOVED = {"NUM_CLASSES": "custom_networks.core.labels.NUM_CLASSES"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, moved=_MOVED)
