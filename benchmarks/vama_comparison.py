"""The V-AMA bundle's claim in one table: the frozen Gemini-GAN on a generated target domain's test split, without
adaptation, after each translation, and on the source twins (the same subjects rendered in the source domain: the
upper bound without domain shift).

Each row runs the bundle's own evaluation (``train.json`` [+ ``comparators/<method>.json``] + ``evaluate.json``, the
``python -m monai.bundle run`` code path) with the weights found under ``vama_bundle/models`` and reads the per-case
CSVs it writes: 3D Dice and HD95 per class against the targets' HR labels, PSNR / SSIM of the translation against
the source twin, and the share of the Dice lost to the domain shift that the method recovers,
``(method - no adaptation) / (source twin - no adaptation)`` per class (mean Dice over the cases). Every learned
translation is scored as it is and followed by the bundle's histogram calibration onto the source cohort
(``calibrate``; how the bundle deploys V-AMA).

Usage::

    python benchmarks/vama_comparison.py --out benchmarks/results/vama_comparison [--target_domain target_a] \\
        [--runs "{'V-AMA, seed 1': ['vama', '/path/to/models']}"] [--overrides "{'norm': ...}"] [--overwrite]

For another target domain the shipped weights (trained on ``target_a``) do not apply: train each method with
``--target_domain target_b --ckpt_dir <folder>``, fit the histogram matching there too, and pass ``--shipped False``
with every method as a ``--runs`` entry and ``--overrides "{'calibration_ckpt': '<its model.pt>'}"``.

``--runs`` adds rows (raw and calibrated) for other weights (label -> [method, checkpoint folder] or [method, folder,
{overrides}]), e.g. other training seeds. Writes ``cases.csv`` (one row per case and method) and ``summary.md``,
together or not at all.
"""

from __future__ import annotations

import csv
import logging
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import fire
import numpy as np
from scipy.stats import wilcoxon

from custom_networks.bundle.translation_methods import (
    METHOD_NAMES,
    TRANSLATION_METHODS,
    VAMA_BUNDLE,
    method_checkpoint,
    method_configs,
)
from custom_networks.bundle.workflows import load_workflow
from custom_networks.core.nifti import atomic_output_dir
from custom_networks.metric_table import read_raw

logger = logging.getLogger("vama_comparison")

#: Row names: the translation methods and the two references.
NAMES = {
    **METHOD_NAMES,
    "histogram_matching": "histogram matching (classic)",
    "no_adaptation": "no adaptation",
    "source_twin": "upper bound: source twins (same subjects, source domain)",
}
CLASSES = ("lv", "myo", "rv")
#: Raw-CSV stems and what they hold (per class or one value per case).
METRICS = {"val_mean_dice": True, "val_hd95_mm": True, "translation_psnr": False, "translation_ssim": False}


def _evaluate(method: str, eval_dir: Path, ckpt_dir: str | None, overrides: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run the bundle evaluation of one row; return its per-case metric arrays (and the case names)."""
    configs = method_configs(method, "train.json") if method in TRANSLATION_METHODS else ["train.json"]
    extra: dict[str, Any] = dict(overrides)
    if method == "no_adaptation":
        extra["adapt"] = False
    elif method == "source_twin":
        extra["upper_bound"] = True
    if ckpt_dir is not None:
        extra["ckpt_dir"] = ckpt_dir
    workflow = load_workflow([*configs, "evaluate.json"], VAMA_BUNDLE, "evaluating", eval_dir=str(eval_dir), **extra)
    workflow.run()
    workflow.finalize()
    out = {stem: read_raw(eval_dir / f"{stem}_raw.csv") for stem in METRICS}
    with open(eval_dir / "val_mean_dice_raw.csv", newline="") as fh:
        out["cases"] = np.asarray(
            [Path(row["filename"]).parts[-3] + "_" + Path(row["filename"]).parts[-2] for row in csv.DictReader(fh)]
        )
    return out


def _quote(arg: str) -> str:
    """Shell quoting that keeps Python literals readable (double quotes around arguments holding single quotes)."""
    if "'" in arg and not any(c in arg for c in '"$`\\'):
        return f'"{arg}"'
    return shlex.quote(arg)


def _paired_table(results: dict[str, dict[str, np.ndarray]], reference: str) -> list[str]:
    """Markdown lines: each row's Dice minus the reference row's, case by case (mean, and the two-sided Wilcoxon
    signed-rank p-value over the cases)."""
    ref = results[reference]
    lines = [
        "",
        f"Paired comparison with **{reference}**, case by case: mean Dice difference (row - {reference}) and two-sided "
        "Wilcoxon signed-rank p-value over the cases (p < 0.05: a difference unlikely to be chance on these cases).",
        "",
        "| method | LV blood pool | LV myocardium | RV |",
        "| --- | --- | --- | --- |",
    ]
    for label, res in results.items():
        if label == reference:
            continue
        if list(res["cases"]) != list(ref["cases"]):  # pairs must be the same cases, in the same order
            raise RuntimeError(f"{label} and {reference} were scored on different cases")
        cells = []
        for c in range(3):
            diff = res["val_mean_dice"][:, c] - ref["val_mean_dice"][:, c]
            diff = diff[np.isfinite(diff)]
            p = wilcoxon(diff).pvalue if diff.size and np.any(diff != 0) else 1.0
            cells.append(f"{diff.mean():+.3f} (p = {p:.2g})" if diff.size else "n/a")
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return lines


def _hd95(values: np.ndarray) -> str:
    """Mean HD95 over the cases where it is defined, with the count of the others (no such structure predicted)."""
    finite = values[np.isfinite(values)]
    text = f"{finite.mean():.1f}" if finite.size else "n/a"
    return text if finite.size == values.size else f"{text} ({values.size - finite.size} missed)"


def _mean_sd(values: np.ndarray, digits: int) -> str:
    finite = values[np.isfinite(values)]
    return f"{finite.mean():.{digits}f} +- {finite.std():.{digits}f}" if finite.size else "n/a"


def main(
    out: str = "benchmarks/results/vama_comparison",
    target_domain: str = "target_a",
    runs: dict[str, list] | None = None,
    overrides: dict[str, Any] | None = None,
    shipped: bool = True,
    split: str = "test",
    reference: str = "V-AMA + calibration",
    overwrite: bool = False,
) -> None:
    """Evaluate every method with weights and write the comparison table.

    Args:
        out: report folder (``cases.csv``, ``summary.md``).
        target_domain: generated target domain (its paired dataset under ``vama_bundle/data``; generated if absent).
        runs: extra rows: label -> ``[method, checkpoint folder]`` or ``[method, folder, {config overrides}]``.
        overrides: config overrides for every row (e.g. ``{"calibration_ckpt": ...}``).
        shipped: add the rows of the weights under ``vama_bundle/models`` (trained on ``target_a``).
        split: ``"test"`` (the paired dataset's test split), ``"external"`` (the 20-case external test cohort) or
            ``"validation"`` (to decide settings such as ``calibrate`` without the test cases).
        reference: label of the row the others are compared with, case by case (paired differences of the Dice and
            the Wilcoxon signed-rank test), when present: by default the V-AMA the bundle deploys.
        overwrite: replace an existing report folder.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    common = {"target_domain": target_domain, "split": split, **(overrides or {})}
    rows: list[tuple[str, str, str | None, dict[str, Any]]] = [
        (NAMES["no_adaptation"], "no_adaptation", None, {}),
        (NAMES["source_twin"], "source_twin", None, {}),
    ]
    skipped = []
    for method in TRANSLATION_METHODS if shipped else ():
        if not method_checkpoint(method).is_file():
            skipped.append(method)
            continue
        rows.append((NAMES[method], method, None, {"calibrate": False}))
        if method != "histogram_matching":  # the calibration *is* the histogram matching
            rows.append((f"{NAMES[method]} + calibration", method, None, {"calibrate": True}))
    for label, spec in (runs or {}).items():
        method, folder, *rest = spec
        extra = dict(rest[0]) if rest else {}
        rows.append((label, method, str(folder), {**extra, "calibrate": False}))
        if method != "histogram_matching":
            rows.append((f"{label} + calibration", method, str(folder), {**extra, "calibrate": True}))

    results = {}
    with tempfile.TemporaryDirectory() as work:
        for k, (label, method, ckpt_dir, extra) in enumerate(rows):
            logger.info("evaluating %s", label)
            results[label] = _evaluate(method, Path(work) / str(k), ckpt_dir, {**common, **extra})

    none, twin = results[NAMES["no_adaptation"]], results[NAMES["source_twin"]]
    lost = np.nanmean(twin["val_mean_dice"], 0) - np.nanmean(none["val_mean_dice"], 0)
    command = "python benchmarks/vama_comparison.py " + " ".join(_quote(a) for a in sys.argv[1:])
    n_cases = len(none["cases"])
    lines = [
        f"# Domain adaptation on the generated `{target_domain}` {split} split",
        "",
        f"Command: `{command}`",
        "",
        f"{n_cases} target {split} cases ({', '.join(none['cases'])}); frozen Gemini-GAN (`gemini_gan_bundle/models/"
        "model.pt`) on each method's translation; mean +- sd over the cases. Dice / HD95 (mm) against the targets' HR "
        "labels; PSNR (dB) / SSIM of the translated image against the case's source twin; *recovered*: share of the "
        "Dice lost to the domain shift (source twin - no adaptation) that the method wins back; HD95 over the cases "
        "where the class was predicted (*k missed*: cases without it); *+ calibration*: the "
        "translation's histogram mapped onto the source cohort's (the bundle's `calibrate`, default for V-AMA).",
        "",
        "| method | Dice LV blood pool | Dice LV myocardium | Dice RV | HD95 LV / myo / RV | PSNR vs twin | "
        "SSIM vs twin | recovered LV / myo / RV |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    csv_rows = []
    for label, method, _, _ in rows:
        res = results[label]
        dice, hd = res["val_mean_dice"], res["val_hd95_mm"]
        is_twin = method == "source_twin"
        psnr = "(identical)" if is_twin else _mean_sd(res["translation_psnr"][:, 0], 2)
        ssim = "(identical)" if is_twin else _mean_sd(res["translation_ssim"][:, 0], 3)
        gained = (np.nanmean(dice, 0) - np.nanmean(none["val_mean_dice"], 0)) / np.where(lost > 0, lost, np.nan)
        recovered = "" if method in ("no_adaptation", "source_twin") else " / ".join(f"{100 * g:.0f} %" for g in gained)
        hd95 = " / ".join(_hd95(hd[:, c]) for c in range(3))
        cells = [_mean_sd(dice[:, c], 3) for c in range(3)]
        lines.append(f"| {label} | {' | '.join(cells)} | {hd95} | {psnr} | {ssim} | {recovered} |")
        for i, case in enumerate(res["cases"]):
            row = {"method": label, "case": case}
            row.update({f"dice_{c}": round(float(dice[i, j]), 4) for j, c in enumerate(CLASSES)})
            row.update({f"hd95_{c}_mm": round(float(hd[i, j]), 2) for j, c in enumerate(CLASSES)})
            row.update(
                {
                    "psnr_vs_twin": round(float(res["translation_psnr"][i, 0]), 3),
                    "ssim_vs_twin": round(float(res["translation_ssim"][i, 0]), 4),
                }
            )
            csv_rows.append(row)
    if skipped and shipped:
        lines += ["", f"Not run (no weights under vama_bundle/models): {', '.join(skipped)}."]
    if reference in results:
        lines += _paired_table(results, reference)
    with atomic_output_dir(Path(out), overwrite=overwrite) as tmp:
        with open(tmp / "cases.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(csv_rows[0]))
            writer.writeheader()
            writer.writerows(csv_rows)
        (tmp / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    fire.Fire(main)
