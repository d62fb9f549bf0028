"""Cardiac function from per-frame volume curves: generated hearts of known volume over a synthetic cycle."""

from __future__ import annotations

import math

import numpy as np
import pytest

from custom_networks.core.errors import InputError
from custom_networks.metrics import (
    INDEX_NAMES,
    MYOCARDIAL_DENSITY_G_PER_ML,
    cardiac_function,
    find_ed_es,
    smooth_volume_curve,
    volume_curves,
)

SPACING = (1.5, 1.5, 8.0)
SHAPE = (128, 96, 12)
HEART = slice(2, 10)  # 8 slices of 8 mm: a 64 mm long heart
HEIGHT_MM = 8 * 8.0
T = 20
SYSTOLE = 0.35  # fraction of the cycle from ED to ES: ES is 7 frames after ED at T = 20


def cycle_volume(t, ed_frame: int, edv: float, esv: float, n: int = T):
    """Volume at frame(s) ``t`` of a cycle with ED at ``ed_frame``: half-cosine ejection over the first 35 % of the
    cycle, half-cosine filling over the rest (ED is the maximum, ES the minimum, both exactly at a frame)."""
    phase = np.mod((np.asarray(t, float) - ed_frame) / n, 1.0)
    systolic = esv + (edv - esv) * (1 + np.cos(np.pi * phase / SYSTOLE)) / 2
    diastolic = esv + (edv - esv) * (1 - np.cos(np.pi * (phase - SYSTOLE) / (1 - SYSTOLE))) / 2
    return np.where(phase < SYSTOLE, systolic, diastolic)


def heart_frame(lv_ml: float, rv_ml: float, myo_ml: float = 100.0) -> np.ndarray:
    """Cylindrical heart: LV blood pool disc inside a myocardial ring of constant volume, RV disc beside it."""
    x, y = np.meshgrid(
        (np.arange(SHAPE[0]) + 0.5) * SPACING[0], (np.arange(SHAPE[1]) + 0.5) * SPACING[1], indexing="ij"
    )
    r_lv = math.sqrt(lv_ml * 1000 / (math.pi * HEIGHT_MM))
    r_epi = math.sqrt(r_lv**2 + myo_ml * 1000 / (math.pi * HEIGHT_MM))
    r_rv = math.sqrt(rv_ml * 1000 / (math.pi * HEIGHT_MM))
    d_lv = np.hypot(x - 60.0, y - 72.0)
    d_rv = np.hypot(x - 130.0, y - 72.0)  # 130 mm: clear of the largest LV (epicardial radius 35 mm + RV 29 mm)
    section = np.zeros(SHAPE[:2], np.uint8)
    section[d_rv <= r_rv] = 3
    section[d_lv <= r_epi] = 2
    section[d_lv <= r_lv] = 1
    frame = np.zeros(SHAPE, np.uint8)
    frame[:, :, HEART] = section[:, :, None]
    return frame


def cine(ed_frame: int = 5, edv=150.0, esv=60.0, rv_edv=160.0, rv_esv=70.0):
    """Generator of the frames of a generated cine (never holds more than one frame)."""
    for t in range(T):
        yield heart_frame(float(cycle_volume(t, ed_frame, edv, esv)), float(cycle_volume(t, ed_frame, rv_edv, rv_esv)))


def circular_distance(a: int, b: int, n: int = T) -> int:
    return min((a - b) % n, (b - a) % n)


def test_indices_of_a_generated_heart_match_its_volumes():
    frames = cine(ed_frame=5)
    curves = volume_curves(frames, SPACING)
    assert next(frames, None) is None  # the generator was consumed frame by frame
    assert set(curves) == {"LV", "MYO", "RV"} and all(c.shape == (T,) for c in curves.values())
    result = cardiac_function(curves, frame_interval_ms=40.0)
    assert (result.ed_frame, result.es_frame) == (5, 12)
    idx = result.indices
    truth = {"LVEDV_ml": 150, "LVESV_ml": 60, "LVSV_ml": 90, "RVEDV_ml": 160, "RVESV_ml": 70, "RVSV_ml": 90}
    truth |= {"LVM_g": 100 * MYOCARDIAL_DENSITY_G_PER_ML, "RV_max_ml": 160, "RV_min_ml": 70}
    for name, value in truth.items():
        assert idx[name] == pytest.approx(value, rel=0.03), name
    # EF from the voxel counts of the ED and ES label maps, independently of the curves.
    ed, es = heart_frame(150.0, 160.0), heart_frame(60.0, 70.0)
    for side, value in (("LV", 1), ("RV", 3)):
        n_ed, n_es = np.count_nonzero(ed == value), np.count_nonzero(es == value)
        assert abs(idx[f"{side}EF_pct"] - 100 * (n_ed - n_es) / n_ed) < 0.1
    assert idx["LVEF_pct"] == pytest.approx(60.0, abs=1.0)
    assert idx["LVSV_ml"] == pytest.approx(idx["LVEDV_ml"] - idx["LVESV_ml"])
    assert all(math.isfinite(idx[name]) for name in INDEX_NAMES) and result.reasons == {}


@pytest.mark.parametrize("seed", range(8))
def test_ed_es_found_on_noisy_curves(seed):
    rng = np.random.default_rng(seed)
    ed_true = (3 + 5 * seed) % T  # never only frame 0
    es_true = (ed_true + 7) % T
    curve = cycle_volume(np.arange(T), ed_true, 150.0, 60.0) + rng.normal(0, 0.03 * 90.0, T)  # noise 3 % of SV
    ed, es, reason = find_ed_es(curve)
    # Within one frame: a frame either side of ED / ES differs by 1.5-5 % of SV, the size of the noise.
    assert circular_distance(ed, ed_true) <= 1 and circular_distance(es, es_true) <= 1
    assert reason == ""


def test_one_outlier_frame_does_not_capture_ed():
    curve = cycle_volume(np.arange(T), 4, 150.0, 60.0)
    curve[18] += 0.5 * 90.0  # a mid-diastolic frame (EDV - 44 % of SV) whose segmentation jumps above EDV
    assert int(np.argmax(curve)) == 18  # the raw maximum is the outlier
    ed, es, _ = find_ed_es(curve)
    assert (ed, es) == (4, 11)


def test_overrides_and_their_validation():
    curves = volume_curves(cine(ed_frame=5), SPACING)
    result = cardiac_function(curves, 40.0, ed=3, es=10)
    assert (result.ed_frame, result.es_frame) == (3, 10)
    assert result.indices["LVEDV_ml"] == curves["LV"][3] and result.indices["LVESV_ml"] == curves["LV"][10]
    assert result.indices["RVEDV_ml"] == curves["RV"][3]  # the RV is read at the LV's frames
    assert find_ed_es(curves["LV"], ed=7) == (7, 12, "")
    for kwargs, option in (({"ed": 20}, "ed"), ({"es": -1}, "es"), ({"ed": 2.0}, "ed"), ({"es": True}, "es")):
        with pytest.raises(InputError, match=f"^{option}:"):
            find_ed_es(curves["LV"], **kwargs)
    with pytest.raises(InputError, match="same frame"):
        find_ed_es(curves["LV"], ed=4, es=4)
    with pytest.raises(InputError, match="^es:"):
        find_ed_es(curves["LV"], es=5)  # the detected ED


def test_flat_curve_and_missing_lv_give_nan_with_reasons_not_zero():
    rv = cycle_volume(np.arange(T), 0, 160.0, 70.0)
    flat = {"LV": 120.0 + 0.5 * np.sin(np.arange(T)), "MYO": np.full(T, 100.0), "RV": rv}
    ed, es, reason = find_ed_es(flat["LV"])
    assert ed is None and es is None and "flat" in reason
    result = cardiac_function(flat, 40.0)
    for name in ("LVEDV_ml", "LVESV_ml", "LVSV_ml", "LVEF_pct", "LVM_g", "RVEDV_ml", "RVEF_pct", "LV_PER_ml_s"):
        assert math.isnan(result.indices[name]) and "flat" in result.reasons[name], name
    assert result.indices["RV_max_ml"] == pytest.approx(160.0)  # the RV's own extremes do not need the LV

    no_lv = {"LV": np.zeros(T), "MYO": np.zeros(T), "RV": rv}
    assert find_ed_es(no_lv["LV"]) == (None, None, "no LV blood pool in any frame")
    result = cardiac_function(no_lv, 40.0)
    assert math.isnan(result.indices["LVEDV_ml"]) and "no LV blood pool" in result.reasons["LVEDV_ml"]
    assert math.isnan(result.indices["LVEF_pct"]) and result.reasons["LVEF_pct"]
    assert result.to_dict()["indices"]["LVEDV_ml"] is None
    given = cardiac_function(no_lv, 40.0, ed=0, es=10)  # frames given, still no LV: NaN, not 0
    assert math.isnan(given.indices["LVEDV_ml"]) and given.reasons["LVEDV_ml"] == "no LV blood pool in the ED frame (0)"
    assert math.isnan(given.indices["LV_PER_ml_s"]) and "no LV blood pool" in given.reasons["LV_PER_ml_s"]

    # A structure absent at a found frame: NaN with the frame named.
    no_rv = {"LV": cycle_volume(np.arange(T), 0, 150.0, 60.0), "MYO": np.full(T, 100.0), "RV": np.zeros(T)}
    result = cardiac_function(no_rv, 40.0)
    assert math.isnan(result.indices["RVEDV_ml"]) and result.reasons["RVEDV_ml"] == "no RV in the ED frame (0)"
    assert math.isfinite(result.indices["LVEF_pct"])


def test_short_cines():
    assert find_ed_es(np.array([100.0])) == (0, None, find_ed_es(np.array([100.0]))[2])
    assert "single frame" in find_ed_es(np.array([100.0]))[2]
    assert find_ed_es(np.array([100.0, 50.0])) == (0, 1, "")
    one = cardiac_function({"LV": [100.0], "MYO": [90.0], "RV": [110.0]}, 40.0)
    assert one.indices["LVEDV_ml"] == 100.0 and one.indices["LVM_g"] == pytest.approx(94.5)
    assert math.isnan(one.indices["LVESV_ml"]) and "single frame" in one.reasons["LVESV_ml"]
    assert math.isnan(one.indices["LV_PER_ml_s"]) and "at least 3 frames" in one.reasons["LV_PER_ml_s"]
    two = cardiac_function({"LV": [100.0, 40.0], "MYO": [90.0, 90.0], "RV": [110.0, 50.0]}, 40.0)
    assert two.indices["LVEF_pct"] == pytest.approx(60.0) and "at least 3 frames" in two.reasons["LV_PFR_ml_s"]


def test_peak_ejection_and_filling_rates_of_an_analytic_curve():
    a, b, interval_ms, t0 = 120.0, 40.0, 40.0, 3
    t = np.arange(T)
    lv = a + b * np.cos(2 * np.pi * (t - t0) / T)  # ED at frame 3, ES at frame 13
    result = cardiac_function({"LV": lv, "MYO": np.full(T, 100.0), "RV": lv + 20}, interval_ms)
    assert (result.ed_frame, result.es_frame) == (3, 13)
    analytic = b * 2 * np.pi / (T * interval_ms / 1000)  # max |dV/dt| of the continuous curve, mL/s (314 mL/s)
    # Sampled at 20 frames, the 3-frame smoothing scales a sinusoid by cos(pi/T)^2 and the central difference by
    # sin(2 pi/T)/(2 pi/T): together 0.960, so the estimate is 4 % low, and exactly this at the sampled peak.
    expected = analytic * np.cos(np.pi / T) ** 2 * np.sin(2 * np.pi / T) / (2 * np.pi / T)
    for name in ("LV_PER_ml_s", "LV_PFR_ml_s"):
        assert result.indices[name] == pytest.approx(expected, rel=1e-9), name
        assert result.indices[name] == pytest.approx(analytic, rel=0.05) and result.indices[name] < analytic
    # PER is searched from ED to ES only, PFR from ES through the end of the cycle back to ED (given frames here):
    # frames 3..6 end before the steepest ejection (frame 8), frames 16..3 (wrapping) contain the steepest filling
    # (frame 18).
    early_es = cardiac_function({"LV": lv, "MYO": np.full(T, 100.0), "RV": lv + 20}, interval_ms, ed=3, es=6)
    assert early_es.indices["LV_PER_ml_s"] == pytest.approx(expected * np.sin(2 * np.pi * 3 / T), rel=1e-9)
    assert early_es.indices["LV_PFR_ml_s"] == pytest.approx(expected, rel=1e-9)
    late = cardiac_function({"LV": lv, "MYO": np.full(T, 100.0), "RV": lv + 20}, interval_ms, ed=3, es=19)
    assert late.indices["LV_PFR_ml_s"] == pytest.approx(expected * np.sin(2 * np.pi * 4 / T), rel=1e-9)


def test_rates_need_a_frame_interval():
    curves = {"LV": cycle_volume(np.arange(T), 2, 150.0, 60.0), "MYO": np.full(T, 100.0), "RV": np.full(T, 150.0)}
    for interval in (None, 0.0, -5.0, float("nan")):
        result = cardiac_function(curves, interval)
        for name in ("LV_PER_ml_s", "LV_PFR_ml_s"):
            assert math.isnan(result.indices[name]) and "frame interval" in result.reasons[name]
        assert result.indices["LVEF_pct"] == pytest.approx(60.0)
        assert result.to_dict()["time_ms"] is None


def test_smoothing_is_circular_and_kills_alternation():
    curve = np.array([1.0, 0, 0, 0, 0, 0, 0, 0])
    assert smooth_volume_curve(curve).tolist() == [0.5, 0.25, 0, 0, 0, 0, 0, 0.25]
    alternating = 100 + 10 * (-1.0) ** np.arange(10)
    assert np.allclose(smooth_volume_curve(alternating), 100.0)
    assert smooth_volume_curve(np.array([1.0, 2, 3])).tolist() == [1.0, 2, 3]  # under 6 frames: unchanged


def test_invalid_inputs_are_refused():
    with pytest.raises(InputError, match="frame 1: expected a 3D"):
        volume_curves([np.zeros((4, 4, 4)), np.zeros((4, 4))], SPACING)
    with pytest.raises(InputError, match="frame 0: labels must be 0..3"):
        volume_curves([np.full((4, 4, 4), 5)], SPACING)
    with pytest.raises(InputError, match="no frame"):
        volume_curves(iter([]), SPACING)
    with pytest.raises(InputError, match="missing RV"):
        cardiac_function({"LV": [1.0, 2.0], "MYO": [1.0, 1.0]}, 40.0)
    with pytest.raises(InputError, match="3 frames, but the LV curve has 2"):
        cardiac_function({"LV": [1.0, 2.0], "MYO": [1.0, 1.0], "RV": [1.0, 1.0, 1.0]}, 40.0)
    with pytest.raises(InputError, match="finite and non-negative"):
        find_ed_es(np.array([1.0, np.nan, 2.0]))
