"""Automated quality control of a cardiac function result, in the manner of population-scale cine pipelines (the UK
Biobank pipeline of Bai W et al., J Cardiovasc Magn Reson 2018;20:65, whose short-axis checks require every structure
on the mid-ventricular slices; Robinson R et al., J Cardiovasc Magn Reson 2019;21:18, on why automated QC is needed at
scale, with a learned quality predictor this module does not attempt): rule-based flags, a subject passes when every
flag of :data:`QC_FLAGS` is true, and a failed flag comes with a reason.

Flags:

* ``structures_on_mid_slices``: LV blood pool, LV myocardium and RV are each present on every slice of the middle
  third of the ED LV span (the slices from the first to the last one that contains LV blood pool at ED, so a slice
  without LV inside the span counts as missing), in the ED label map and, when given, the ES one.
* ``lv_enclosed_by_myocardium``: on each of those slices, the fraction of the in-plane boundary neighbours of the LV
  blood pool (pixels 4-connected to it, outside it) that are myocardium is at least
  :data:`LV_ENCLOSURE_THRESHOLD`.
* ``volumes_plausible``: every index of :data:`PLAUSIBLE_RANGES` is computable and within its (broad) bounds.
* ``curve_smooth``: no frame of the LV volume curve deviates from the smoothed curve
  (:func:`~custom_networks.metrics.cardiac_cycle.smooth_volume_curve`) by :data:`CURVE_RESIDUAL_FRACTION` of the
  stroke volume or more (a frame whose segmentation jumps).
* ``ed_es_found``: both ED and ES frames were found (or given).

A flag that cannot be evaluated (e.g. too few frames for the curve check) is False, with the reason.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from custom_networks.core.errors import InputError
from custom_networks.metrics.cardiac_cycle import MIN_FRAMES_TO_SMOOTH, FunctionResult, smooth_volume_curve
from custom_networks.metrics.clinical import label_volumes_ml

__all__ = [
    "CURVE_RESIDUAL_FRACTION",
    "LV_ENCLOSURE_THRESHOLD",
    "PLAUSIBLE_RANGES",
    "QC_FLAGS",
    "QCResult",
    "function_qc",
]

logger = logging.getLogger(__name__)

#: Flags of :func:`function_qc`, in report order.
QC_FLAGS: tuple[str, ...] = (
    "structures_on_mid_slices",
    "lv_enclosed_by_myocardium",
    "volumes_plausible",
    "curve_smooth",
    "ed_es_found",
)

#: Smallest accepted fraction of the LV blood pool's in-plane boundary neighbours that are myocardium, per mid slice.
#: A closed ring gives 1.0; 0.9 tolerates a gap of about 35 degrees of the circumference (a thin wall broken by a
#: pixel or two) but not an open ring.
LV_ENCLOSURE_THRESHOLD = 0.9

#: Largest accepted deviation of a frame of the LV curve from the smoothed curve, as a fraction of the stroke volume.
#: The 3-frame smoothing halves a single-frame jump, so 0.15 catches a frame jumping by more than about 30 % of the
#: stroke volume (or frame-to-frame alternation of 15 %), while a smooth cycle sampled with 10 or more frames deviates
#: by under 0.12 (worst case, a cusp at ES) and noise of 3 % of the stroke volume by about 0.04 (under 0.07 in
#: 99 % of 20-frame cines).
CURVE_RESIDUAL_FRACTION = 0.15

#: Broad plausibility bounds ``index -> (low, high)`` of an adult heart, much wider than the reference ranges
#: (:data:`~custom_networks.metrics.cardiac_cycle.REFERENCE_RANGES`): values outside them are segmentation or
#: geometry failures rather than disease (they admit dilated and hypertrophied ventricles and severe dysfunction).
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    "LVEDV_ml": (20.0, 500.0),
    "LVESV_ml": (3.0, 450.0),
    "LVM_g": (20.0, 500.0),
    "RVEDV_ml": (20.0, 500.0),
    "LVEF_pct": (5.0, 90.0),
    "RVEF_pct": (5.0, 90.0),
}

#: Label maps whose LV volume differs from the curve at the same frame by more than this fraction get a warning.
_CONSISTENCY_TOLERANCE = 0.01

_STRUCTURES = ((1, "LV blood pool"), (2, "LV myocardium"), (3, "RV"))
_CROSS = ndimage.generate_binary_structure(2, 1)


@dataclass
class QCResult:
    """Quality control of one subject.

    Attributes:
        flags: :data:`QC_FLAGS` -> passed (True / False), or None where the check does not apply (the curve check of
            a cine with fewer than :data:`MIN_FRAMES_TO_SMOOTH` frames, e.g. an ED + ES pair).
        reasons: why each failed flag failed (``"<flag>: <reason>"``).
        measures: the measured quantities behind the flags (``min_lv_enclosure``, ``max_curve_residual_of_sv``;
            NaN when not measured).
        notes: why a check did not apply.
    """

    flags: dict[str, bool | None]
    reasons: list[str]
    measures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No flag false (and at least one check applied)."""
        return any(v is not None for v in self.flags.values()) and all(v is not False for v in self.flags.values())

    def to_dict(self) -> dict:
        """Plain-JSON form (NaN written as None).

        Returns:
            ``{"passed", "flags", "reasons", "notes", "measures"}``.
        """
        return {
            "passed": self.passed,
            "flags": {k: None if v is None else bool(v) for k, v in self.flags.items()},
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "measures": {k: None if math.isnan(v) else float(v) for k, v in self.measures.items()},
        }


def _check_label(label: np.ndarray, name: str) -> np.ndarray:
    """``label`` as an array, refused (InputError naming ``name``) unless 3D."""
    arr = np.asarray(label)
    if arr.ndim != 3:
        raise InputError(f"{name}: expected a 3D label map, got shape {arr.shape}")
    return arr


def _mid_slices(lv_per_slice: np.ndarray) -> np.ndarray | None:
    """Middle third of the span from the first to the last slice with LV blood pool (None when there is none)."""
    present = np.flatnonzero(lv_per_slice)
    if present.size == 0:
        return None
    span = np.arange(present[0], present[-1] + 1)
    third = span.size // 3
    return span[third : span.size - third]


def _enclosure(section: np.ndarray) -> float:
    """Fraction of the LV blood pool's 4-connected outer neighbours in a 2D slice that are myocardium."""
    lv = section == 1
    ring = ndimage.binary_dilation(lv, structure=_CROSS) & ~lv
    return float((section[ring] == 2).mean()) if ring.any() else math.nan


def _warn_if_inconsistent(
    label: np.ndarray, frame: int | None, phase: str, result: FunctionResult, spacing: Sequence[float]
) -> None:
    """Log a warning when the label map's LV blood-pool volume differs from the LV curve at its frame."""
    if frame is None:
        return
    measured = label_volumes_ml(label, spacing)[1]
    curve = float(result.curves["LV"][frame])
    if abs(measured - curve) > _CONSISTENCY_TOLERANCE * max(measured, curve, 1e-9):
        logger.warning(
            "%s label map: LV blood pool %.1f mL, but the LV curve gives %.1f mL at the %s frame (%d): are the label "
            "map and the result from the same cine and frame?",
            phase,
            measured,
            curve,
            phase,
            frame,
        )


def function_qc(
    ed_label: np.ndarray,
    es_label: np.ndarray | None,
    result: FunctionResult,
    spacing: Sequence[float],
    slice_axis: int = 2,
) -> QCResult:
    """Quality-control flags of a cardiac function result and the label maps it was read from (module docstring).

    Args:
        ed_label: ED label map (0 background, 1 LV blood pool, 2 LV myocardium, 3 RV).
        es_label: ES label map on the same grid, or None (the slice checks then cover ED only).
        result: the :class:`~custom_networks.metrics.cardiac_cycle.FunctionResult` of the same cine.
        spacing: voxel size (mm); used to check that the label maps match the curves at the ED / ES frames (a
            mismatch is logged as a warning).
        slice_axis: axis of ``ed_label`` / ``es_label`` along which the short-axis slices are stacked.

    Returns:
        The :class:`QCResult`.

    Raises:
        InputError: a label map that is not 3D, label maps of different shapes, or ``slice_axis`` out of range.
    """
    ed = _check_label(ed_label, "ed_label")
    es = None if es_label is None else _check_label(es_label, "es_label")
    if es is not None and es.shape != ed.shape:
        raise InputError(f"es_label: shape {es.shape} differs from ed_label's {ed.shape}")
    if not -3 <= slice_axis < 3:
        raise InputError(f"slice_axis: {slice_axis} is not an axis of a 3D label map")
    _warn_if_inconsistent(ed, result.ed_frame, "ED", result, spacing)
    if es is not None:
        _warn_if_inconsistent(es, result.es_frame, "ES", result, spacing)

    flags: dict[str, bool | None] = {}
    reasons: list[str] = []
    notes: list[str] = []
    measures: dict[str, float] = {}

    def fail(flag: str, why: str) -> None:
        flags[flag] = False
        reasons.append(f"{flag}: {why}")

    # Slice checks, on the middle third of the ED LV span, in each phase given.
    phases = [("ED", np.moveaxis(ed, slice_axis, -1))]
    if es is not None:
        phases.append(("ES", np.moveaxis(es, slice_axis, -1)))
    mid = _mid_slices((phases[0][1] == 1).any(axis=(0, 1)))
    flags["structures_on_mid_slices"] = flags["lv_enclosed_by_myocardium"] = True
    measures["min_lv_enclosure"] = math.nan
    if mid is None:
        fail("structures_on_mid_slices", "no LV blood pool in the ED label map")
        fail("lv_enclosed_by_myocardium", "no LV blood pool in the ED label map")
    else:
        missing, open_rings, fractions = [], [], []
        for phase, label in phases:
            for k in mid:
                section = label[..., int(k)]
                absent = [name for value, name in _STRUCTURES if not (section == value).any()]
                missing += [f"{phase} slice {k}: no {name}" for name in absent]
                fraction = _enclosure(section)
                fractions.append(fraction)
                if not fraction >= LV_ENCLOSURE_THRESHOLD:  # NaN (no LV on the slice) fails too
                    open_rings.append(f"{phase} slice {k}: {100 * fraction:.0f} %")
        measures["min_lv_enclosure"] = float(np.min(fractions))  # NaN when a slice had no LV
        if missing:
            fail("structures_on_mid_slices", "; ".join(missing))
        if open_rings:
            fail(
                "lv_enclosed_by_myocardium",
                f"myocardium is under {100 * LV_ENCLOSURE_THRESHOLD:.0f} % of the LV blood pool's boundary on "
                + ", ".join(open_rings),
            )

    # Volumes.
    flags["volumes_plausible"] = True
    implausible = []
    for name, (low, high) in PLAUSIBLE_RANGES.items():
        value = float(result.indices.get(name, math.nan))
        if math.isnan(value):
            implausible.append(f"{name} not computed ({result.reasons.get(name, 'no value')})")
        elif not low <= value <= high:
            implausible.append(f"{name} = {value:.1f} outside {low:g}-{high:g}")
    if implausible:
        fail("volumes_plausible", "; ".join(implausible))

    # LV curve.
    flags["curve_smooth"] = True
    measures["max_curve_residual_of_sv"] = math.nan
    lv = np.asarray(result.curves["LV"], dtype=np.float64)
    sv = float(result.indices.get("LVSV_ml", math.nan))
    if lv.size < MIN_FRAMES_TO_SMOOTH:
        flags["curve_smooth"] = None
        notes.append(f"curve_smooth: not checked ({lv.size} frames; the check needs at least {MIN_FRAMES_TO_SMOOTH})")
    elif not sv > 0:
        fail("curve_smooth", f"no positive LV stroke volume ({result.reasons.get('LVSV_ml', f'{sv:.3g} mL')})")
    else:
        residual = np.abs(lv - smooth_volume_curve(lv)) / sv
        worst = int(np.argmax(residual))
        measures["max_curve_residual_of_sv"] = float(residual[worst])
        if residual[worst] >= CURVE_RESIDUAL_FRACTION:
            fail(
                "curve_smooth",
                f"frame {worst} deviates from the smoothed LV curve by {100 * residual[worst]:.0f} % of the stroke "
                f"volume (limit {100 * CURVE_RESIDUAL_FRACTION:.0f} %)",
            )

    flags["ed_es_found"] = True
    if result.ed_frame is None or result.es_frame is None:
        fail("ed_es_found", result.ed_es_reason or "ED or ES frame not found")

    qc = QCResult(flags={k: flags[k] for k in QC_FLAGS}, reasons=reasons, measures=measures, notes=notes)
    if not qc.passed:
        logger.info("QC failed: %s", "; ".join(reasons))
    return qc
