"""``python -m custom_networks.evaluate --pred DIR --ref DIR --out REPORT_DIR``: score, tabulate and draw."""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import atomic_output_dir, check_new_output_dir
from custom_networks.evaluate.figures import case_montage, metric_boxplots
from custom_networks.evaluate.pipeline import Evaluation, score_methods
from custom_networks.evaluate.report import summary_markdown, write_tables

__all__ = ["evaluate"]

logger = logging.getLogger(__name__)

#: Writer named in a report folder's marker: ``overwrite`` replaces only a report folder this command wrote.
WRITER = "custom_networks.evaluate"


def evaluate(
    pred: str | os.PathLike | Mapping[str, str | os.PathLike],
    ref: str | os.PathLike,
    out: str | os.PathLike,
    split: str = "test",
    label_map: Mapping[int, int] | None = None,
    margin_mm: float = 10.0,
    figures: bool = True,
    overwrite: bool = False,
    command: str | None = None,
) -> Evaluation:
    """Score predictions against references in world coordinates and write a report folder.

    The folder gets ``cases.csv`` (one row per method and case: 3D Dice / HD95 / MSD per class, PSNR / SSIM on the
    whole volume and the heart region, gemini-compat values, notes), ``clinical.csv`` (per method and subject:
    LV / RV volumes, LV mass, ejection fractions when both phases are there, and their errors), ``skipped.csv``,
    ``summary.md`` (mean +- sd per method) and ``figures/`` (box plots; best / median / worst montage per method).
    The folder is written complete or not at all.

    Args:
        pred: a prediction folder (``<case>_seg.nii.gz`` / ``<case>_sr.nii.gz``), a folder of such folders (one per
            method), or a mapping ``{method: folder}``. A ``timing.json`` in a method's folder
            (``seconds_per_volume``, ``peak_memory_mb``, ``device``) is reported as its speed.
        ref: a generated dataset folder (``dataset.json``), or a folder of ``<case>_label.nii.gz`` /
            ``<case>_image.nii.gz`` files.
        out: report folder to create.
        split: dataset split scored when ``ref`` is a generated dataset (``"all"``: every split).
        label_map: label values mapped before scoring, e.g. ``{4: 3}`` for files using 4 for RV.
        margin_mm: margin around the reference heart of the heart-region image metrics (mm).
        figures: draw the PNG figures.
        overwrite: replace an existing non-empty ``out`` that this command wrote (never another folder, nor the
            current working folder).
        command: the command to name in the summary as its maker (default: this process's command line).

    Raises:
        InputError: missing folders, no reference, no prediction matching a reference case, a label map that is
            not a mapping, an ``out`` that may not be written or replaced (checked first), or no case that could be
            scored (nothing is written then).
    """
    if label_map is not None and not isinstance(label_map, Mapping):
        raise InputError(f"--label_map must be a mapping of label values, e.g. '{{4: 3}}', got {label_map!r}")
    check_new_output_dir(out, overwrite, WRITER)  # before the scoring, which can be long
    evaluation = score_methods(pred, ref, split=split, label_map=label_map, margin_mm=margin_mm)
    if not evaluation.results:
        first = evaluation.skipped[0] if evaluation.skipped else ("", "", "no case")
        raise InputError(
            f"no case could be scored ({len(evaluation.skipped)} skipped; first: {first[0]} / {first[1]}: {first[2]})"
        )
    if command is None:
        command = " ".join(shlex.quote(a) for a in sys.argv[1:])
        command = (
            f"python -m custom_networks.evaluate {command}"
            if Path(sys.argv[0]).name == "__main__.py"
            else (f"custom_networks.evaluate.evaluate(pred={pred!r}, ref={str(ref)!r}, split={split!r})")
        )
    with atomic_output_dir(out, overwrite=overwrite, writer=WRITER) as tmp:
        write_tables(evaluation, tmp)
        drawn = []
        if figures:
            (tmp / "figures").mkdir()
            if metric_boxplots(evaluation, tmp / "figures" / "boxplots.png"):
                drawn.append("figures/boxplots.png")
            for i, method in enumerate(evaluation.methods):
                name = f"figures/cases_{i:02d}_{''.join(c if c.isalnum() or c in '-_' else '_' for c in method)}.png"
                if case_montage(evaluation, method, tmp / name):
                    drawn.append(name)
        (tmp / "summary.md").write_text(summary_markdown(evaluation, command, drawn))
    logger.info(
        "report written to %s: %d cases scored, %d skipped", out, len(evaluation.results), len(evaluation.skipped)
    )
    return evaluation


def main(
    pred: str,
    ref: str,
    out: str,
    split: str = "test",
    label_map: dict | None = None,
    margin_mm: float = 10.0,
    figures: bool = True,
    overwrite: bool = False,
) -> None:
    """Command line: see :func:`evaluate`; prints the summary, or a one-line error."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        evaluate(pred, ref, out, split, label_map, margin_mm, figures, overwrite)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from err
    print((Path(out) / "summary.md").read_text())
