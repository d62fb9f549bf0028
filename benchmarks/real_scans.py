"""The real-scan yardstick: a bundle (or any method's prediction folder) scored on expert-labelled real short-axis
stacks, on their native grid, with clinical indices and a held-out-slice super-resolution test.

Usage::

    python benchmarks/real_scans.py --data ../shared/data/real_labelled --out DIR \\
        [--bundle gemini_gan_bundle] [--sets acdc,mnms,sunnybrook] [--pred DIR] [--cine ../shared/data/cine_sax] \\
        [--held_out True] [--limit N] [--work DIR] [--overwrite]

What it does (the data live outside the project; ACDC and M&Ms are non-commercial: test use only):

1. **Segmentation on the native grid.** The bundle's own inference (``configs/inference.json``, shipped weights)
   runs on every ``<case>_image.nii.gz`` as the user would run it; its HR label map is brought onto the stack's
   grid in world coordinates (``centre``: label at each voxel centre; ``slab``: integrated over a one-spacing box
   slice profile) and scored against the manual labels: Dice and in-plane HD95 per class, only on the labelled
   slices of labelled classes (:mod:`custom_networks.evaluate.native_grid`). A prediction without any foreground is
   reported as "no heart found". ``--pred DIR`` scores another method's ``<case>_seg.nii.gz`` files instead.
2. **Clinical indices** from ED and ES, prediction and manual labels computed the same way on the native grid:
   LVEDV, LVESV, LVEF, LV mass (1.05 g/mL), RVEDV, RVESV, RVEF; mean absolute and signed error; Bland-Altman plot.
3. **Held-out slices** (super-resolution without HR ground truth): every other slice of every stack (the labelled
   ones and ``--cine``'s) is dropped, the bundle super-resolves the reduced stack, and its output at the dropped
   slices is compared with the real ones beside linear and cubic B-spline interpolation: PSNR / SSIM on the heart
   region, on the kept slices' common [0, 1] scale and with per-slice min-max normalisation (the gemini-compat
   protocol).
4. **Failure view**: worst, median and best case per set (short axis and a long-axis reformat, manual and
   predicted contours).

``--oracle_crop_mm S`` (a diagnostic, not a method: it reads the manual labels) crops every stack in-plane to an
S x S mm box centred on its manual label before inference, to tell whether the field of view is what fails: the
bundle then sees the heart centred in a field of view like its training renderings'. Scoring stays on the full native
grid.

The report folder (``summary.md``, ``cases.csv``, ``clinical.csv``, ``held_out.csv``, ``skipped.csv``,
``figures/``) is written complete or not at all. Cases that cannot be scored are listed in ``skipped.csv`` with the
reason and the run goes on.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import logging
import math
import os
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import fire
import numpy as np
from tqdm.auto import tqdm

from custom_networks.core.cli import find_input_error, format_exception_line
from custom_networks.core.errors import InputError
from custom_networks.core.geometry import LABEL_PROFILES, labels_on_native_grid, slice_axis_of, spacing_from_affine
from custom_networks.core.label_maps import load_label
from custom_networks.core.nifti import atomic_output_dir, load_nifti, save_nifti, write_text_atomic
from custom_networks.datalists import ACDC_LABEL_MAP, cine_stacks
from custom_networks.datalists.flat import find_real_cases, load_real_case
from custom_networks.datalists.registry import REAL_SETS
from custom_networks.evaluate.held_out import (
    drop_slices,
    inplane_heart_box,
    interpolate_dropped,
    map_labels,
    sample_on_stack,
    score_held_out,
)
from custom_networks.evaluate.native_grid import heart_found, native_clinical_scores, native_segmentation_scores
from custom_networks.evaluate.real_figures import bland_altman, failure_view
from custom_networks.metrics.gemini_compat import slicewise_psnr_ssim

logger = logging.getLogger("real_scans")

REPO = Path(__file__).resolve().parents[1]
CLASSES = {"lv": "LV blood pool", "myo": "LV myocardium", "rv": "RV"}
INDICES = {
    "LVEDV_ml": "LVEDV (mL)",
    "LVESV_ml": "LVESV (mL)",
    "LVEF": "LVEF",
    "LVM_g": "LV mass (g)",
    "RVEDV_ml": "RVEDV (mL)",
    "RVEF": "RVEF",
}
INTERPOLATIONS = ("linear", "bspline")
#: Suffix of the set name of cases whose subject the weights were trained on (their rows are training-set figures).
TRAINED = " (trained on)"
#: Label of the aggregate row: every case the weights were not trained on.
ALL = "all held out"


def _held_out(set_name: str) -> bool:
    return not set_name.endswith(TRAINED)


def _in_group(row: Mapping, group: str) -> bool:
    return _held_out(row["set"]) if group == ALL else row["set"] == group


def training_record(bundle: Path, bundle_args: Mapping | None, record: str | os.PathLike | None) -> dict:
    """The record of what the weights were trained on (``<weights>.json`` beside them, written by the training run):
    ``record`` if given, else the one beside ``bundle_args['ckpt_path']`` or beside the bundle's ``models/model.pt``;
    ``{}`` when there is none (weights trained on generated data only, or an unknown origin)."""
    if record is None:
        ckpt = (bundle_args or {}).get("ckpt_path")
        weights = Path(ckpt) if ckpt else bundle / "models" / "model.pt"
        record = weights.with_suffix(".json")
        if not record.is_file():
            return {}
    path = Path(record)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: unreadable training record ({err})") from err


def trained_subjects(record: Mapping | None) -> dict[str, set[str]]:
    """Set -> subjects the weights saw: the record's ``trained_on`` and, recursively, that of the weights they
    were trained from (``started_from``)."""
    if not record:
        return {}
    trained = {name: set(subjects) for name, subjects in (record.get("trained_on") or {}).items()}
    for name, subjects in trained_subjects((record.get("started_from") or {}).get("record")).items():
        trained.setdefault(name, set()).update(subjects)
    return trained


def mark_trained(cases: list, record: Mapping) -> list:
    """Cases whose subject the weights were trained on get the set name ``<set> (trained on)``."""
    trained = trained_subjects(record)
    return [dataclasses.replace(c, set=c.set + TRAINED) if c.subject in trained.get(c.set, ()) else c for c in cases]


def _command() -> str:
    if Path(sys.argv[0]).name == Path(__file__).name:
        return "python benchmarks/real_scans.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    return "benchmarks/real_scans.py: main(...) called from Python"


def _fmt(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _finite(values) -> np.ndarray:
    arr = np.asarray([float(v) for v in values if v is not None and v != ""], dtype=float)
    return arr[np.isfinite(arr)]


def _mean_sd(values, digits: int) -> str:
    arr = _finite(values)
    if arr.size == 0:
        return "n/a"
    sd = arr.std(ddof=1) if arr.size > 1 else 0.0
    return f"{arr.mean():.{digits}f} +- {sd:.{digits}f}" + (f" (n={arr.size})" if arr.size < len(list(values)) else "")


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for row in rows for k in row)) or ["empty"]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: (round(v, 5) if math.isfinite(v) else "") if isinstance(v, float) else v for k, v in row.items()}
            )


# --- running the bundle -------------------------------------------------------------------------------------------


def run_bundle(
    bundle: Path,
    inputs: Mapping[str, Path],
    out_dir: Path,
    overrides: Mapping | None = None,
    configs: Sequence[str] = ("inference.json",),
) -> tuple[dict[str, float], dict[str, str]]:
    """The bundle's ``inference.json`` on every input, written as ``out_dir/<name>_seg|_sr.nii.gz``.

    All inputs run in one workflow (inputs are linked into one folder under their case names); if that run fails,
    each input runs on its own so that one bad case does not stop the others. Cases whose outputs are already in
    ``out_dir`` are not run again (a benchmark with ``--work`` resumes); seconds per case are kept in
    ``out_dir/timing.json``.

    Returns:
        ``(seconds, failed)``: wall seconds per case (a run's time divided by its cases, model loading included) and
        ``{name: reason}`` of the inputs that failed.
    """
    from custom_networks.bundle.workflows import load_workflow

    staging = out_dir.parent / f".{out_dir.name}-inputs"
    staging.mkdir(parents=True, exist_ok=True)
    timing_file = out_dir / "timing.json"
    seconds: dict[str, float] = json.loads(timing_file.read_text()) if timing_file.is_file() else {}
    todo = {n: p for n, p in inputs.items() if not (out_dir / f"{n}_seg.nii.gz").is_file()}
    if len(todo) < len(inputs):
        logger.info("%d of %d cases already done in %s (resumed)", len(inputs) - len(todo), len(inputs), out_dir)
    for old in staging.iterdir():
        old.unlink()
    for name, path in todo.items():
        (staging / f"{name}.nii.gz").symlink_to(Path(path).resolve())

    def _run(input_path: Path) -> None:
        workflow = load_workflow(
            list(configs),
            bundle=bundle,
            input_path=input_path,
            output_dir=out_dir,
            overwrite=True,
            **(overrides or {}),
        )
        workflow.run()
        workflow.finalize()

    def _save_timing() -> None:
        write_text_atomic(timing_file, json.dumps(seconds, indent=1))

    failed: dict[str, str] = {}
    if not todo:
        return seconds, failed
    start = time.perf_counter()
    try:
        _run(staging)
        seconds.update(dict.fromkeys(todo, (time.perf_counter() - start) / len(todo)))
        _save_timing()
        return seconds, failed
    except Exception as err:  # noqa: BLE001 - isolate the failing case below
        logger.warning("bundle run on %d inputs failed (%s); running them one by one", len(todo), err)
    for name in tqdm(todo, desc="bundle inference, one case at a time", leave=False):
        if (out_dir / f"{name}_seg.nii.gz").exists():
            continue
        start = time.perf_counter()
        try:
            _run(staging / f"{name}.nii.gz")
            seconds[name] = time.perf_counter() - start
        except Exception as err:  # noqa: BLE001 - recorded in skipped.csv
            found = find_input_error(err)
            failed[name] = f"bundle inference failed: {found if found is not None else format_exception_line(err)}"
    _save_timing()
    return seconds, failed


# --- 1 + 2: segmentation and clinical indices ---------------------------------------------------------------------


def score_segmentations(loaded: Mapping, pred_dir: Path, method: str, seconds: Mapping[str, float]):
    """Per-case native-grid scores and per-subject clinical indices of one prediction folder.

    Returns:
        ``(case_rows, clinical_rows, skipped, views)``; ``views`` maps a case to what the failure view needs.
    """
    rows, skipped, views, native = [], [], {}, {}
    for name, (case, image, ref, affine, annotation) in tqdm(loaded.items(), desc="scoring", leave=False):
        seg_path = pred_dir / f"{name}_seg.nii.gz"
        if not seg_path.is_file():
            skipped.append({"set": case.set, "case": name, "reason": f"{seg_path}: no prediction"})
            continue
        try:
            pred, pred_affine = load_label(seg_path)
        except InputError as err:
            skipped.append({"set": case.set, "case": name, "reason": str(err)})
            continue
        row = {"method": method, "set": case.set, "case": name, "subject": case.subject, "phase": case.phase}
        notes: list[str] = []
        for profile in LABEL_PROFILES:
            on_grid = labels_on_native_grid(pred, pred_affine, ref.shape, affine, profile=profile)
            scores, profile_notes = native_segmentation_scores(on_grid, ref, affine, annotation)
            prefix = "" if profile == "centre" else f"{profile}_"
            row.update({f"{prefix}{k}": v for k, v in scores.items() if not (prefix and k.startswith("slices_"))})
            if profile == "centre":
                notes += profile_notes
                row["heart_found"] = heart_found(on_grid)
                if not row["heart_found"]:
                    notes.insert(0, "no heart found (empty prediction on the stack)")
                native[name] = on_grid
        row["heart_missed"] = _missed(row)
        row["seconds"] = float(seconds.get(name, math.nan))
        row["notes"] = "; ".join(notes)
        rows.append(row)
        views[name] = {"image": image, "ref": ref, "pred": native[name], "affine": affine}
    clinical = []
    by_subject: dict[tuple[str, str], dict[str, str]] = {}
    for name in native:
        case = loaded[name][0]
        by_subject.setdefault((case.set, case.subject), {})[case.phase or ""] = name
    for (set_name, subject), phases in sorted(by_subject.items()):
        if "ED" not in phases:
            continue
        ed, es = phases["ED"], phases.get("ES")
        _, _, ref_ed, aff_ed, ann_ed = loaded[ed]
        args = [native[ed], ref_ed, aff_ed, ann_ed]
        if es is not None:
            _, _, ref_es, aff_es, ann_es = loaded[es]
            args += [native[es], ref_es, aff_es, ann_es]
        clinical.append({"method": method, "set": set_name, "subject": subject, **native_clinical_scores(*args)})
    return rows, clinical, skipped, views


# --- 3: held-out slices -------------------------------------------------------------------------------------------


def held_out_stacks(loaded: Mapping, cine: Path | None) -> tuple[dict[str, tuple], list[dict]]:
    """``{name: (set, stack, affine, heart label)}`` of every stack of the held-out test and the skipped ones."""
    stacks, skipped = {}, []
    for name, (case, image, ref, affine, _) in loaded.items():
        stacks[name] = (case.set, image, affine, ref)
    if cine is not None:
        for name, image_path, label_path in cine_stacks(cine):
            try:
                image, affine = load_nifti(image_path)
                pseudo, _ = load_nifti(label_path)
            except InputError as err:
                skipped.append({"set": "cine_sax", "case": name, "reason": str(err)})
                continue
            stacks[f"cine_{name}"] = ("cine_sax", image, affine, map_labels(pseudo, ACDC_LABEL_MAP))
    return stacks, skipped


def _compat_rows(split, volume: np.ndarray, box) -> dict[int, tuple[float, float]]:
    """Per-slice min-max PSNR / SSIM (gemini-compat) on the heart region of each scored dropped slice."""
    out = {}
    ref = split.slices(split.stack, split.scored_idx)
    pred = split.slices(volume, split.scored_idx)
    for k, p, r in zip(split.scored_idx, pred, ref, strict=True):
        p, r = (p[box] if box is not None else p), (r[box] if box is not None else r)
        out[int(k)] = slicewise_psnr_ssim(p[..., None], r[..., None])
    return out


def held_out_test(
    stacks: Mapping,
    bundle: Path | None,
    work: Path,
    method: str,
    overrides,
    sr_dir: Path | None,
    configs: Sequence[str] = ("inference.json",),
):
    """Rows ``{set, stack, method, slice, psnr_heart, ssim_heart, compat_psnr_heart, compat_ssim_heart, ...}``."""
    splits, skipped = {}, []
    for name, (set_name, image, affine, heart) in stacks.items():
        try:
            split = drop_slices(image, affine)
        except InputError as err:
            skipped.append({"set": set_name, "case": name, "reason": f"held-out test: {err}"})
            continue
        if split.scored_idx.size == 0:
            skipped.append({"set": set_name, "case": name, "reason": "held-out test: no dropped slice to score"})
            continue
        splits[name] = (set_name, split, heart)
        save_nifti(split.kept, split.kept_affine, work / "held_out_inputs" / f"{name}.nii.gz")
    failed: dict[str, str] = {}
    if sr_dir is None and bundle is not None:
        sr_dir = work / "held_out_pred"
        inputs = {n: work / "held_out_inputs" / f"{n}.nii.gz" for n in splits}
        _, failed = run_bundle(bundle, inputs, sr_dir, overrides, configs)
    rows = []
    for name, (set_name, split, heart) in tqdm(splits.items(), desc="held-out scoring", leave=False):
        predictions = {m: interpolate_dropped(split, m) for m in INTERPOLATIONS}
        sr_path = None if sr_dir is None else sr_dir / f"{name}_sr.nii.gz"
        if sr_path is not None and sr_path.is_file():
            sr, sr_affine = load_nifti(sr_path)
            predictions[method] = sample_on_stack(sr, sr_affine, split.stack.shape, split.affine, order=1)
        elif sr_path is not None:
            reason = failed.get(name, f"{sr_path}: no super-resolved output")
            skipped.append({"set": set_name, "case": name, "reason": f"held-out test: {reason}"})
        region = inplane_heart_box(heart, split.affine)
        box = None if region is None else tuple(r for a, r in enumerate(region) if a != split.axis)
        compat = {m: _compat_rows(split, volume, box) for m, volume in predictions.items()}
        for row in score_held_out(split, predictions, heart):
            c_psnr, c_ssim = compat[row["method"]][row["slice"]]
            rows.append(
                {"set": set_name, "stack": name, **row, "compat_psnr_heart": c_psnr, "compat_ssim_heart": c_ssim}
            )
    return rows, skipped


# --- report -------------------------------------------------------------------------------------------------------


def _rank_rows(rows: list[dict]) -> list[tuple[str, dict]]:
    """Worst, median and best case by the mean Dice over the labelled classes (centre profile)."""

    def score(r):
        values = _finite([r.get(f"dice_{c}") for c in CLASSES])
        return float(values.mean()) if values.size else -1.0

    ranked = sorted(rows, key=score)
    if not ranked:
        return []
    picks = [("worst", ranked[0]), ("median", ranked[len(ranked) // 2]), ("best", ranked[-1])]
    seen, out = set(), []
    for tag, r in picks:
        if r["case"] not in seen:
            seen.add(r["case"])
            out.append((tag, r))
    return out


def _missed(row: Mapping, prefix: str = "") -> bool:
    """No overlap at all with the manual heart: Dice 0 for every labelled class (the heart was not found where it is,
    whether the prediction is empty or elsewhere)."""
    values = _finite([row.get(f"{prefix}dice_{c}") for c in CLASSES])
    return bool(values.size) and bool(np.all(values == 0))


def _seg_table(rows: list[dict], sets: Sequence[str], prefix: str = "") -> list[str]:
    lines = [
        "| set | cases | no heart found | heart missed | "
        + " | ".join(f"Dice {v}" for v in CLASSES.values())
        + " | "
        + " | ".join(f"HD95 {v} (mm)" for v in CLASSES.values())
        + " |",
        "| --- | --- | --- | --- |" + " --- |" * (2 * len(CLASSES)),
    ]
    for s in [*sets, ALL]:
        mine = [r for r in rows if _in_group(r, s)]
        if not mine:
            continue
        missing = sum(not r["heart_found"] for r in mine)
        missed = sum(_missed(r, prefix) for r in mine)
        dice = [_mean_sd([r.get(f"{prefix}dice_{c}") for r in mine], 3) for c in CLASSES]
        hd = [_mean_sd([r.get(f"{prefix}hd95_{c}") for r in mine], 1) for c in CLASSES]
        lines.append(f"| {s} | {len(mine)} | {missing} | {missed} | " + " | ".join(dice + hd) + " |")
    return lines


def _clinical_table(rows: list[dict], sets: Sequence[str]) -> list[str]:
    lines = [
        "| set | subjects | " + " | ".join(f"{v}: MAE / bias" for v in INDICES.values()) + " |",
        "| --- | --- |" + " --- |" * len(INDICES),
    ]
    for s in [*sets, ALL]:
        mine = [r for r in rows if _in_group(r, s)]
        if not mine:
            continue
        cells = []
        for key in INDICES:
            scale = 100.0 if key.endswith("EF") else 1.0
            err = _finite([r[f"err_{key}"] for r in mine]) * scale
            cells.append("n/a" if err.size == 0 else f"{np.abs(err).mean():.1f} / {err.mean():+.1f} (n={err.size})")
        lines.append(f"| {s} | {len(mine)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("EF errors in percentage points; volumes in mL; mass in g.")
    return lines


def _held_out_table(rows: list[dict]) -> list[str]:
    lines = [
        "| stacks | method | dropped slices | PSNR heart (dB) | SSIM heart | compat PSNR heart (dB) "
        "| compat SSIM heart |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    groups = list(dict.fromkeys(r["set"] for r in rows))
    for g in [*groups, "all"]:
        mine = [r for r in rows if g == "all" or r["set"] == g]
        for method in dict.fromkeys(r["method"] for r in mine):
            sel = [r for r in mine if r["method"] == method]
            cells = [
                _mean_sd([r[k] for r in sel], 2 if "psnr" in k else 3)
                for k in ("psnr_heart", "ssim_heart", "compat_psnr_heart", "compat_ssim_heart")
            ]
            lines.append(f"| {g} | {method} | {len(sel)} | " + " | ".join(cells) + " |")
    return lines


def _summary(method, rows, clinical, held, skipped, sets, figures, seconds, note) -> str:
    lines = [
        f"# Real-scan yardstick: {method}",
        "",
        f"Made by: `{_command()}` ({seconds:.0f} s on this machine).",
        "",
        note,
        "",
        "Sources (cite when reporting): "
        + "; ".join(
            f"`{s}`: {REAL_SETS[s].citation}, {REAL_SETS[s].licence}"
            for s in dict.fromkeys(x.removesuffix(TRAINED) for x in sets)
            if s in REAL_SETS
        )
        + ". ACDC spacing is nominal (1.5625 x 1.5625 x 10 mm for every patient): its volumes, masses and HD95 are"
        " approximate, its Dice exact. Sunnybrook: LV blood pool on its contoured slices, myocardium at ED only, RV"
        " never labelled (undefined, not 0).",
        "",
        "## Segmentation on the native grid (prediction at the native voxel centres)",
        "",
        *_seg_table(rows, sets),
        "",
        "mean +- sd over cases; `(n=k)`: defined on k cases only. Dice over each class's labelled slices; HD95 in-plane"
        " (2D per labelled slice, pooled). No heart found: the prediction has no foreground on the stack; heart missed:"
        " Dice 0 for every labelled class (empty, or all of it elsewhere).",
        "",
        "## Segmentation integrated over the slice profile (box, one slice spacing)",
        "",
        *_seg_table(rows, sets, prefix="slab_"),
        "",
        "## Clinical indices from ED and ES (prediction vs manual, native grid)",
        "",
        *_clinical_table(clinical, sets),
        "",
    ]
    if held:
        lines += [
            "## Super-resolution: held-out slices",
            "",
            "Every other slice dropped; each method predicts the dropped slices from the rest; scored on the heart"
            " region (in-plane box of the manual label, or of the pseudo-label for `cine_sax`, + 10 mm) of the dropped"
            " slices with a kept neighbour on both sides. PSNR / SSIM: on the kept slices' common [0, 1] scale"
            " (0.5 / 99.5 percentiles); compat: each slice min-max normalised (the gemini-compat protocol).",
            "",
            *_held_out_table(held),
            "",
        ]
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{f}]({f})" for f in figures]
        lines += [
            "",
            "Failure views: worst / median / best case of each set by mean Dice (native grid), short axis and a"
            " long-axis reformat of the acquired stack with manual and predicted contours. Figures of the"
            " non-commercial sets (ACDC, M&Ms) are not committed to the repository: regenerate them with the command.",
            "",
        ]
    lines += [f"## Skipped ({len(skipped)})", ""]
    lines += [f"- {s['set']} / {s['case']}: {s['reason']}" for s in skipped] or ["none"]
    lines += ["", "Per case: `cases.csv`; per subject: `clinical.csv`; per held-out slice: `held_out.csv`."]
    return "\n".join(lines) + "\n"


# --- command line -------------------------------------------------------------------------------------------------


def oracle_crop(item: tuple, size_mm: float, folder: Path) -> Path:
    """Write a stack cropped in-plane to ``size_mm`` around its manual label's centroid (diagnostic) and return it.

    Args:
        item: ``(case, image, label, affine, annotation)`` as loaded.
        size_mm: side of the in-plane box (mm).
        folder: where the cropped stack is written.
    """
    case, image, label, affine, _ = item
    axis = slice_axis_of(affine)
    spacing = spacing_from_affine(affine)
    centre = np.argwhere(label > 0).mean(axis=0)
    lo, hi = np.zeros(3, int), np.asarray(image.shape)
    for a in range(3):
        if a != axis:
            half = int(round(size_mm / 2 / spacing[a]))
            lo[a] = max(int(round(centre[a])) - half, 0)
            hi[a] = min(lo[a] + 2 * half, image.shape[a])
    cropped = image[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))]
    shifted = affine.copy()
    shifted[:3, 3] = affine[:3, :3] @ lo + affine[:3, 3]
    path = folder / f"{case.name}_image.nii.gz"
    if not path.is_file():
        save_nifti(cropped, shifted, path)
    return path


def run(
    data: str | os.PathLike = "../shared/data/real_labelled",
    out: str | os.PathLike = "benchmarks/results/real_scans",
    bundle: str | os.PathLike = "gemini_gan_bundle",
    sets: str | Sequence[str] | None = None,
    pred: str | os.PathLike | None = None,
    cine: str | os.PathLike | None = "../shared/data/cine_sax",
    held_out: bool = True,
    held_out_pred: str | os.PathLike | None = None,
    bundle_args: Mapping | None = None,
    limit: int | None = None,
    work: str | os.PathLike | None = None,
    figures: bool = True,
    oracle_crop_mm: float | None = None,
    record: str | os.PathLike | None = None,
    configs: str | Sequence[str] = "inference.json",
    skip_trained: bool = False,
    overwrite: bool = False,
) -> Path:
    """Score a bundle (or a prediction folder) on the real labelled stacks and write the report folder.

    Args:
        data: the ``real_labelled`` folder (one sub-folder per set).
        out: report folder, written complete or not at all.
        bundle: bundle folder whose ``configs/inference.json`` runs on every stack (ignored for segmentation when
            ``pred`` is given).
        sets: set folders to score (comma-separated or a list; default: all).
        pred: a folder of another method's ``<case>_seg.nii.gz`` to score instead of running the bundle.
        cine: the ``cine_sax`` folder whose stacks join the held-out test (None: only the labelled stacks).
        held_out: run the held-out-slice super-resolution test.
        held_out_pred: with ``pred``, a folder of ``<stack>_sr.nii.gz`` made from the reduced stacks (written to
            ``<work>/held_out_inputs``); without it only the interpolations are scored there.
        bundle_args: extra overrides of the bundle's inference config (e.g. ``{"chain_gemini": True}``).
        limit: score only the first ``limit`` cases of each set (quick checks).
        work: folder for the NIfTI intermediates (kept; a run with the same ``work`` resumes: cases whose outputs
            are there are not run again); default a temporary folder, deleted.
        figures: draw the failure views and the Bland-Altman plot.
        oracle_crop_mm: diagnostic: crop each stack in-plane to a box of this size (mm) centred on its manual label
            before the bundle runs on it.
        record: the weights' training record (default: ``<weights>.json`` beside them, when it exists); the cases
            of the subjects it lists are reported apart, as ``<set> (trained on)``, and left out of the
            ``all held out`` rows.
        configs: the bundle's config files layered for its inference (comma-separated or a list), e.g.
            ``inference.json,inference_gemini.json`` for the Gemini-GAN generator.
        skip_trained: leave out the cases the weights were trained on (held-out figures only, faster).
        overwrite: replace an existing report folder.

    Raises:
        InputError: missing folders, unknown sets, nothing to score, or an existing report without ``overwrite``.
    """
    start = time.perf_counter()
    sets = [s.strip() for s in sets.split(",")] if isinstance(sets, str) else sets
    configs = [c.strip() for c in configs.split(",")] if isinstance(configs, str) else list(configs)
    cases, skipped = find_real_cases(data, sets)
    if limit is not None:
        kept, counts = [], {}
        for case in cases:
            counts[case.set] = counts.get(case.set, 0) + 1
            if counts[case.set] <= int(limit):
                kept.append(case)
        cases = kept
    bundle_path = Path(bundle) if Path(bundle).is_absolute() or Path(bundle).exists() else REPO / bundle
    trained = training_record(bundle_path, bundle_args, record) if pred is None or record is not None else {}
    cases = mark_trained(cases, trained)
    if skip_trained:
        cases = [c for c in cases if _held_out(c.set)]
    if pred is None and not (bundle_path / "configs" / "inference.json").is_file():
        raise InputError(f"{bundle_path}: not a bundle folder (no configs/inference.json)")
    if pred is not None and not Path(pred).is_dir():
        raise InputError(f"{pred}: prediction folder not found")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError(f"{out}: folder exists and is not empty (pass --overwrite to replace it)")
    loaded = {}
    for case in cases:
        try:
            loaded[case.name] = (case, *load_real_case(case))
        except InputError as err:
            logger.warning("%s skipped: %s", case.name, err)
            skipped.append({"set": case.set, "case": case.name, "reason": str(err)})
    if not loaded:
        raise InputError(f"{data}: no case could be read (see the reasons above)")
    set_names = list(dict.fromkeys(c.set for c, *_ in loaded.values()))
    method = Path(pred).name if pred is not None else bundle_path.name
    with tempfile.TemporaryDirectory(prefix="real_scans-") as scratch:
        work_dir = Path(work) if work else Path(scratch)
        seconds: dict[str, float] = {}
        if pred is None:
            pred_dir = work_dir / "pred"
            logger.info("running %s inference on %d real stacks", method, len(loaded))
            inputs = {n: v[0].image for n, v in loaded.items()}
            if oracle_crop_mm is not None:
                inputs = {
                    n: oracle_crop(v, float(oracle_crop_mm), work_dir / "oracle_crops") for n, v in loaded.items()
                }
            seconds, failed = run_bundle(bundle_path, inputs, pred_dir, bundle_args, configs)
            skipped += [{"set": loaded[n][0].set, "case": n, "reason": r} for n, r in failed.items()]
        else:
            pred_dir = Path(pred)
        rows, clinical, more, views = score_segmentations(loaded, pred_dir, method, seconds)
        skipped += more
        held = []
        if held_out:
            stacks, more = held_out_stacks(loaded, Path(cine) if cine else None)
            skipped += more
            held, more = held_out_test(
                stacks,
                bundle_path if pred is None else None,
                work_dir,
                method,
                bundle_args,
                Path(held_out_pred) if held_out_pred else None,
                configs,
            )
            skipped += more
        with atomic_output_dir(out, overwrite=overwrite) as tmp:
            _write_csv(tmp / "cases.csv", rows)
            _write_csv(tmp / "clinical.csv", clinical)
            _write_csv(tmp / "held_out.csv", held)
            _write_csv(tmp / "skipped.csv", skipped)
            drawn = []
            if figures:
                (tmp / "figures").mkdir()
                for s in set_names:
                    picks = _rank_rows([r for r in rows if r["set"] == s])
                    view_rows = []
                    for tag, r in picks:
                        dice = " / ".join(_fmt(r.get(f"dice_{c}"), 2) for c in CLASSES)
                        label = f"{tag}: {r['case']} (Dice {dice})"
                        view_rows.append({"label": label, **views[r["case"]]})
                    # file names without spaces: "acdc (trained on)" -> failure_view_acdc_trained_on.png
                    name = f"figures/failure_view_{re.sub(r'[^A-Za-z0-9]+', '_', s).strip('_')}.png"
                    if failure_view(view_rows, tmp / name, f"{method} on {s}: worst / median / best case"):
                        drawn.append(name)
                if bland_altman(clinical, INDICES, tmp / "figures" / "bland_altman.png"):
                    drawn.append("figures/bland_altman.png")
            weights = (
                "shipped weights" if "ckpt_path" not in (bundle_args or {}) else f"weights `{bundle_args['ckpt_path']}`"
            )
            note = f"Method `{method}`: " + (
                f"the bundle's own inference (`{bundle_path.name}/configs/{' + '.join(configs)}`, {weights}) run on"
                " each stack file as a user would."
                if pred is None
                else f"predictions read from `{pred}`."
            )
            if pred is None and bundle_args:
                note += f" Overrides: `{json.dumps(dict(bundle_args))}`."
            if trained_subjects(trained):
                listed = ", ".join(f"{k}: {len(v)} subjects" for k, v in trained_subjects(trained).items())
                note += (
                    f" The weights' training record lists what they were trained on ({listed}): those subjects' cases"
                    " are reported as `<set> (trained on)` (training-set figures, not generalisation) and left out of"
                    f" the `{ALL}` rows."
                )
            if oracle_crop_mm is not None and pred is None:
                note += (
                    f" **Diagnostic**: each stack was first cropped in-plane to {float(oracle_crop_mm):g} mm around its"
                    " manual label (which a user does not have); scored on the full native grid."
                )
            (tmp / "summary.md").write_text(
                _summary(method, rows, clinical, held, skipped, set_names, drawn, time.perf_counter() - start, note)
            )
    logger.info("report written to %s: %d cases scored, %d skipped", out, len(rows), len(skipped))
    return out


@functools.wraps(run)
def main(*args, **kwargs) -> None:
    """Command line (see :func:`run`); user errors print one line and exit with status 2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        out = run(*args, **kwargs)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from err
    print((Path(out) / "summary.md").read_text())


if __name__ == "__main__":
    fire.Fire(main)
