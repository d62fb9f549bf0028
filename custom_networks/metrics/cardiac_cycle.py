"""Cardiac function from a cine segmentation: per-frame volume curves, ED / ES frames, volumes, ejection fractions,
LV mass and LV ejection / filling rates.

Label convention: 0 background, 1 LV blood pool, 2 LV myocardium, 3 RV blood pool. Volumes come from
:func:`custom_networks.metrics.clinical.label_volumes_ml` (the one home of label volumes) and ejection fractions from
:func:`custom_networks.metrics.clinical.ejection_fraction`; this module works on the per-frame volume *curves* so a cine
can be streamed frame by frame (see :func:`volume_curves`) and never needs to be held as a 4D array.

Method (documented once here, used by every function below):

* **Smoothing.** A cine covers one cardiac cycle, so the volume curve is periodic. When it has at least
  :data:`MIN_FRAMES_TO_SMOOTH` frames it is smoothed circularly (the last frame neighbours the first) with the 3-frame
  binomial kernel :data:`SMOOTHING_KERNEL` ``(1/4, 1/2, 1/4)`` (a discrete Gaussian of sigma 1/sqrt(2) frames); its
  gain at the cycle's fundamental is ``cos(pi / T)**2`` (0.976 at T = 20), at the Nyquist frequency 0, so alternating
  frame-to-frame noise is removed and the cardiac cycle kept. Shorter curves are used as they are.
* **ED / ES.** End-diastole (ED) is the frame of maximum, end-systole (ES) the frame of minimum of the *smoothed* LV
  blood-pool curve (so one noisy frame does not capture ED or ES). Volumes are read on the *measured* curve at those
  frames.
* **Rates.** ``dV/dt`` is the circular central difference ``(V[k+1] - V[k-1]) / (2 dt)`` of the smoothed LV curve.
  The peak ejection rate (PER) is the largest ``-dV/dt`` from ED to ES, the peak filling rate (PFR) the largest
  ``dV/dt`` from ES through the rest of the cycle back to ED; both are reported as positive mL/s. On a sinusoid of
  period T frames both operations together scale the peak derivative by ``cos(pi/T)**2 * sin(2 pi/T) / (2 pi/T)``
  (0.96 at T = 20, 0.98 at T = 30): rates are slightly underestimated at low temporal resolution.
* **RV.** RV volumes are read at the LV's ED and ES frames (common practice: one ED / ES pair for both ventricles);
  ``RV_max_ml`` / ``RV_min_ml`` additionally give the RV's own extremes (same smoothing rule on the RV curve).

Heart rate is not reported: the frame interval times the number of frames is the acquired window, which is not
necessarily the RR interval (retrospective gating resamples the cycle; prospective gating leaves out its end).
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from custom_networks.core.errors import InputError
from custom_networks.metrics.clinical import MYOCARDIAL_DENSITY_G_PER_ML, ejection_fraction, label_volumes_ml

__all__ = [
    "CURVE_KEYS",
    "FLAT_CURVE_FRACTION",
    "INDEX_NAMES",
    "INDEX_UNITS",
    "MIN_FRAMES_TO_SMOOTH",
    "REFERENCE_RANGES",
    "SMOOTHING_KERNEL",
    "FunctionResult",
    "cardiac_function",
    "find_ed_es",
    "smooth_volume_curve",
    "volume_curves",
]

logger = logging.getLogger(__name__)

#: Volume curves and the label each one measures.
CURVE_KEYS: dict[str, int] = {"LV": 1, "MYO": 2, "RV": 3}

#: Circular smoothing kernel of a volume curve (binomial 3-frame window, weights of frames k-1, k, k+1).
SMOOTHING_KERNEL: tuple[float, float, float] = (0.25, 0.5, 0.25)

#: Curves shorter than this are not smoothed (a 3-frame window would then blur a large part of the cycle).
MIN_FRAMES_TO_SMOOTH = 6

#: A (smoothed) LV curve whose range ``max - min`` is below this fraction of its maximum is "flat": ED and ES cannot
#: be told apart (a normal LV changes by 50-70 % of its EDV; 5 % is far below any functioning ventricle's stroke
#: volume and above the frame-to-frame jitter of a stable segmentation).
FLAT_CURVE_FRACTION = 0.05

#: Indices of :func:`cardiac_function`, in table order; the suffix is the unit.
INDEX_NAMES: tuple[str, ...] = (
    "LVEDV_ml",
    "LVESV_ml",
    "LVSV_ml",
    "LVEF_pct",
    "LVM_g",
    "RVEDV_ml",
    "RVESV_ml",
    "RVSV_ml",
    "RVEF_pct",
    "RV_max_ml",
    "RV_min_ml",
    "LV_PER_ml_s",
    "LV_PFR_ml_s",
)

_UNIT_OF_SUFFIX = {"_ml_s": "mL/s", "_ml": "mL", "_g": "g", "_pct": "%"}

#: Unit of every index (from its name's suffix).
INDEX_UNITS: dict[str, str] = {
    name: next(unit for suffix, unit in _UNIT_OF_SUFFIX.items() if name.endswith(suffix)) for name in INDEX_NAMES
}

# Approximate adult normal ranges, sexes pooled, from the UK Biobank reference values of
# Petersen SE, Aung N, Sanghvi MM, et al. Reference ranges for cardiac structure and function using cardiovascular
# magnetic resonance (CMR) in Caucasians from the UK Biobank population cohort. J Cardiovasc Magn Reson 2017;19:18
# (doi:10.1186/s12968-017-0327-9), healthy Caucasians aged 45-74, SSFP at 1.5 T, manual contours. Each range spans the
# lower limit of the sex with the lower values to the upper limit of the other (95 % ranges, mean +- 1.96 SD), rounded
# to 5 mL / 5 g / 1 %; they are approximate readings (the paper's mean +- SD: LVEF 58 +- 5 % men, 61 +- 5 % women) and
# should be checked against its Table 2 before being quoted in a publication.
#: Indicative adult normal ranges ``index -> (low, high)`` (UK Biobank, Petersen et al. 2017, sexes pooled,
#: approximate): for shading cohort plots only, not diagnostic thresholds (they depend on sex, age, body size and
#: the contouring convention, e.g. whether papillary muscles count as blood pool).
REFERENCE_RANGES: dict[str, tuple[float, float]] = {
    "LVEDV_ml": (80.0, 230.0),
    "LVESV_ml": (25.0, 105.0),
    "LVSV_ml": (50.0, 135.0),
    "LVEF_pct": (48.0, 71.0),
    "LVM_g": (45.0, 145.0),
    "RVEDV_ml": (85.0, 250.0),
    "RVESV_ml": (25.0, 125.0),
    "RVSV_ml": (50.0, 140.0),
    "RVEF_pct": (45.0, 72.0),
}


def volume_curves(frames: Iterable[np.ndarray], spacing: Sequence[float]) -> dict[str, np.ndarray]:
    """Volume of each structure in every frame of a cine, one frame at a time.

    Args:
        frames: 3D label maps of the successive frames (0 background, 1 LV blood pool, 2 LV myocardium, 3 RV); any
            iterable, e.g. a generator reading one frame at a time: only the current frame is held in memory.
        spacing: voxel size (mm) of every frame.

    Returns:
        ``{"LV": ..., "MYO": ..., "RV": ...}``: float64 arrays of the volume (mL) per frame.

    Raises:
        InputError: no frame, a frame that is not 3D, or labels outside 0..3 (the message names the frame).
    """
    out: dict[str, list[float]] = {key: [] for key in CURVE_KEYS}
    for t, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.ndim != 3:
            raise InputError(f"frame {t}: expected a 3D label map, got shape {frame.shape}")
        if frame.size and (frame.min() < 0 or frame.max() > max(CURVE_KEYS.values())):
            raise InputError(
                f"frame {t}: labels must be 0..3 (background, LV, myocardium, RV), found {int(frame.min())}.."
                f"{int(frame.max())}"
            )
        volumes = label_volumes_ml(frame, spacing)
        for key, value in CURVE_KEYS.items():
            out[key].append(volumes[value])
    if not out["LV"]:
        raise InputError("frames: no frame given")
    return {key: np.asarray(values, dtype=np.float64) for key, values in out.items()}


def smooth_volume_curve(curve: np.ndarray) -> np.ndarray:
    """Circular smoothing of a periodic volume curve (module docstring): the 3-frame binomial window
    :data:`SMOOTHING_KERNEL` with wrap-around when it has at least :data:`MIN_FRAMES_TO_SMOOTH` frames, else a copy.

    Args:
        curve: volume per frame (1D).

    Returns:
        The smoothed curve (float64, same length).
    """
    curve = np.asarray(curve, dtype=np.float64)
    if curve.size < MIN_FRAMES_TO_SMOOTH:
        return curve.copy()
    before, centre, after = SMOOTHING_KERNEL
    return before * np.roll(curve, 1) + centre * curve + after * np.roll(curve, -1)


def _check_curve(curve, name: str) -> np.ndarray:
    """``curve`` as a float64 1D array of finite non-negative volumes (InputError naming ``name`` otherwise)."""
    arr = np.asarray(curve, dtype=np.float64)
    if arr.ndim != 1:
        raise InputError(f"{name}: expected a 1D volume curve (one value per frame), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InputError(f"{name}: volumes must be finite and non-negative")
    return arr


def _check_frame(value, name: str, n_frames: int) -> int | None:
    """A frame option (``ed`` / ``es``) as an int in ``0..n_frames-1``, or None (InputError naming ``name``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name}: expected a frame index (integer), got {value!r}")
    if not 0 <= int(value) < n_frames:
        raise InputError(f"{name}: frame {int(value)} is out of range (the cine has {n_frames} frames)")
    return int(value)


def find_ed_es(lv_ml: np.ndarray, ed: int | None = None, es: int | None = None) -> tuple[int | None, int | None, str]:
    """End-diastolic and end-systolic frames of an LV blood-pool volume curve.

    ED is the frame of maximum, ES the frame of minimum of the circularly smoothed curve
    (:func:`smooth_volume_curve`; ties: the first frame). ``ed`` / ``es`` replace the detected frame.

    Args:
        lv_ml: LV blood-pool volume per frame (mL).
        ed: ED frame to use instead of the detected one.
        es: ES frame to use instead of the detected one.

    Returns:
        ``(ed_frame, es_frame, reason)``: a frame is None when it cannot be found, and ``reason`` then says why
        (empty when both frames are known). Not found: no frame; no LV blood pool in any frame; a single frame (ED is
        frame 0, ES is None); a flat curve (range below :data:`FLAT_CURVE_FRACTION` of the maximum).

    Raises:
        InputError: ``lv_ml`` is not a 1D curve of finite non-negative volumes; ``ed`` / ``es`` is not an integer in
            ``0..T-1`` (the message names the option); ``ed == es``.
    """
    curve = _check_curve(lv_ml, "lv_ml")
    n = curve.size
    ed = _check_frame(ed, "ed", n)
    es = _check_frame(es, "es", n)
    if ed is not None and es is not None:
        if ed == es:
            raise InputError(f"ed, es: ED and ES cannot be the same frame ({ed})")
        return ed, es, ""
    found_ed, found_es, reason = _extremes(curve, "LV blood pool")
    out_ed = found_ed if ed is None else ed
    out_es = found_es if es is None else es
    if out_ed is not None and out_ed == out_es:
        if n == 1:  # the only frame was given as ES
            return None, out_es, "a single frame, given as ES: ED is undefined"
        option = "ed" if ed is not None else "es"
        raise InputError(f"{option}: frame {out_ed} is the frame detected as the other phase (ED and ES coincide)")
    return out_ed, out_es, reason if out_ed is None or out_es is None else ""


def _extremes(curve: np.ndarray, structure: str) -> tuple[int | None, int | None, str]:
    """Frames of the maximum and minimum of the smoothed ``curve`` (None, and the reason, when undefined)."""
    n = curve.size
    if n == 0:
        return None, None, "no frames"
    if curve.max() <= 0:
        return None, None, f"no {structure} in any frame"
    if n == 1:
        return 0, None, "a single frame (no cardiac cycle): only the maximum (ED, frame 0) is defined"
    smooth = smooth_volume_curve(curve)
    high, low = float(smooth.max()), float(smooth.min())
    if high - low < FLAT_CURVE_FRACTION * high:
        reason = (
            f"flat {structure} volume curve (range {high - low:.3g} mL = {100 * (high - low) / high:.1f} % of its "
            f"maximum {high:.3g} mL, below {100 * FLAT_CURVE_FRACTION:g} %): ED and ES cannot be told apart"
        )
        return None, None, reason
    return int(np.argmax(smooth)), int(np.argmin(smooth)), ""


_STRUCTURE = {"LV": "LV blood pool", "MYO": "LV myocardium", "RV": "RV"}


def _circular_span(start: int, stop: int, n: int) -> np.ndarray:
    """Frames from ``start`` to ``stop`` inclusive, forward in time, wrapping at the end of the cycle."""
    return (start + np.arange((stop - start) % n + 1)) % n


def _nan_to_none(value):
    """None for a NaN float (JSON null), the value otherwise."""
    return None if isinstance(value, float) and math.isnan(value) else value


@dataclass
class FunctionResult:
    """Cardiac function of one cine.

    Attributes:
        indices: :data:`INDEX_NAMES` -> value (NaN when not computable).
        reasons: index -> why it is NaN (only NaN indices).
        ed_frame: ED frame (None when not found).
        es_frame: ES frame (None when not found).
        curves: ``"LV"``, ``"MYO"``, ``"RV"`` -> volume per frame (mL).
        frame_interval_ms: time between frames (ms), None when unknown.
        ed_es_reason: why ED or ES was not found (empty when both were).
    """

    indices: dict[str, float]
    reasons: dict[str, str]
    ed_frame: int | None
    es_frame: int | None
    curves: dict[str, np.ndarray]
    frame_interval_ms: float | None
    ed_es_reason: str = ""

    @property
    def n_frames(self) -> int:
        """Number of frames of the cine."""
        return int(len(self.curves["LV"]))

    def to_dict(self) -> dict:
        """Plain-JSON form (NaN written as None, arrays as lists).

        Returns:
            ``indices``, ``units``, ``reasons``, ``ed_frame``, ``es_frame``, ``ed_es_reason``, ``n_frames``,
            ``frame_interval_ms``, ``curves_ml`` (lists per structure) and ``time_ms`` (frame times, None when the
            interval is unknown).
        """
        interval = self.frame_interval_ms
        known = interval is not None and math.isfinite(interval) and interval > 0
        return {
            "indices": {k: _nan_to_none(float(v)) for k, v in self.indices.items()},
            "units": {k: INDEX_UNITS[k] for k in self.indices if k in INDEX_UNITS},
            "reasons": dict(self.reasons),
            "ed_frame": self.ed_frame,
            "es_frame": self.es_frame,
            "ed_es_reason": self.ed_es_reason,
            "n_frames": self.n_frames,
            "frame_interval_ms": _nan_to_none(float(interval)) if interval is not None else None,
            "curves_ml": {k: [float(v) for v in np.asarray(c)] for k, c in self.curves.items()},
            "time_ms": [float(t) * interval for t in range(self.n_frames)] if known else None,
        }

    def row(self) -> dict[str, float | int | None]:
        """One table row: the indices (NaN kept), ``ED_frame`` and ``ES_frame`` (None when not found).

        Returns:
            ``{index: value, ..., "ED_frame": ..., "ES_frame": ...}``.
        """
        row: dict[str, float | int | None] = {k: float(self.indices[k]) for k in INDEX_NAMES}
        return {**row, "ED_frame": self.ed_frame, "ES_frame": self.es_frame}


def cardiac_function(
    curves: Mapping[str, Sequence[float] | np.ndarray],
    frame_interval_ms: float | None,
    ed: int | None = None,
    es: int | None = None,
) -> FunctionResult:
    """Volumes, ejection fractions, LV mass and LV ejection / filling rates from per-frame volume curves.

    ED / ES are found on the LV blood-pool curve (:func:`find_ed_es`; method in the module docstring). LVEDV, LVM
    (myocardial volume at ED x :data:`MYOCARDIAL_DENSITY_G_PER_ML`) and RVEDV are read at ED, LVESV and RVESV at ES;
    the RV is read at the LV's ED / ES frames (common practice), ``RV_max_ml`` / ``RV_min_ml`` are the RV's own
    extremes. A structure absent (0 mL) in a frame gives NaN with a reason, never 0. ``LV_PER_ml_s`` and
    ``LV_PFR_ml_s`` need a frame interval > 0 and at least 3 frames.

    Args:
        curves: ``"LV"``, ``"MYO"``, ``"RV"`` -> volume per frame (mL), e.g. from :func:`volume_curves`.
        frame_interval_ms: time between frames (ms); None (or <= 0, e.g. an unset NIfTI ``pixdim[4]``) when unknown.
        ed: ED frame to use instead of the detected one.
        es: ES frame to use instead of the detected one.

    Returns:
        The :class:`FunctionResult`.

    Raises:
        InputError: a curve missing, not 1D, of another length than the LV curve or with negative / non-finite
            volumes; ``ed`` / ``es`` out of range (see :func:`find_ed_es`).
    """
    missing = [k for k in CURVE_KEYS if k not in curves]
    if missing:
        raise InputError(f"curves: missing {', '.join(missing)} (expected keys {', '.join(CURVE_KEYS)})")
    arrays = {k: _check_curve(curves[k], f"curves[{k!r}]") for k in CURVE_KEYS}
    n = arrays["LV"].size
    for k, arr in arrays.items():
        if arr.size != n:
            raise InputError(f"curves[{k!r}]: {arr.size} frames, but the LV curve has {n}")
    ed_frame, es_frame, ed_es_reason = find_ed_es(arrays["LV"], ed, es)
    if ed is not None or es is not None:
        logger.info("ED / ES given: ED frame %s, ES frame %s", ed_frame, es_frame)
    indices = dict.fromkeys(INDEX_NAMES, math.nan)
    reasons: dict[str, str] = {}

    def read(curve: str, frame: int | None, phase: str, name: str) -> float:
        if frame is None:
            reasons[name] = f"{phase} frame not found: {ed_es_reason}"
            return math.nan
        value = float(arrays[curve][frame])
        if value <= 0:
            reasons[name] = f"no {_STRUCTURE[curve]} in the {phase} frame ({frame})"
            return math.nan
        return value

    indices["LVEDV_ml"] = read("LV", ed_frame, "ED", "LVEDV_ml")
    indices["LVESV_ml"] = read("LV", es_frame, "ES", "LVESV_ml")
    indices["LVM_g"] = read("MYO", ed_frame, "ED", "LVM_g") * MYOCARDIAL_DENSITY_G_PER_ML
    indices["RVEDV_ml"] = read("RV", ed_frame, "ED", "RVEDV_ml")
    indices["RVESV_ml"] = read("RV", es_frame, "ES", "RVESV_ml")
    for side in ("LV", "RV"):
        edv, esv = indices[f"{side}EDV_ml"], indices[f"{side}ESV_ml"]
        indices[f"{side}SV_ml"] = edv - esv
        indices[f"{side}EF_pct"] = 100.0 * ejection_fraction(edv, esv) if math.isfinite(edv + esv) else math.nan
        if not math.isfinite(edv + esv):
            why = "; ".join(reasons[k] for k in (f"{side}EDV_ml", f"{side}ESV_ml") if k in reasons)
            reasons[f"{side}SV_ml"] = reasons[f"{side}EF_pct"] = why

    rv_max, rv_min, rv_reason = _extremes(arrays["RV"], "RV")
    for name, frame in (("RV_max_ml", rv_max), ("RV_min_ml", rv_min)):
        if frame is None:
            reasons[name] = f"RV extreme not found: {rv_reason}"
        else:
            indices[name] = float(arrays["RV"][frame])

    rate_reason = _rate_problem(arrays["LV"], frame_interval_ms, ed_frame, es_frame, ed_es_reason)
    if rate_reason:
        reasons["LV_PER_ml_s"] = reasons["LV_PFR_ml_s"] = rate_reason
    else:
        smooth = smooth_volume_curve(arrays["LV"])
        dv_dt = (np.roll(smooth, -1) - np.roll(smooth, 1)) / (2.0 * float(frame_interval_ms) / 1000.0)  # mL/s
        indices["LV_PER_ml_s"] = float(np.max(-dv_dt[_circular_span(ed_frame, es_frame, n)]))
        indices["LV_PFR_ml_s"] = float(np.max(dv_dt[_circular_span(es_frame, ed_frame, n)]))
    for name, why in reasons.items():
        logger.debug("%s not computed: %s", name, why)
    return FunctionResult(
        indices=indices,
        reasons=reasons,
        ed_frame=ed_frame,
        es_frame=es_frame,
        curves=arrays,
        frame_interval_ms=None if frame_interval_ms is None else float(frame_interval_ms),
        ed_es_reason=ed_es_reason,
    )


def _rate_problem(
    lv: np.ndarray, frame_interval_ms: float | None, ed_frame: int | None, es_frame: int | None, ed_es_reason: str
) -> str:
    """Why the LV ejection / filling rates cannot be computed ("" when they can)."""
    n = lv.size
    if frame_interval_ms is None:
        return "frame interval unknown (needed for rates in mL/s)"
    if not math.isfinite(frame_interval_ms) or frame_interval_ms <= 0:
        return f"frame interval {frame_interval_ms} ms is not a positive duration (unset in the header?)"
    if n < 3:
        return f"{n} frame(s): rates need at least 3 frames"
    if ed_frame is None or es_frame is None:
        return f"ED / ES frame not found: {ed_es_reason}"
    if lv.max() <= 0:
        return "no LV blood pool in any frame"
    return ""
