"""The merged outputs of a cohort run: ``cohort.csv``, ``manifest.json``, ``report.md``, ``distributions.png`` (each
index against adult reference ranges) and ``qc/<subject>.png`` thumbnails of the subjects that fail quality control."""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from custom_networks.core.labels import LABEL_COLORS
from custom_networks.core.nifti import save_figure, write_text_atomic
from custom_networks.evaluate.cine_function import segmentation_frames
from custom_networks.evaluate.function_report import FUNCTION_COLUMNS, cohort_table
from custom_networks.metrics.cardiac_cycle import INDEX_UNITS, REFERENCE_RANGES

__all__ = ["PLOTTED_INDICES", "qc_thumbnail", "read_subject_rows", "write_cohort_outputs"]

logger = logging.getLogger(__name__)

#: Indices plotted against their reference ranges in ``distributions.png``.
PLOTTED_INDICES = ("LVEDV_ml", "LVESV_ml", "LVEF_pct", "LVM_g", "RVEDV_ml", "RVEF_pct")


def read_subject_rows(out_dir: Path, names: Sequence[str]) -> tuple[list[dict], dict[str, dict]]:
    """The table rows and the status of every subject, from the per-subject files.

    Returns:
        ``(rows, status)``: one row per finished subject (in ``names`` order, the cells of its
        ``<subject>_function.csv``), and ``{subject: {"status": "done" | "failed" | "pending", ...}}`` with the
        ``done.json`` record or the failure reason.
    """
    rows, status = [], {}
    for name in names:
        folder = out_dir / "subjects" / name
        failed = out_dir / "failed" / f"{name}.json"
        if (folder / "done.json").is_file():
            record = json.loads((folder / "done.json").read_text())
            with open(folder / f"{name}_function.csv", newline="") as f:
                rows.extend(csv.DictReader(f))
            status[name] = {"status": "done", **record}
        elif failed.is_file():
            status[name] = {"status": "failed", **json.loads(failed.read_text())}
        else:
            status[name] = {"status": "pending"}
    return rows, status


def _values(rows: Sequence[Mapping], key: str) -> np.ndarray:
    values = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
    return np.asarray([v for v in values if math.isfinite(v)], dtype=float)


def _distributions(rows: Sequence[Mapping], path: Path) -> Path:
    fig = Figure(figsize=(2.3 * len(PLOTTED_INDICES), 3.6))
    axes = fig.subplots(1, len(PLOTTED_INDICES))
    passed = [str(r.get("qc_pass")) == "True" for r in rows]
    for ax, key in zip(axes, PLOTTED_INDICES, strict=True):
        low, high = REFERENCE_RANGES[key]
        ax.axhspan(low, high, color="tab:green", alpha=0.15, label="adult reference range")
        for ok, colour, label in ((True, "tab:blue", "QC pass"), (False, "tab:red", "QC fail")):
            sub = [r for r, p in zip(rows, passed, strict=True) if p is ok]
            vals = _values(sub, key)
            jitter = np.random.default_rng(0).uniform(-0.15, 0.15, size=vals.size)
            ax.scatter(jitter, vals, s=14, color=colour, label=label, alpha=0.8)
        ax.set_xlim(-0.5, 0.5)
        ax.set_xticks([])
        ax.set_title(key.rsplit("_", 1)[0], fontsize=10)
        ax.set_ylabel(INDEX_UNITS[key])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"cohort of {len(rows)} subject(s); green: adult reference range (UK Biobank, indicative)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return save_figure(fig, path)


def qc_thumbnail(subject_dir: Path, name: str, ed_frame: int | None, reasons: str, path: Path) -> Path:
    """Mid-ventricular short-axis slice of the super-resolved ED frame with the label contours.

    Args:
        subject_dir: the subject's output folder.
        name: subject name.
        ed_frame: frame to show (0 when ED was not found).
        reasons: QC failure reasons (the caption).
        path: PNG to write.
    """
    frames, _, _, read_seg = segmentation_frames(subject_dir / f"{name}_seg.nii.gz")
    t = int(ed_frame) if ed_frame is not None and 0 <= int(ed_frame) < frames else 0
    seg = read_seg(t)
    import nibabel as nib

    img = nib.load(str(subject_dir / f"{name}_sr.nii.gz"))
    sr = np.asarray(img.dataobj[..., t] if len(img.shape) == 4 else img.dataobj, dtype=np.float32)
    lv_slices = np.flatnonzero((seg == 1).any(axis=(0, 1)))
    k = int(np.median(lv_slices)) if lv_slices.size else seg.shape[2] // 2
    fig = Figure(figsize=(3.2, 3.6))
    ax = fig.subplots()
    ax.imshow(sr[:, :, k].T, cmap="gray", origin="lower")
    for value, colour in sorted(LABEL_COLORS.items(), reverse=True):
        mask = seg[:, :, k] == value
        if mask.any() and not mask.all():
            ax.contour(mask.T, levels=[0.5], colors=[colour], linewidths=1.0, origin="lower")
    ax.set_axis_off()
    ax.set_title(f"{name}, frame {t}, slice {k}", fontsize=8)
    fig.text(0.02, 0.02, "\n".join(reasons.split("; "))[:300], fontsize=6, va="bottom", wrap=True)
    return save_figure(fig, path)


def _summary_table(rows: Sequence[Mapping]) -> list[str]:
    lines = [
        "| index | unit | n | median | IQR | min - max | within reference range |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key in (c for c in FUNCTION_COLUMNS if c in INDEX_UNITS):
        vals = _values(rows, key)
        if vals.size == 0:
            lines.append(f"| {key} | {INDEX_UNITS[key]} | 0 | | | | |")
            continue
        q1, med, q3 = np.percentile(vals, [25, 50, 75])
        ref = REFERENCE_RANGES.get(key)
        within = (
            "" if ref is None else f"{np.mean((vals >= ref[0]) & (vals <= ref[1])) * 100:.0f} % ({ref[0]:g}-{ref[1]:g})"
        )
        lines.append(
            f"| {key} | {INDEX_UNITS[key]} | {vals.size} | {med:.1f} | {q1:.1f}-{q3:.1f} | "
            f"{vals.min():.1f}-{vals.max():.1f} | {within} |"
        )
    return lines


def write_cohort_outputs(out_dir: str | Path, names: Sequence[str], manifest: Mapping) -> Path:
    """Merge the per-subject outputs of a cohort run into the cohort table, manifest and report.

    Args:
        out_dir: the cohort output folder (``subjects/``, ``failed/``).
        names: every subject of the cohort, in table order.
        manifest: run-level facts (inputs, bundle, weights checksum, versions, workers, unusable entries).

    Returns:
        The path of ``cohort.csv``.
    """
    out_dir = Path(out_dir)
    rows, status = read_subject_rows(out_dir, names)
    table = write_text_atomic(out_dir / "cohort.csv", cohort_table(rows))
    counts = {s: sum(1 for v in status.values() if v["status"] == s) for s in ("done", "failed", "pending")}
    write_text_atomic(
        out_dir / "manifest.json", json.dumps({**manifest, "counts": counts, "subjects": status}, indent=1)
    )
    lines = [
        "# Cohort report",
        "",
        f"{len(names)} subject(s): {counts['done']} done, {counts['failed']} failed, {counts['pending']} pending "
        f"(`manifest.json` says what ran, with which weights, and why a subject failed). Table: `cohort.csv`.",
        "",
        "Volumes from the 4D segmentation on the 1.25 x 1.25 x 2 mm grid (voxel counts); ED / ES = largest / smallest "
        "LV blood-pool volume; LV mass = myocardial volume at ED x 1.05 g/mL. Reference ranges: adult UK Biobank "
        "(Petersen et al., J Cardiovasc Magn Reson 2017; sexes pooled, approximate): indicative, not diagnostic.",
        "",
        *_summary_table(rows),
    ]
    if rows:
        _distributions(rows, out_dir / "distributions.png")
        lines += ["", "![distributions](distributions.png)"]
    qc_failed = [r for r in rows if str(r.get("qc_pass")) != "True"]
    for old in (out_dir / "qc").glob("*.png"):  # thumbnails of an earlier merge (a subject may pass QC now)
        old.unlink()
    lines += ["", f"## Quality control: {len(qc_failed)} of {len(rows)} subject(s) flagged", ""]
    for row in qc_failed:
        name = row["subject"]
        ed = row.get("ED_frame")
        try:
            qc_thumbnail(
                out_dir / "subjects" / name,
                name,
                int(ed) if ed not in (None, "") else None,
                row.get("qc_reasons", ""),
                out_dir / "qc" / f"{name}.png",
            )
            lines.append(f"- **{name}**: {row.get('qc_reasons', '')} ![{name}](qc/{name}.png)")
        except Exception as err:  # a thumbnail never stops the report
            logger.warning("%s: no QC thumbnail (%s)", name, err)
            lines.append(f"- **{name}**: {row.get('qc_reasons', '')}")
    failed = {k: v for k, v in status.items() if v["status"] == "failed"}
    if failed:
        lines += ["", f"## Failed: {len(failed)}", ""] + [
            f"- **{k}**: {v.get('reason', '')}" for k, v in failed.items()
        ]
    unusable = manifest.get("unusable_entries") or {}
    if unusable:
        lines += ["", "## Entries without a cine", ""] + [f"- `{k}`: {v}" for k, v in unusable.items()]
    write_text_atomic(out_dir / "report.md", "\n".join(lines) + "\n")
    logger.info("cohort table %s: %d done, %d failed, %d pending", table, *counts.values())
    return table
