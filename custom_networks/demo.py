"""``make demo``: run the Gemini-GAN bundle's staged inference with the shipped weights on a generated case, score it
against the generated ground truth in world coordinates, and draw an overlay.

The case goes through the pipeline twice: stage 1 alone (the slice segmenter, its probabilities interpolated between
slices) and the whole staged pipeline (stage 1, then the conditioned Gemini-GAN on the heart's box), so that the
figure and the scores show what the 3D step adds.

Usage: ``python -m custom_networks.demo --out demo_output``
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from custom_networks.bundle.workflows import load_workflow
from custom_networks.core.cli import run_cli
from custom_networks.core.geometry import resample_to_grid, spacing_from_affine
from custom_networks.core.labels import LABEL_COLORS
from custom_networks.core.nifti import load_nifti, save_figure
from custom_networks.core.overlap import dice
from custom_networks.data import synthesize_dataset

__all__ = ["run_demo", "score_case"]


def _normalise(x: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(x, [0.5, 99.5])
    return np.clip((x - lo) / max(hi - lo, 1e-6), 0.0, 1.0)


def score_case(seg_path: str | Path, sr_path: str | Path, case_dir: str | Path) -> dict[str, float]:
    """Dice per class and SR PSNR of the outputs against the case's HR reference, resampled in world coordinates
    onto the output grid (the output grid covers the input stack's field of view)."""
    case_dir = Path(case_dir)
    seg, seg_aff = load_nifti(seg_path, dtype=np.uint8)
    sr, _ = load_nifti(sr_path)
    ref_lab, ref_aff = load_nifti(case_dir / "hr_label.nii.gz", dtype=np.uint8)
    ref_img, _ = load_nifti(case_dir / "hr_image.nii.gz")
    lab = resample_to_grid(ref_lab, ref_aff, seg.shape, seg_aff, order=0, mode="constant")
    img = resample_to_grid(ref_img, ref_aff, seg.shape, seg_aff, order=1, mode="constant")
    inside = resample_to_grid(np.ones_like(ref_img), ref_aff, seg.shape, seg_aff, order=0, mode="constant") > 0
    mse = float(np.mean((np.clip(sr, 0, 1)[inside] - _normalise(img[inside])) ** 2))
    return {
        "dice_lv": dice(seg == 1, lab == 1),
        "dice_myo": dice(seg == 2, lab == 2),
        "dice_rv": dice(seg == 3, lab == 3),
        "psnr_db": float(10 * np.log10(1.0 / max(mse, 1e-12))),
    }


def _overlay(stack: Path, stage1: Path, seg: Path, sr: Path, case_dir: Path, out: Path) -> None:
    lr, lr_aff = load_nifti(stack)
    pred, p_aff = load_nifti(seg, dtype=np.uint8)
    first, f_aff = load_nifti(stage1, dtype=np.uint8)
    srv, _ = load_nifti(sr)
    ref, r_aff = load_nifti(case_dir / "hr_label.nii.gz", dtype=np.uint8)
    hr, _ = load_nifti(case_dir / "hr_image.nii.gz")
    lr_on = resample_to_grid(lr, lr_aff, pred.shape, p_aff, order=0)
    first_on = resample_to_grid(first, f_aff, pred.shape, p_aff, order=0)
    ref_on = resample_to_grid(ref, r_aff, pred.shape, p_aff, order=0, mode="constant")
    hr_on = resample_to_grid(hr, r_aff, pred.shape, p_aff, order=1, mode="constant")
    sp = spacing_from_affine(p_aff)
    k = int(np.median(np.argwhere(pred == 1)[:, 2])) if (pred == 1).any() else pred.shape[2] // 2
    j = int(np.median(np.argwhere(pred == 1)[:, 1])) if (pred == 1).any() else pred.shape[1] // 2
    views = [
        ("input stack (nearest)", lr_on, None),
        ("stage 1 alone: slice labels,\nlinear between slices", lr_on, first_on),
        ("staged: 3D step on the heart's box\n(<name>_sr + <name>_seg)", srv, pred),
        ("HR reference + reference labels", hr_on, ref_on),
    ]
    from matplotlib.figure import Figure  # no pyplot: files only, no display, no global backend

    fig = Figure(figsize=(14, 7.5))
    axes = fig.subplots(2, 4)
    for col, (title, vol, lab) in enumerate(views):
        for row, (cut, spacing) in enumerate(
            (((slice(None), slice(None), k), sp[:2]), ((slice(None), j, slice(None)), sp[[0, 2]]))
        ):
            ax = axes[row, col]
            img = vol[cut]
            ax.imshow(
                img.T,
                cmap="gray",
                vmin=np.percentile(img, 1),
                vmax=np.percentile(img, 99.5),
                extent=(0, img.shape[0] * spacing[0], img.shape[1] * spacing[1], 0),
            )
            if lab is not None:
                xs = (np.arange(img.shape[0]) + 0.5) * spacing[0]
                ys = (np.arange(img.shape[1]) + 0.5) * spacing[1]
                for value in (2, 1, 3):
                    mask = (lab[cut] == value).astype(float)
                    if mask.any():
                        ax.contour(xs, ys, mask.T, levels=[0.5], colors=[LABEL_COLORS[value]], linewidths=0.9)
            ax.set_title(f"{title}\n{'short axis' if row == 0 else 'long-axis reformat'}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    save_figure(fig, out, dpi=100)


def run_demo(out: str = "demo_output", seed: int = 2026, ckpt: str | None = None) -> dict:
    """Generate one subject, run the bundle's inference on its native ED stack (stage 1 alone, then staged), print
    the scores of both and the outputs."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out_dir = Path(out)
    dataset = synthesize_dataset(out_dir / "demo_case", subjects=1, seed=seed, overwrite=True)
    case_dir = dataset / "sub-0000" / "ED"
    stack = case_dir / "lr_image.nii.gz"
    seconds = {}
    for name, folder, overrides in (("stage1", "stage1_only", {"gemini_3d": False}), ("staged", "inference", {})):
        start = time.perf_counter()
        wf = load_workflow(
            ["inference.json"],
            input_path=str(stack),
            output_dir=str(out_dir / folder),
            **({"ckpt_path": ckpt} if ckpt else {}),  # default: the bundle's shipped weights
            overwrite=True,  # the demo's own folder, regenerated on every run
            **overrides,
        )
        wf.run()
        wf.finalize()
        seconds[name] = time.perf_counter() - start
    stage1 = out_dir / "stage1_only" / "lr_image_seg.nii.gz"
    seg = out_dir / "inference" / "lr_image_seg.nii.gz"
    sr = out_dir / "inference" / "lr_image_sr.nii.gz"
    scores = score_case(seg, sr, case_dir)
    scores_stage1 = score_case(stage1, out_dir / "stage1_only" / "lr_image_sr.nii.gz", case_dir)
    _overlay(stack, stage1, seg, sr, case_dir, out_dir / "demo_overlay.png")
    report = {
        "input": str(stack),
        "segmentation": str(seg),
        "super_resolved": str(sr),
        "overlay": str(out_dir / "demo_overlay.png"),
        "inference_seconds": round(seconds["staged"], 2),
        **{k: round(v, 3) for k, v in scores.items()},
        "stage1_alone": {
            "inference_seconds": round(seconds["stage1"], 2),
            **{k: round(v, 3) for k, v in scores_stage1.items()},
        },
    }
    print(json.dumps(report, indent=1))
    return report


def main(out: str = "demo_output", seed: int = 2026, ckpt: str | None = None) -> None:
    """Command-line entry point (see :func:`run_demo`)."""
    run_demo(out, seed, ckpt)


if __name__ == "__main__":
    sys.exit(run_cli(main, name="python -m custom_networks.demo", path_options=("--out", "--ckpt")))
