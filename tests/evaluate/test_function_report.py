"""Per-subject cardiac function outputs (JSON, CSV, PNG) and the cohort table."""

from __future__ import annotations

import csv
import io
import json
import math
import os

import numpy as np
import pytest

from custom_networks.core.errors import InputError
from custom_networks.evaluate import FUNCTION_COLUMNS, cohort_table, function_row, write_function_outputs
from custom_networks.metrics import QC_FLAGS, QCResult, cardiac_function

T = 20
NAMES = ["s01_function.csv", "s01_function.json", "s01_volume_curves.png"]


def no_nan(token: str):
    raise AssertionError(f"{token} written into JSON")


@pytest.fixture
def outputs():
    """A result with undefined RV indices (no RV segmented) and a QC with one failed flag."""
    lv = 100.0 + 50.0 * np.cos(2 * np.pi * (np.arange(T) - 4) / T)  # ED 4 (150 mL), ES 14 (50 mL)
    result = cardiac_function({"LV": lv, "MYO": np.full(T, 100.0), "RV": np.zeros(T)}, 40.0)
    flags = dict.fromkeys(QC_FLAGS, True) | {"volumes_plausible": False}
    qc = QCResult(flags=flags, reasons=["volumes_plausible: RVEDV_ml not computed (no RV in the ED frame (4))"])
    return result, qc


def test_files_json_and_csv(tmp_path, outputs):
    result, qc = outputs
    paths = write_function_outputs(result, qc, tmp_path / "out", "s01")
    assert [p.name for p in paths] == ["s01_function.json", "s01_function.csv", "s01_volume_curves.png"]
    assert sorted(os.listdir(tmp_path / "out")) == NAMES  # no temporary file left behind

    doc = json.loads(paths[0].read_text(), parse_constant=no_nan)
    assert doc["subject"] == "s01" and (doc["ed_frame"], doc["es_frame"]) == (4, 14)
    assert doc["indices"]["LVEDV_ml"] == pytest.approx(150.0) and doc["indices"]["LVEF_pct"] == pytest.approx(200 / 3)
    assert doc["indices"]["RVEDV_ml"] is None and doc["reasons"]["RVEDV_ml"] == "no RV in the ED frame (4)"
    assert doc["units"]["LVEDV_ml"] == "mL" and doc["units"]["LV_PER_ml_s"] == "mL/s"
    assert doc["units"]["LVEF_pct"] == "%" and doc["units"]["LVM_g"] == "g"
    assert doc["frame_interval_ms"] == 40.0 and doc["time_ms"][:3] == [0.0, 40.0, 80.0]
    assert len(doc["curves_ml"]["LV"]) == T and doc["curves_ml"]["LV"][4] == pytest.approx(150.0)
    assert doc["qc"]["passed"] is False and doc["qc"]["flags"]["volumes_plausible"] is False
    assert doc["curve_unit"] == "mL" and doc["time_unit"] == "ms"

    header, *rows = list(csv.reader(io.StringIO(paths[1].read_text())))
    assert header == list(FUNCTION_COLUMNS) and len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["subject"] == "s01" and row["LVEDV_ml"] == "150" and row["LVEF_pct"] == "66.6667"
    assert row["RVEDV_ml"] == "" and row["RVEF_pct"] == ""  # undefined: empty, never 0
    assert (row["ED_frame"], row["ES_frame"], row["qc_pass"]) == ("4", "14", "False")
    assert row["qc_reasons"] == qc.reasons[0]

    png = paths[2].read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000


def test_existing_outputs_are_refused(tmp_path, outputs):
    result, qc = outputs
    paths = write_function_outputs(result, qc, tmp_path, "s01")
    before = {p: p.read_bytes() for p in paths}
    with pytest.raises(InputError, match="s01_function.json"):
        write_function_outputs(result, qc, tmp_path, "s01")
    paths[0].unlink()  # one output left over is enough to refuse
    with pytest.raises(InputError, match="s01_function.csv.*exists"):
        write_function_outputs(result, qc, tmp_path, "s01")
    assert not paths[0].exists() and paths[1].read_bytes() == before[paths[1]]
    write_function_outputs(result, qc, tmp_path, "s01", overwrite=True)
    assert sorted(os.listdir(tmp_path)) == NAMES
    with pytest.raises(InputError, match="subject"):
        write_function_outputs(result, qc, tmp_path, "../s02")


def test_unknown_frame_interval_and_missing_ed_es(tmp_path):
    flat = {"LV": np.full(T, 120.0), "MYO": np.full(T, 100.0), "RV": np.full(T, 130.0)}
    result = cardiac_function(flat, None)
    qc = QCResult(flags={"ed_es_found": False}, reasons=["ed_es_found: flat LV volume curve"])
    paths = write_function_outputs(result, qc, tmp_path, "s02")
    doc = json.loads(paths[0].read_text(), parse_constant=no_nan)
    assert doc["frame_interval_ms"] is None and doc["time_ms"] is None
    assert doc["ed_frame"] is None and "flat" in doc["ed_es_reason"]
    assert all(doc["indices"][k] is None for k in ("LVEDV_ml", "LVEF_pct", "LV_PER_ml_s"))
    row = next(csv.DictReader(io.StringIO(paths[1].read_text())))
    assert row["ED_frame"] == "" and row["LVEDV_ml"] == "" and row["qc_pass"] == "False"
    assert paths[2].stat().st_size > 5000


def test_cohort_table(outputs):
    result, qc = outputs
    first = function_row(result, qc, "s01")
    second = dict(reversed(list(function_row(result, qc, "s02").items()))) | {"site": "B", "LVEDV_ml": math.nan}
    text = cohort_table([first, second])
    lines = text.splitlines()
    assert lines[0] == ",".join([*FUNCTION_COLUMNS, "site"])  # fixed columns first, then extras, whatever the order
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["subject"] for r in rows] == ["s01", "s02"]
    assert rows[0]["LVEDV_ml"] == "150" and rows[1]["LVEDV_ml"] == "" and rows[0]["site"] == ""
    assert rows[1]["site"] == "B" and rows[1]["RVEF_pct"] == ""
    with pytest.raises(InputError, match="appears twice"):
        cohort_table([first, first])
    with pytest.raises(InputError, match="no subject"):
        cohort_table([{"LVEDV_ml": 1.0}])
    assert cohort_table([]) == ",".join(FUNCTION_COLUMNS) + "\n"
