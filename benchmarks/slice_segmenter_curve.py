"""Real-scan Dice of a slice-segmenter training run against the CPU time it cost: the Dice-per-CPU-hour curve.

Usage::

    python benchmarks/slice_segmenter_curve.py --run_dir RUN --data ../shared/data/real_labelled \\
        --out benchmarks/results/slice_segmenter/curve_<name> [--every 2] [--sets acdc,mnms,sunnybrook]

Every weight snapshot of the run (``<run_dir>/snapshots/iter_<N>.pt``, with the CPU seconds the run had spent when it
was taken) and its final weights (``<run_dir>/model.pt``) are scored with the real-scan yardstick
(``benchmarks/real_scans.py``: the bundle's own ``inference.json`` on every stack, native-grid Dice), on the cases the
run was **not** trained on (its record, ``<run_dir>/model.json``, lists the training subjects). The report folder gets
``curve.csv`` (snapshot, iteration, CPU-hours, set, Dice per class), ``summary.md`` and ``curve.png``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from real_scans import ALL, CLASSES, _held_out
from real_scans import run as real_scans

from custom_networks.core.cli import run_cli
from custom_networks.core.errors import InputError
from custom_networks.core.nifti import atomic_output_dir, save_figure

logger = logging.getLogger("slice_segmenter_curve")


def _snapshots(run_dir: Path, every: int) -> list[tuple[str, Path, int, float]]:
    """(name, weights, iteration, CPU-hours) of the run's snapshots (every ``every``-th) and final weights."""
    import torch

    found = []
    for path in sorted((run_dir / "snapshots").glob("iter_*.pt")):
        state = torch.load(path, map_location="cpu", weights_only=False)
        found.append((path.stem, path, int(state["iteration"]), float(state["cpu_s"]) / 3600))
    found = found[::-1][:: max(1, int(every))][::-1]  # keep the last one, thin the others
    record = run_dir / "model.json"
    if (run_dir / "model.pt").is_file() and record.is_file():
        info = json.loads(record.read_text())
        if not found or found[-1][2] != int(info["iterations"]):
            found.append(("final", run_dir / "model.pt", int(info["iterations"]), float(info["cpu_hours"])))
    return found


def _mean(rows: list[dict], key: str) -> float:
    values = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
    return float(np.mean(values)) if values else float("nan")


def main(
    run_dir: str | os.PathLike,
    data: str | os.PathLike = "../shared/data/real_labelled",
    out: str | os.PathLike = "benchmarks/results/slice_segmenter/curve",
    sets: str | None = None,
    every: int = 1,
    bundle: str = "gemini_gan_bundle",
    overwrite: bool = False,
) -> Path:
    """Score every snapshot of a run on held-out real stacks and write the curve.

    Args:
        run_dir: the training run's folder (``train_slices.json``'s ``run_dir``), finished: its record is needed.
        data: the ``real_labelled`` folder.
        out: report folder (written complete or not at all).
        sets: real sets to score (comma-separated; default all).
        every: score every ``every``-th snapshot (the last one always).
        bundle: the bundle whose inference runs.
        overwrite: replace an existing report folder.
    """
    run_dir = Path(run_dir)
    record = run_dir / "model.json"
    if not record.is_file():
        raise InputError(f"{record}: no training record (the run has not finished: it is written at the end)")
    snapshots = _snapshots(run_dir, every)
    if not snapshots:
        raise InputError(f"{run_dir}: no snapshot (snapshots/iter_*.pt) and no final weights")
    rows = []
    with tempfile.TemporaryDirectory(prefix="slice_curve-") as tmp:
        for name, weights, iteration, cpu_hours in snapshots:
            logger.info("scoring %s (iteration %d, %.2f CPU-hours)", name, iteration, cpu_hours)
            report = real_scans(
                data=data,
                out=Path(tmp) / name,
                bundle=bundle,
                sets=sets,
                held_out=False,
                figures=False,
                bundle_args={"ckpt_path": str(weights)},
                record=str(record),
                skip_trained=True,
            )
            with open(report / "cases.csv") as f:
                cases = [r for r in csv.DictReader(f) if _held_out(r["set"])]
            for group in [*dict.fromkeys(r["set"] for r in cases), ALL]:
                mine = [r for r in cases if group == ALL or r["set"] == group]
                row = {"snapshot": name, "iteration": iteration, "cpu_hours": round(cpu_hours, 3), "set": group}
                row.update({f"dice_{c}": round(_mean(mine, f"dice_{c}"), 4) for c in CLASSES})
                row["cases"] = len(mine)
                rows.append(row)
    with atomic_output_dir(out, overwrite=overwrite) as folder:
        with open(folder / "curve.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        groups = list(dict.fromkeys(r["set"] for r in rows))
        lines = [
            f"# Slice segmenter: held-out real-scan Dice against CPU time ({run_dir.name})",
            "",
            f"Made by: `python benchmarks/slice_segmenter_curve.py {' '.join(sys.argv[1:])}`",
            "",
            f"Trained on: `{json.dumps(json.loads(record.read_text()).get('trained_on'))}`; scored on every other"
            " case of the sets (native-grid Dice, LV blood pool / myocardium / RV; the bundle's own inference).",
            "",
            "| snapshot | iteration | CPU-hours | " + " | ".join(groups) + " |",
            "| --- | --- | --- |" + " --- |" * len(groups),
        ]
        for name, _, iteration, cpu_hours in snapshots:
            cells = []
            for g in groups:
                r = next(x for x in rows if x["snapshot"] == name and x["set"] == g)
                cells.append(
                    " / ".join("n/a" if np.isnan(r[f"dice_{c}"]) else f"{r[f'dice_{c}']:.3f}" for c in CLASSES)
                )
            lines.append(f"| {name} | {iteration} | {cpu_hours:.2f} | " + " | ".join(cells) + " |")
        (folder / "summary.md").write_text("\n".join(lines) + "\n")
        from matplotlib.figure import Figure  # no pyplot: files only, no global backend

        fig = Figure(figsize=(4 * len(CLASSES), 3.4))
        axes = fig.subplots(1, len(CLASSES), sharey=True)
        for ax, (c, title) in zip(axes, CLASSES.items(), strict=True):
            for g in groups:
                mine = [r for r in rows if r["set"] == g]
                ax.plot([r["cpu_hours"] for r in mine], [r[f"dice_{c}"] for r in mine], marker="o", label=g)
            ax.set_title(title)
            ax.set_xlabel("CPU-hours of training")
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("held-out Dice (native grid)")
        axes[-1].legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        save_figure(fig, folder / "curve.png", dpi=110)
    print((Path(out) / "summary.md").read_text())
    return Path(out)


if __name__ == "__main__":
    raise SystemExit(run_cli(main, name="benchmarks/slice_segmenter_curve.py", path_options=("run_dir", "data", "out")))
