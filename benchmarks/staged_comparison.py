"""The model card's comparison table of the staged pipeline and its comparators, from the reports that measured them.

Every number comes from a report written by a command of this repository (named in the table's notes):

- **real stacks** (``benchmarks/real_scans.py``, one report folder per method): native-grid Dice per class (mean over
  stacks), LVEF mean absolute error (points, subjects with both phases) and the held-out-slice PSNR / SSIM on the
  heart region (mean over dropped slices; ``linear`` and ``bspline`` rows of any report are the classic
  interpolations);
- **generated test split** and **detailed anatomy test split** (``benchmarks/compare_methods.py``): 3D Dice per class
  on the HR grid (classic methods: the LR label maps up-sampled, the oracle-label floor);
- **seconds per stack**: the Speed table of ``compare_methods.py``'s report on the generated test split (2 CPU
  threads, model loading excluded).

Usage::

    .venv/bin/python benchmarks/staged_comparison.py --out benchmarks/results/staged_comparison.md
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path

import fire

from custom_networks.core.nifti import write_text_atomic

RESULTS = Path(__file__).resolve().parent / "results"

#: Method -> (name in compare_methods, real_scans report folder or None, what it is).
METHODS: dict[str, tuple[str | None, str | None, str]] = {
    "staged (default: stage 1 + conditioned Gemini-GAN)": ("staged", "real_scans_staged", "shipped"),
    "stage 1 alone (slice segmenter, linear between slices)": ("slice_segmenter", "real_scans_slices", "shipped"),
    "image-only Gemini-GAN (the paper's; synthetic-only weights)": ("gemini_gan", "real_scans", "shipped"),
    "linear interpolation (labels: oracle LR labels)": ("classic_linear", None, "classic"),
    "cubic B-spline (labels: oracle LR labels)": ("classic_bspline", None, "classic"),
}


def _rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def _mean(values) -> float:
    values = [float(v) for v in values if v not in ("", None) and math.isfinite(float(v))]
    return sum(values) / len(values) if values else math.nan


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


def _generated(report: Path, method: str) -> str:
    rows = [r for r in _rows(report / "cases.csv") if r["method"] == method]
    if not rows:
        return "not run"
    return " / ".join(_fmt(_mean(r[f"dice_{c}"] for r in rows)) for c in ("lv", "myo", "rv"))


def _seconds(report: Path, method: str) -> str:
    """Seconds per volume from the report's "Speed" table (``compare_methods.py`` times each method's process)."""
    summary = report / "summary.md"
    if not summary.is_file():
        return "n/a"
    speed = summary.read_text().split("## Speed", 1)
    for line in speed[1].splitlines() if len(speed) == 2 else []:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == method:
            return cells[1]
    return "n/a"


def _real(folder: Path, method: str | None, interpolation: str | None) -> tuple[str, str, str]:
    """Native-grid Dice, LVEF MAE and held-out PSNR / SSIM of one report (or one interpolation row of it)."""
    dice = lvef = "n/a"
    if interpolation is None:
        cases = _rows(folder / "cases.csv")
        if cases:
            dice = " / ".join(_fmt(_mean(r[f"dice_{c}"] for r in cases)) for c in ("lv", "myo", "rv"))
        clinical = _rows(folder / "clinical.csv")
        if clinical:
            lvef = _fmt(100 * _mean(abs(float(r["err_LVEF"])) for r in clinical if r["err_LVEF"]), 1)
    held = [r for r in _rows(folder / "held_out.csv") if r["method"] == (interpolation or method)]
    sr = "n/a"
    if held:
        sr = f"{_fmt(_mean(r['psnr_heart'] for r in held), 2)} / {_fmt(_mean(r['ssim_heart'] for r in held))}"
    return dice, lvef, sr


def main(
    out: str | None = None,
    generated: str = str(RESULTS / "comparison"),
    realistic: str = str(RESULTS / "comparison_realistic"),
    real: Mapping[str, str] | None = None,
) -> str:
    """Print (and write) the comparison table.

    Args:
        out: markdown file to write (atomically).
        generated: ``compare_methods.py`` report on the generated test split.
        realistic: ``compare_methods.py`` report on the detailed-anatomy test split.
        real: method name in ``METHODS`` -> ``real_scans.py`` report folder, to override the defaults.
    """
    real = dict(real or {})
    staged_real = RESULTS / (real.get("staged") or METHODS[next(iter(METHODS))][1])
    lines = [
        "| method | real stacks: native-grid Dice LV / myo / RV | real: LVEF MAE (points) | real: held-out-slice "
        "PSNR (dB) / SSIM, heart | generated test: 3D Dice LV / myo / RV | detailed anatomy: 3D Dice LV / myo / RV | "
        "seconds per generated stack |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, (compare_name, folder, kind) in METHODS.items():
        if kind == "classic":
            interpolation = "linear" if compare_name == "classic_linear" else "bspline"
            dice, lvef, sr = _real(staged_real, None, interpolation)
            dice, lvef = "n/a (no labels)", "n/a"
        else:
            dice, lvef, sr = _real(RESULTS / folder, "gemini_gan_bundle", None)
            if compare_name == "slice_segmenter" and sr == "n/a":
                sr = _real(staged_real, None, "linear")[2] + " (its SR is the linear interpolation)"
        lines.append(
            f"| {name} | {dice} | {lvef} | {sr} | {_generated(Path(generated), compare_name)} | "
            f"{_generated(Path(realistic), compare_name)} | {_seconds(Path(generated), compare_name)} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        write_text_atomic(Path(out), text)
    return text


if __name__ == "__main__":
    fire.Fire(main)
