"""Quality control of cardiac function: a good generated heart passes, each kind of defect fails its own flag."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from custom_networks.core.errors import InputError
from custom_networks.metrics import QC_FLAGS, cardiac_function, function_qc, volume_curves

SPACING = (2.0, 2.0, 8.0)
SHAPE = (96, 72, 12)
HEART = range(2, 10)  # 8 slices: the middle third is slices 4..7
MID = (4, 5, 6, 7)
T = 20


def heart_frame(lv_ml: float, rv_ml: float, myo_ml: float = 100.0) -> np.ndarray:
    """Cylindrical heart: LV blood-pool disc in a myocardial ring, RV disc beside it, on slices 2..9."""
    x, y = np.meshgrid((np.arange(SHAPE[0]) + 0.5) * 2.0, (np.arange(SHAPE[1]) + 0.5) * 2.0, indexing="ij")
    height = len(HEART) * SPACING[2]
    r_lv = math.sqrt(lv_ml * 1000 / (math.pi * height))
    r_epi = math.sqrt(r_lv**2 + myo_ml * 1000 / (math.pi * height))
    r_rv = math.sqrt(rv_ml * 1000 / (math.pi * height))
    section = np.zeros(SHAPE[:2], np.uint8)
    section[np.hypot(x - 130.0, y - 72.0) <= r_rv] = 3
    section[np.hypot(x - 60.0, y - 72.0) <= r_epi] = 2
    section[np.hypot(x - 60.0, y - 72.0) <= r_lv] = 1
    frame = np.zeros(SHAPE, np.uint8)
    frame[:, :, HEART.start : HEART.stop] = section[:, :, None]
    return frame


def volumes(t: int) -> tuple[float, float]:
    """LV and RV volume at frame t: ED at frame 2 (150 / 160 mL), ES at frame 12 (60 / 70 mL)."""
    w = (1 + np.cos(2 * np.pi * (t - 2) / T)) / 2
    return 60.0 + 90.0 * w, 70.0 + 90.0 * w


@pytest.fixture(scope="module")
def heart():
    """``(ed_label, es_label, result)`` of a good generated cine."""
    curves = volume_curves((heart_frame(*volumes(t)) for t in range(T)), SPACING)
    result = cardiac_function(curves, 40.0)
    assert (result.ed_frame, result.es_frame) == (2, 12)
    return heart_frame(*volumes(2)), heart_frame(*volumes(12)), result


def failed(qc) -> set[str]:
    return {name for name, ok in qc.flags.items() if ok is False}


def test_a_good_heart_passes(heart):
    ed, es, result = heart
    qc = function_qc(ed, es, result, SPACING)
    assert qc.passed and qc.reasons == [] and list(qc.flags) == list(QC_FLAGS)
    assert qc.measures["min_lv_enclosure"] == 1.0
    assert qc.measures["max_curve_residual_of_sv"] < 0.05
    doc = json.loads(json.dumps(qc.to_dict(), allow_nan=False))
    assert doc["passed"] is True and doc["flags"]["curve_smooth"] is True
    # The same heart with the slices stacked along axis 0.
    assert function_qc(np.moveaxis(ed, 2, 0), np.moveaxis(es, 2, 0), result, SPACING, slice_axis=0).passed


def test_rv_missing_on_a_mid_slice_fails_structures(heart):
    ed, es, result = heart
    broken = ed.copy()
    broken[..., 5][broken[..., 5] == 3] = 0
    qc = function_qc(broken, es, result, SPACING)
    assert failed(qc) == {"structures_on_mid_slices"} and not qc.passed
    assert qc.reasons == ["structures_on_mid_slices: ED slice 5: no RV"]
    broken_es = es.copy()
    broken_es[..., 6][broken_es[..., 6] == 3] = 0
    assert function_qc(ed, broken_es, result, SPACING).reasons == ["structures_on_mid_slices: ES slice 6: no RV"]
    basal = ed.copy()
    basal[..., 2][basal[..., 2] == 3] = 0  # outside the middle third: not checked
    assert function_qc(basal, es, result, SPACING).passed


def test_open_myocardial_ring_fails_enclosure(heart):
    ed, es, result = heart
    broken = ed.copy()
    x, y = np.meshgrid(np.arange(SHAPE[0]) + 0.5, np.arange(SHAPE[1]) + 0.5, indexing="ij")
    angle = np.degrees(np.arctan2(y - 36.0, x - 30.0))  # about the LV centre (60, 72) mm, in voxels
    section = broken[..., 6]
    section[(section == 2) & (np.abs(angle) < 45)] = 0  # a 90 degree gap in the ring
    qc = function_qc(broken, es, result, SPACING)
    assert failed(qc) == {"lv_enclosed_by_myocardium"}
    assert qc.measures["min_lv_enclosure"] == pytest.approx(0.75, abs=0.05)
    assert "ED slice 6" in qc.reasons[0]


def test_absurd_volumes_fail_plausibility(heart, caplog):
    ed, es, result = heart
    scaled = cardiac_function({k: 10 * v for k, v in result.curves.items()}, 40.0)  # LVEDV about 1500 mL
    qc = function_qc(ed, es, scaled, SPACING)
    assert failed(qc) == {"volumes_plausible"}
    assert re.search(r"LVEDV_ml = 15\d\d\.\d outside 20-500", qc.reasons[0]) and "LVM_g" in qc.reasons[0]
    assert "LVEF_pct" not in qc.reasons[0]  # the ejection fractions are unchanged by the scaling
    # The label maps no longer match the curves: logged, not fatal.
    assert "are the label map and the result from the same cine" in caplog.text


def test_jagged_curve_fails_smoothness(heart):
    ed, es, result = heart
    curves = dict(result.curves)
    curves["LV"] = curves["LV"] + 0.2 * 90.0 * (-1.0) ** np.arange(T)  # frames alternate by +-20 % of SV
    jagged = cardiac_function(curves, 40.0)
    qc = function_qc(ed, es, jagged, SPACING)
    assert "curve_smooth" in failed(qc) and qc.flags["ed_es_found"]
    assert qc.measures["max_curve_residual_of_sv"] > 0.15
    jump = dict(result.curves)
    jump["LV"] = jump["LV"].copy()
    jump["LV"][7] += 0.4 * 90.0  # one frame jumps by 40 % of SV
    assert failed(function_qc(ed, es, cardiac_function(jump, 40.0), SPACING)) == {"curve_smooth"}


def test_unevaluable_flags_fail_with_reasons(heart):
    ed, es, result = heart
    flat = {"LV": np.full(T, 120.0), "MYO": np.full(T, 100.0), "RV": result.curves["RV"]}
    qc = function_qc(ed, es, cardiac_function(flat, 40.0), SPACING)
    assert {"ed_es_found", "curve_smooth", "volumes_plausible"} <= failed(qc)
    assert any(r.startswith("ed_es_found: flat LV") for r in qc.reasons)
    empty = np.zeros_like(ed)
    qc = function_qc(empty, None, result, SPACING)
    assert {"structures_on_mid_slices", "lv_enclosed_by_myocardium"} <= failed(qc)
    assert "no LV blood pool in the ED label map" in qc.reasons[0]
    with pytest.raises(InputError, match="es_label: shape"):
        function_qc(ed, es[:-1], result, SPACING)
    with pytest.raises(InputError, match="slice_axis"):
        function_qc(ed, es, result, SPACING, slice_axis=3)


def test_curve_check_does_not_apply_to_an_ed_es_pair(heart):
    ed, es, result = heart
    pair = {k: np.asarray(v)[[result.ed_frame, result.es_frame]] for k, v in result.curves.items()}
    qc = function_qc(ed, es, cardiac_function(pair, None, ed=0, es=1), SPACING)
    assert qc.flags["curve_smooth"] is None and qc.passed  # not applicable: neither a pass nor a failure
    assert qc.notes == ["curve_smooth: not checked (2 frames; the check needs at least 6)"]
    assert qc.to_dict()["flags"]["curve_smooth"] is None
