"""Markdown table (mean +- sd over cases) of an evaluation folder written by a bundle's ``evaluate.json``
(MONAI ``MetricsSaver`` ``*_raw.csv`` files).

Usage: ``python -m custom_networks.metric_table gemini_gan_bundle/eval [--out table.md]``
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from custom_networks.core.cli import run_cli
from custom_networks.core.labels import FOREGROUND_LABELS, LABEL_NAMES

__all__ = ["metric_table", "read_raw"]


#: (row title, raw-file stem, per-class?) in table order.
ROWS = (
    ("3D Dice", "val_mean_dice", True),
    ("3D HD95 (mm)", "val_hd95_mm", True),
    ("SR PSNR 3D (dB)", "val_psnr", False),
    ("SR SSIM 3D", "val_ssim", False),
    ("Dice, gemini-compat per slice", "compat_dice", True),
    ("SR PSNR, gemini-compat (dB)", "compat_psnr", False),
    ("SR SSIM, gemini-compat", "compat_ssim", False),
    ("Translation PSNR vs source twin (dB)", "translation_psnr", False),
    ("Translation SSIM vs source twin", "translation_ssim", False),
)


def read_raw(path: str | Path) -> np.ndarray:
    """Per-case values of a ``<metric>_raw.csv``: array ``(cases, classes)`` (the per-case ``mean`` column of
    multi-class metrics is dropped)."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        columns = [c for c in reader.fieldnames or [] if c.startswith("class")]
        return np.asarray([[float(row[c]) for c in columns] for row in reader], dtype=float)


def _fmt(values: np.ndarray, digits: int) -> str:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "n/a"
    text = f"{finite.mean():.{digits}f} +- {finite.std():.{digits}f}"
    return text if finite.size == values.size else f"{text} ({values.size - finite.size} undefined)"


def metric_table(eval_dir: str | Path) -> str:
    """Markdown table of every metric found in ``eval_dir``."""
    eval_dir = Path(eval_dir)
    names = [LABEL_NAMES[c] for c in FOREGROUND_LABELS]
    lines = [f"| metric | {' | '.join(names)} |", "| --- | --- | --- | --- |"]
    n_cases = 0
    for title, stem, per_class in ROWS:
        path = eval_dir / f"{stem}_raw.csv"
        if not path.is_file():
            continue
        data = read_raw(path)
        n_cases = max(n_cases, len(data))
        digits = 3 if ("Dice" in title or "SSIM" in title) else 2
        if per_class:
            cells = [_fmt(data[:, c], digits) for c in range(min(data.shape[1], len(names)))]
        else:
            cells = [_fmt(data[:, 0], digits), "", ""]
        lines.append(f"| {title} | {' | '.join(cells)} |")
    if n_cases == 0:
        raise FileNotFoundError(f"{eval_dir}: no *_raw.csv metric files (run the bundle's evaluate.json first)")
    return "\n".join(lines) + f"\n\nmean +- sd over {n_cases} test cases (ED and ES of each test subject)."


def main(eval_dir: str, out: str | None = None, overwrite: bool = False) -> None:
    """Print (and optionally write) the table.

    Args:
        eval_dir: the evaluation folder.
        out: a Markdown file to write the table to.
        overwrite: replace an existing ``out``.
    """
    from custom_networks.core.errors import InputError
    from custom_networks.core.nifti import write_text_atomic

    if out and Path(out).exists() and not overwrite:
        raise InputError(f"{out}: exists (pass --overwrite True to replace it)")
    table = metric_table(eval_dir)
    print(table)
    if out:
        write_text_atomic(out, table + "\n")


if __name__ == "__main__":
    sys.exit(run_cli(main, name="python -m custom_networks.metric_table", path_options=("--out",)))
