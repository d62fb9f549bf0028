"""Cardiac function from the shipped pipeline against expert labels on real scans.

- Sunnybrook (4D cines, CC0): the full 4D pipeline (``custom_networks.cine.run_cine``, ED / ES found automatically)
  against the expert contours: ED / ES frames found vs annotated (circular frame distance); LVEDV, LVESV, LVEF of the
  pipeline on the whole heart and, like for like, on the slices the experts contoured (the pipeline's ED / ES label
  maps brought onto the native grid), against the experts' volumes on those slices.
- ACDC and M&Ms (ED + ES stacks): both stacks through the 3D pipeline (``predict``), indices from the two
  super-resolved label maps (``analyse_ed_es``) against the same indices of the manual label maps (native grid,
  fully labelled).

Usage::

    python benchmarks/cine_function.py --data ../shared/data/real_labelled --out benchmarks/results/cine_function \
        [--work DIR] [--sets sunnybrook,acdc,mnms] [--limit N]

``--work`` (default ``/tmp/cine_function_work``; never inside the repository: predictions of non-commercial scans)
keeps the predictions: a second run only re-scores (resumable). Writes ``sunnybrook.csv``, ``ed_es.csv``
and ``summary.md`` in ``--out``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from custom_networks.cine import run_cine
from custom_networks.core.geometry import labels_on_native_grid
from custom_networks.core.nifti import write_text_atomic
from custom_networks.datalists.flat import RealCase, find_real_cases, load_real_case
from custom_networks.datalists.registry import REAL_SETS
from custom_networks.evaluate.cine_function import analyse_ed_es, segmentation_frames
from custom_networks.evaluate.native_grid import native_clinical_scores
from custom_networks.predict import predict

REPO = Path(__file__).resolve().parents[1]
logger = logging.getLogger("cine_function")

#: Indices compared on ACDC / M&Ms.
ED_ES_INDICES = ("LVEDV_ml", "LVESV_ml", "LVSV_ml", "LVEF_pct", "LVM_g", "RVEDV_ml", "RVESV_ml", "RVEF_pct")


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    keys = list(rows[0]) if rows else []
    writer = csv.DictWriter(buffer, keys)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.4g}" if isinstance(v, float) and math.isfinite(v) else v) for k, v in row.items()})
    return buffer.getvalue()


def _circular(a: int | None, b: int, n: int) -> float:
    if a is None:
        return math.nan
    d = abs(int(a) - int(b)) % n
    return float(min(d, n - d))


def sunnybrook(data: Path, work: Path, bundle: str = "gemini_gan_bundle") -> list[dict]:
    """The 4D pipeline on each Sunnybrook cine, against the expert contours at the annotated ED / ES."""
    rows = []
    by_subject: dict[str, dict[str | None, RealCase]] = {}
    for case in find_real_cases(data, ["sunnybrook"])[0]:
        if case.cine is not None:
            by_subject.setdefault(case.subject, {})[case.phase] = case
    for subject, cases in sorted(by_subject.items()):
        cine = next(iter(cases.values())).cine
        out = work / "sunnybrook" / subject
        if not (out / f"{subject}_function.json").is_file():
            start = time.perf_counter()
            run_cine(str(cine), str(out), bundle=bundle, name=subject, overwrite=True, progress=False)
            (out / "seconds.txt").write_text(f"{time.perf_counter() - start:.1f}")
        function = json.loads((out / f"{subject}_function.json").read_text())
        frames, _, _, read = segmentation_frames(out / f"{subject}_seg.nii.gz")
        seg_affine = nib.load(out / f"{subject}_seg.nii.gz").affine
        meta = {p: json.loads(cases[p].slices_json.read_text()) for p in ("ED", "ES")}
        ed_true, es_true = meta["ED"]["cine_frame_index"], meta["ES"]["cine_frame_index"]
        native = {}
        for phase, frame in (("ED", function["ed_frame"]), ("ES", function["es_frame"])):
            image, label, affine, annotation = load_real_case(cases[phase])
            pred = labels_on_native_grid(read(int(frame)), seg_affine, label.shape, affine, profile="slab")
            native[phase] = (pred, label, affine, annotation)
        scores = native_clinical_scores(*native["ED"], *native["ES"])
        idx = function["indices"]
        seconds = float((out / "seconds.txt").read_text()) if (out / "seconds.txt").is_file() else math.nan
        rows.append(
            {
                "subject": subject,
                "frames": frames,
                "ED_found": function["ed_frame"],
                "ED_annotated": ed_true,
                "ED_frame_error": _circular(function["ed_frame"], ed_true, frames),
                "ES_found": function["es_frame"],
                "ES_annotated": es_true,
                "ES_frame_error": _circular(function["es_frame"], es_true, frames),
                "pipeline_LVEDV_ml": idx["LVEDV_ml"],
                "pipeline_LVESV_ml": idx["LVESV_ml"],
                "pipeline_LVEF_pct": idx["LVEF_pct"],
                "labelled_slices_pred_LVEDV_ml": scores["pred_LVEDV_ml"],
                "labelled_slices_ref_LVEDV_ml": scores["ref_LVEDV_ml"],
                "labelled_slices_pred_LVESV_ml": scores["pred_LVESV_ml"],
                "labelled_slices_ref_LVESV_ml": scores["ref_LVESV_ml"],
                "labelled_slices_pred_LVEF_pct": 100 * scores["pred_LVEF"],
                "labelled_slices_ref_LVEF_pct": 100 * scores["ref_LVEF"],
                "qc_pass": function["qc"]["passed"],
                "seconds": seconds,
                "seconds_per_frame": seconds / frames,
            }
        )
        logger.info("sunnybrook %s: %s", subject, rows[-1])
    return rows


def ed_es(data: Path, work: Path, sets: list[str], limit: int | None, bundle: str = "gemini_gan_bundle") -> list[dict]:
    """ED + ES stacks through the 3D pipeline; indices against the manual labels'."""
    cases, _ = find_real_cases(data, sets)
    subjects: dict[tuple[str, str], dict[str, object]] = {}
    for case in cases:
        subjects.setdefault((case.set, case.subject), {})[case.phase] = case
    rows = []
    pairs = [(k, v) for k, v in sorted(subjects.items()) if "ED" in v and "ES" in v]
    for (set_name, subject), phases in pairs[:limit] if limit else pairs:
        out = work / set_name
        segs = {}
        for phase in ("ED", "ES"):
            case = phases[phase]
            seg = out / f"{case.name}_image_seg.nii.gz"
            if not seg.is_file():
                predict(str(case.image), str(out), bundle=bundle, overwrite=True)
            segs[phase] = seg
        pred, pred_qc = analyse_ed_es(segs["ED"], segs["ES"])
        ref, _ = analyse_ed_es(phases["ED"].label, phases["ES"].label)
        row = {"set": set_name, "subject": subject, "qc_pass": pred_qc.passed}
        for key in ED_ES_INDICES:
            p, r = pred.indices[key], ref.indices[key]
            row.update({f"pred_{key}": p, f"ref_{key}": r, f"err_{key}": p - r})
        rows.append(row)
        logger.info("%s %s: LVEDV %.1f vs %.1f mL", set_name, subject, row["pred_LVEDV_ml"], row["ref_LVEDV_ml"])
    return rows


def _summary(sb: list[dict], pairs: list[dict], command: str) -> str:
    lines = [
        "# Cardiac function on real scans (shipped weights)",
        "",
        f"Command: `{command}` (CPU, {torch.get_num_threads()} threads).",
        "",
    ]
    if sb:
        lines += [
            "## Sunnybrook (4D pipeline, ED / ES found automatically; Radau et al., MIDAS Journal 2009; CC0)",
            "",
            "Frame errors are circular distances to the annotated frame. 'labelled slices': the pipeline's label maps "
            "at its ED / ES frames brought onto the native grid and counted, like the experts' contours, on the "
            "contoured slices only.",
            "",
            "| subject | ED found / annotated | ES found / annotated | LVEDV whole (mL) | LVEDV labelled slices "
            "pipeline / expert (mL) | LVESV labelled slices pipeline / expert (mL) | LVEF pipeline whole / labelled "
            "slices / expert (%) | QC | s per frame |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in sb:
            lines.append(
                f"| {r['subject']} | {r['ED_found']} / {r['ED_annotated']} | {r['ES_found']} / {r['ES_annotated']} | "
                f"{r['pipeline_LVEDV_ml']:.1f} | {r['labelled_slices_pred_LVEDV_ml']:.1f} / "
                f"{r['labelled_slices_ref_LVEDV_ml']:.1f} | {r['labelled_slices_pred_LVESV_ml']:.1f} / "
                f"{r['labelled_slices_ref_LVESV_ml']:.1f} | {r['pipeline_LVEF_pct']:.1f} / "
                f"{r['labelled_slices_pred_LVEF_pct']:.1f} / {r['labelled_slices_ref_LVEF_pct']:.1f} | "
                f"{'pass' if r['qc_pass'] else 'fail'} | {r['seconds_per_frame']:.1f} |"
            )
    if pairs:
        sets = sorted({r["set"] for r in pairs})
        lines += [
            "",
            "## ACDC and M&Ms (ED + ES stacks through the 3D pipeline)",
            "",
            "Per set: mean absolute error / median absolute error / mean signed error (pipeline - manual), and the "
            "manual mean. Sources: "
            + "; ".join(f"{k}: {v.citation}" for k, v in REAL_SETS.items() if k != "sunnybrook")
            + " (non-commercial: measurement only). QC pass: subjects whose ED + ES label maps pass quality control.",
            "",
            "| index | " + " | ".join(f"{s} (n = {sum(r['set'] == s for r in pairs)})" for s in sets) + " |",
            "| --- | " + " | ".join("---" for _ in sets) + " |",
        ]
        for key in ED_ES_INDICES:
            cells = []
            for set_name in sets:
                rows = [r for r in pairs if r["set"] == set_name]
                err = np.array([r[f"err_{key}"] for r in rows], dtype=float)
                ref = np.array([r[f"ref_{key}"] for r in rows], dtype=float)
                cells.append(
                    f"{np.nanmean(np.abs(err)):.1f} / {np.nanmedian(np.abs(err)):.1f} / {np.nanmean(err):+.1f} "
                    f"(manual {np.nanmean(ref):.1f})"
                )
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
        qc = [f"{sum(bool(r['qc_pass']) for r in pairs if r['set'] == s)}" for s in sets]
        lines.append("| QC pass | " + " | ".join(qc) + " |")
    return "\n".join(lines) + "\n"


def main(
    data: str,
    out: str,
    work: str | None = None,
    sets: str | tuple[str, ...] = "sunnybrook,acdc,mnms",
    limit: int | None = None,
    bundle: str = "gemini_gan_bundle",
) -> None:
    """Run the benchmark (see the module docstring); ``bundle``: the bundle folder whose weights run (e.g. a copy
    holding other weights)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir, out_dir = Path(data), Path(out)
    work_dir = Path(work) if work else Path("/tmp/cine_function_work")  # predictions of real scans: never in the repo
    chosen = [s.strip() for s in (sets.split(",") if isinstance(sets, str) else sets) if s.strip()]
    others = [s for s in chosen if s != "sunnybrook"]
    sb = sunnybrook(data_dir, work_dir, bundle) if "sunnybrook" in chosen else []
    pairs = ed_es(data_dir, work_dir, others, limit, bundle) if others else []
    out_dir.mkdir(parents=True, exist_ok=True)
    if sb:
        write_text_atomic(out_dir / "sunnybrook.csv", _csv(sb))
    if pairs:
        write_text_atomic(out_dir / "ed_es.csv", _csv(pairs))
    command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]) if sys.argv[0] else ""
    write_text_atomic(out_dir / "summary.md", _summary(sb, pairs, command))
    print((out_dir / "summary.md").read_text())


if __name__ == "__main__":
    import fire

    fire.Fire(main)
