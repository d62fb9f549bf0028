"""Real short-axis cine stacks without ground truth: does domain adaptation change what the frozen Gemini-GAN sees?

For every ``sax_*.nii.gz`` stack of ``<data>/cine_sax/<source>/`` with its ``*_pseudolabel.nii.gz`` (another
network's output, ACDC convention, **not ground truth**), the Gemini-GAN bundle segments the stack as it is ("no
adaptation") and after each trained translation of the V-AMA bundle (V-AMA and the comparators whose weights exist
under ``vama_bundle/models``; ``--chain_gemini`` inference, the same code path as the bundle command). The
segmentation on the HR grid is sampled (nearest neighbour, world coordinates) at the acquired slices and compared
with the pseudo-labels: 3D Dice per class, i.e. *agreement with another network*.

Usage::

    python benchmarks/vama_real_agreement.py --data ../shared/data --out benchmarks/results/vama_real [--overwrite]

Writes ``agreement.csv`` (one row per stack and method) and ``summary.md`` (means per method, the command, the
weights used), together or not at all.
"""

from __future__ import annotations

import csv
import logging
import shlex
import sys
import tempfile
import time
from pathlib import Path

import fire
import numpy as np
from tqdm.auto import tqdm

from custom_networks.bundle.translation_methods import (
    TRANSLATION_METHODS,
    VAMA_BUNDLE,
    method_checkpoint,
    method_configs,
)
from custom_networks.bundle.workflows import load_workflow
from custom_networks.core.nifti import atomic_output_dir, load_nifti
from custom_networks.datalists import ACDC_LABEL_MAP, cine_stacks
from custom_networks.evaluate.held_out import label_agreement, map_labels

logger = logging.getLogger("vama_real_agreement")

NO_ADAPTATION = "no_adaptation"
CLASSES = ("lv", "myo", "rv")


def _segment(method: str, inputs: Path, out: Path) -> float:
    """Run the bundle inference on the folder ``inputs``; return the wall time (s)."""
    start = time.perf_counter()
    if method == NO_ADAPTATION:
        workflow = load_workflow(["inference.json"], input_path=str(inputs), output_dir=str(out), sr_output=False)
    else:
        configs = method_configs(method, "inference.json")
        workflow = load_workflow(
            configs,
            bundle=VAMA_BUNDLE,
            input_path=str(inputs),
            output_dir=str(out),
            chain_gemini=True,
            gemini_overrides={"sr_output": False},
        )
    workflow.run()
    workflow.finalize()
    return time.perf_counter() - start


def _mean(values: list[float]) -> str:
    values = [v for v in values if np.isfinite(v)]
    return f"{np.mean(values):.3f}" if values else "n/a"


def main(data: str = "../shared/data", out: str = "benchmarks/results/vama_real", overwrite: bool = False) -> None:
    """Score the agreement with the pseudo-labels, without and with each trained translation.

    Args:
        data: the shared data folder (holding ``cine_sax/``).
        out: report folder (``agreement.csv``, ``summary.md``).
        overwrite: replace an existing report folder.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stacks = cine_stacks(Path(data) / "cine_sax")
    methods = [NO_ADAPTATION] + [m for m in TRANSLATION_METHODS if method_checkpoint(m).is_file()]
    skipped = [m for m in TRANSLATION_METHODS if m not in methods]
    rows, seconds = [], {}
    with tempfile.TemporaryDirectory() as work:
        inputs = Path(work) / "inputs"
        inputs.mkdir()
        for name, image, _ in stacks:  # file names become the output names
            (inputs / f"{name}.nii.gz").symlink_to(image.resolve())
        for method in tqdm(methods, desc="methods"):
            seconds[method] = _segment(method, inputs, Path(work) / method)
            suffix = "_seg" if method == NO_ADAPTATION else "_adapted_seg"
            for name, _, label in stacks:
                seg, seg_affine = load_nifti(Path(work) / method / f"{name}{suffix}.nii.gz")
                pseudo, pseudo_affine = load_nifti(label)
                pseudo = map_labels(np.rint(pseudo).astype(np.uint8), ACDC_LABEL_MAP)
                dice = label_agreement(np.rint(seg).astype(np.uint8), seg_affine, pseudo, pseudo_affine)
                rows.append(
                    {"stack": name, "method": method, **{c: round(float(dice[f"dice_{c}"]), 4) for c in CLASSES}}
                )
    command = "python benchmarks/vama_real_agreement.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = [
        "# Real SAX cine stacks: agreement with pseudo-labels, with and without domain adaptation",
        "",
        f"Command: `{command}`",
        "",
        f"{len(stacks)} stacks ({', '.join(s[0] for s in stacks)}). Frozen Gemini-GAN (`gemini_gan_bundle/models/"
        "model.pt`) on the raw stack and on each translation's output; 3D Dice of its segmentation, sampled at the "
        "acquired slices, against the pseudo-labels (**another network's output, not ground truth**: agreement, "
        "not accuracy).",
        "",
        "| method | LV blood pool | LV myocardium | RV | seconds (all stacks, model load included) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        cells = " | ".join(_mean([r[c] for r in mine]) for c in CLASSES)
        lines.append(f"| {method} | {cells} | {seconds[method]:.1f} |")
    if skipped:
        lines += ["", f"Not run (no weights under vama_bundle/models): {', '.join(skipped)}."]
    with atomic_output_dir(Path(out), overwrite=overwrite) as tmp:
        with open(tmp / "agreement.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["stack", "method", *CLASSES])
            writer.writeheader()
            writer.writerows(rows)
        (tmp / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    fire.Fire(main)
