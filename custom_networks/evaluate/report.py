"""Writing an evaluation: per-case CSV, clinical CSV, skipped cases, and a markdown summary (mean +- sd per method)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from custom_networks.evaluate.pipeline import Evaluation

__all__ = ["SUMMARY_TABLES", "format_mean_sd", "summary_markdown", "write_tables"]

_CLASSES = (("lv", "LV blood pool"), ("myo", "LV myocardium"), ("rv", "RV"))

#: Markdown tables of the summary: title -> [(column header, metric key, digits)].
SUMMARY_TABLES: dict[str, list[tuple[str, str, int]]] = {
    "Segmentation, 3D Dice": [(name, f"dice_{key}", 3) for key, name in _CLASSES],
    "Segmentation, 3D surface distances (mm)": [
        (f"{label} {name}", f"{metric}_{key}", 2)
        for metric, label in (("hd95", "HD95"), ("msd", "MSD"))
        for key, name in _CLASSES
    ],
    "Super-resolved image (3D, [0, 1] percentile scale)": [
        ("PSNR (dB)", "psnr", 2),
        ("SSIM", "ssim", 3),
        ("PSNR heart region (dB)", "psnr_heart", 2),
        ("SSIM heart region", "ssim_heart", 3),
    ],
    "Original per-slice protocol (gemini-compat)": [
        *[(f"Dice {name}", f"compat_dice_{key}", 3) for key, name in _CLASSES],
        ("PSNR (dB)", "compat_psnr", 2),
        ("SSIM", "compat_ssim", 3),
    ],
}

_CLINICAL = [
    ("LVEDV (mL)", "LVEDV_ml", 1),
    ("LVESV (mL)", "LVESV_ml", 1),
    ("LVEF", "LVEF", 3),
    ("LV mass (g)", "LVM_g", 1),
    ("RVEDV (mL)", "RVEDV_ml", 1),
    ("RVESV (mL)", "RVESV_ml", 1),
    ("RVEF", "RVEF", 3),
]


def format_mean_sd(values: Sequence[float], digits: int) -> str:
    """``mean +- sd`` of the defined values (with ``(n=k)`` when some are undefined); ``n/a`` when none is."""
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    ok = arr[np.isfinite(arr)]
    if ok.size == 0:
        return "n/a"
    text = f"{ok.mean():.{digits}f} +- {ok.std(ddof=1) if ok.size > 1 else 0.0:.{digits}f}"
    return text if ok.size == arr.size else f"{text} (n={ok.size})"


def _write_csv(path: Path, rows: list[dict], first: Sequence[str]) -> None:
    keys = list(first) + sorted({k for row in rows for k in row} - set(first))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})


def write_tables(evaluation: Evaluation, out_dir: Path) -> None:
    """``cases.csv`` (one row per method and case), ``clinical.csv`` (per method and subject), ``skipped.csv``.

    Undefined values are empty cells (never 0 or 1)."""
    rows = [{"method": r.method, "case": r.case, **r.scores, "notes": "; ".join(r.notes)} for r in evaluation.results]
    _write_csv(out_dir / "cases.csv", rows, ["method", "case"])
    _write_csv(out_dir / "clinical.csv", evaluation.clinical, ["method", "subject"])
    skipped = [{"method": m, "case": c, "reason": reason} for m, c, reason in evaluation.skipped]
    _write_csv(out_dir / "skipped.csv", skipped, ["method", "case", "reason"])


def _table(methods: Sequence[str], columns: list[tuple[str, str, int]], values) -> list[str]:
    lines = ["| method | n | " + " | ".join(c[0] for c in columns) + " |", "|" + " --- |" * (len(columns) + 2)]
    for method in methods:
        n, cells = values(method, columns)
        lines.append(f"| {method} | {n} | " + " | ".join(cells) + " |")
    return lines


def summary_markdown(evaluation: Evaluation, command: str, figures: Sequence[str] = ()) -> str:
    """The summary: one table per metric family (mean +- sd over cases), clinical errors, speed, skipped cases."""
    methods = list(evaluation.methods)
    by_method = {m: [r for r in evaluation.results if r.method == m] for m in methods}
    out = [
        "# Evaluation report",
        "",
        f"Made by: `{command}`",
        "",
        "Mean +- sd over cases (`(n=k)`: the metric is defined on k cases only; `n/a`: on none). Per-case values:"
        " `cases.csv`; skipped cases and why: `skipped.csv`.",
    ]
    for title, columns in SUMMARY_TABLES.items():
        keys = [c[1] for c in columns]
        if not any(k in r.scores for rs in by_method.values() for r in rs for k in keys):
            continue

        def cells(method, columns):
            rs = by_method[method]
            return len(rs), [format_mean_sd([r.scores.get(k, float("nan")) for r in rs], d) for _, k, d in columns]

        out += ["", f"## {title}", "", *_table(methods, columns, cells)]
    if evaluation.clinical:
        present = [c for c in _CLINICAL if any(f"err_{c[1]}" in row for row in evaluation.clinical)]

        def clinical_cells(method, columns):
            rows = [row for row in evaluation.clinical if row["method"] == method]
            return len(rows), [
                format_mean_sd([row.get(f"err_{k}", float("nan")) for row in rows], d) for _, k, d in columns
            ]

        out += [
            "",
            "## Clinical indices: error (prediction - reference), per subject",
            "",
            *_table(methods, present, clinical_cells),
        ]
    if evaluation.timing:
        out += [
            "",
            "## Speed",
            "",
            "| method | seconds per volume | peak memory (MB) | device |",
            "| --- | --- | --- | --- |",
        ]
        for method in methods:
            t = evaluation.timing.get(method)
            if t:
                out.append(
                    f"| {method} | {t.get('seconds_per_volume', float('nan')):.2f} | "
                    f"{t.get('peak_memory_mb', float('nan')):.0f} | {t.get('device', 'cpu')} |"
                )
    notes = sorted({n for r in evaluation.results for n in r.notes if "resampled" in n})
    if notes:
        out += ["", "## Geometry", "", *[f"- {n}" for n in notes]]
    if evaluation.skipped:
        out += ["", f"## Skipped ({len(evaluation.skipped)})", ""]
        out += [f"- {method} / {case}: {reason}" for method, case, reason in evaluation.skipped]
    if figures:
        out += ["", "## Figures", "", *[f"![{Path(f).stem}]({f})" for f in figures]]
    return "\n".join(out) + "\n"
