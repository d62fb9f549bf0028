"""Cardiac function outputs of one subject (``<subject>_function.json``, ``<subject>_function.csv``,
``<subject>_volume_curves.png``) and the cohort table that merges the subjects' rows.

Every file is written atomically (temporary name in the same folder, then rename), and existing outputs are refused
unless ``overwrite``. Undefined values are ``null`` in JSON and empty cells in CSV, never 0.
"""

from __future__ import annotations

import csv
import io
import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from custom_networks.core.errors import InputError
from custom_networks.core.labels import LABEL_COLORS
from custom_networks.core.nifti import check_output_folder, save_figure, write_text_atomic
from custom_networks.metrics.cardiac_cycle import CURVE_KEYS, INDEX_NAMES, FunctionResult
from custom_networks.metrics.quality_control import QCResult

__all__ = ["FUNCTION_COLUMNS", "cohort_table", "function_row", "write_function_outputs"]

#: Columns of the per-subject CSV and, first and in this order, of the cohort table.
FUNCTION_COLUMNS: tuple[str, ...] = ("subject", *INDEX_NAMES, "ED_frame", "ES_frame", "qc_pass", "qc_reasons")

_CURVE_NAMES = {"LV": "LV blood pool", "MYO": "LV myocardium", "RV": "RV blood pool"}


def function_row(result: FunctionResult, qc: QCResult, subject: str) -> dict:
    """The table row of one subject: :data:`FUNCTION_COLUMNS` (indices NaN when undefined).

    Args:
        result: the subject's cardiac function.
        qc: its quality control.
        subject: subject identifier.

    Returns:
        ``{"subject", <indices>, "ED_frame", "ES_frame", "qc_pass", "qc_reasons"}`` (``qc_reasons`` joined by
        ``"; "``).
    """
    return {"subject": subject, **result.row(), "qc_pass": qc.passed, "qc_reasons": "; ".join(qc.reasons)}


def _cell(value) -> str | int:
    """A CSV cell: empty for None / NaN, 6 significant digits for floats, ``True`` / ``False`` for booleans."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return "" if math.isnan(value) else f"{float(value):.6g}"
    return str(value)


def cohort_table(rows: Sequence[Mapping]) -> str:
    """CSV text of a cohort: a header, then one row per subject in the given order.

    Columns: :data:`FUNCTION_COLUMNS` first, then any other keys of the rows in alphabetical order (a stable order
    whatever the order of the keys in each row). NaN and None are empty cells, floats have 6 significant digits,
    booleans are ``True`` / ``False``.

    Args:
        rows: per subject, e.g. :func:`function_row` (a row may lack columns: empty cells).

    Returns:
        The CSV text (``\\n`` line ends).

    Raises:
        InputError: a row without ``subject``, or two rows of the same subject.
    """
    seen: set[str] = set()
    for i, row in enumerate(rows):
        subject = row.get("subject")
        if subject in (None, ""):
            raise InputError(f"rows[{i}]: no subject")
        if subject in seen:
            raise InputError(f"rows[{i}]: subject {subject!r} appears twice")
        seen.add(subject)
    extra = sorted({key for row in rows for key in row} - set(FUNCTION_COLUMNS))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*FUNCTION_COLUMNS, *extra], restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return buffer.getvalue()


def _percent(value: float) -> str:
    """``"61.2 %"``, or ``"n/a"`` for NaN."""
    return "n/a" if math.isnan(value) else f"{value:.1f} %"


def _curve_figure(result: FunctionResult, qc: QCResult, subject: str):
    """Volume curves of the three structures over the cycle, ED / ES marked."""
    n = result.n_frames
    interval = result.frame_interval_ms
    timed = interval is not None and math.isfinite(interval) and interval > 0
    x = np.arange(n) * interval if timed else np.arange(n)
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.subplots()
    for key, name in _CURVE_NAMES.items():
        ax.plot(x, result.curves[key], marker="o", markersize=3, color=LABEL_COLORS[CURVE_KEYS[key]], label=name)
    for frame, phase in ((result.ed_frame, "ED"), (result.es_frame, "ES")):
        if frame is not None:
            ax.axvline(x[frame], color="0.3", linestyle="--", linewidth=1)
            ax.annotate(
                f"{phase} (frame {frame})",
                xy=(x[frame], 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12),
                textcoords="offset points",
                fontsize=8,
            )
    if result.ed_frame is None or result.es_frame is None:
        note = textwrap.fill(f"ED / ES not found: {result.ed_es_reason}", width=100)
        ax.text(0.01, 0.02, note, transform=ax.transAxes, fontsize=7, verticalalignment="bottom")
    if not timed:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("time (ms)" if timed else "frame (frame interval unknown)")
    ax.set_ylabel("volume (mL)")
    top = max(float(np.max(c)) for c in result.curves.values())
    ax.set_ylim(0, 1.12 * top if top > 0 else 1.0)  # room for the ED / ES labels above the curves
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(
        f"{subject}: LVEF {_percent(result.indices['LVEF_pct'])}, RVEF {_percent(result.indices['RVEF_pct'])}"
        f"  (QC {'passed' if qc.passed else 'failed'})",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def write_function_outputs(
    result: FunctionResult, qc: QCResult, out_dir: str | Path, subject: str, overwrite: bool = False
) -> list[Path]:
    """Write one subject's cardiac function outputs into ``out_dir``.

    * ``<subject>_function.json``: ``subject``, ``indices`` (null when undefined), ``units``, ``reasons`` (why an
      index is null), ``ed_frame``, ``es_frame``, ``ed_es_reason``, ``n_frames``, ``frame_interval_ms``,
      ``curves_ml`` (``LV``, ``MYO``, ``RV``: mL per frame), ``time_ms`` (null when the interval is unknown),
      ``curve_unit``, ``time_unit`` and ``qc`` (``passed``, ``flags``, ``reasons``, ``measures``).
    * ``<subject>_function.csv``: a header and one row, columns :data:`FUNCTION_COLUMNS` (:func:`cohort_table`).
    * ``<subject>_volume_curves.png``: LV blood pool, LV myocardium and RV volume (mL) against time (ms; frame number
      when the interval is unknown), ED and ES marked, LVEF / RVEF in the title.

    Each file is written under a temporary name in ``out_dir`` and renamed into place; the figure goes first, so a
    failure while drawing leaves no output.

    Args:
        result: the subject's cardiac function.
        qc: its quality control.
        out_dir: output folder (created if needed).
        subject: subject identifier; names the files.
        overwrite: replace existing outputs.

    Returns:
        The paths written: JSON, CSV, PNG.

    Raises:
        InputError: ``subject`` is empty, hidden or contains a path separator; ``out_dir`` cannot be written; an output
            exists and ``overwrite`` is False (the message names it; nothing is written).
    """
    if not subject or subject.startswith(".") or any(sep in subject for sep in ("/", "\\")):
        raise InputError(f"subject: {subject!r} cannot name output files (empty, hidden or with a path separator)")
    out_dir = Path(out_dir)
    json_path = out_dir / f"{subject}_function.json"
    csv_path = out_dir / f"{subject}_function.csv"
    png_path = out_dir / f"{subject}_volume_curves.png"
    paths = [json_path, csv_path, png_path]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise InputError(f"{', '.join(existing)}: exists (pass overwrite=True to replace)")
    check_output_folder(out_dir)

    document = {
        "subject": subject,
        **result.to_dict(),
        "curve_unit": "mL",
        "time_unit": "ms",
        "frame_numbering": "0-based: frame 0 is the first frame of the input (ITK-SNAP and 3D Slicer show it as 1)",
        "qc": qc.to_dict(),
    }
    json_text = json.dumps(document, indent=1, allow_nan=False) + "\n"
    csv_text = cohort_table([function_row(result, qc, subject)])
    save_figure(_curve_figure(result, qc, subject), png_path)
    write_text_atomic(json_path, json_text)
    write_text_atomic(csv_path, csv_text)
    return paths
