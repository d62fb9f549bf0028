"""Figures of an evaluation: box plots per metric and method, and best / median / worst case montages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from custom_networks.core.geometry import slice_axis_of, spacing_from_affine
from custom_networks.core.label_maps import load_label
from custom_networks.core.labels import LABEL_COLORS
from custom_networks.core.nifti import load_nifti, save_figure
from custom_networks.evaluate.pipeline import CaseResult, Evaluation, on_grid
from custom_networks.evaluate.scores import robust_scale

__all__ = ["BOX_METRICS", "case_montage", "metric_boxplots", "rank_cases"]

#: Metrics shown in the box plots: key -> axis title.
BOX_METRICS = {
    "dice_lv": "Dice LV blood pool",
    "dice_myo": "Dice LV myocardium",
    "dice_rv": "Dice RV",
    "hd95_lv": "HD95 LV blood pool (mm)",
    "hd95_myo": "HD95 LV myocardium (mm)",
    "hd95_rv": "HD95 RV (mm)",
    "psnr_heart": "PSNR heart region (dB)",
    "ssim_heart": "SSIM heart region",
}


def metric_boxplots(evaluation: Evaluation, path: Path) -> Path | None:
    """One box plot per metric (methods side by side); None when no metric has values."""
    methods = list(evaluation.methods)
    panels = []
    for key, title in BOX_METRICS.items():
        data = [
            [r.scores[key] for r in evaluation.results if r.method == m and np.isfinite(r.scores.get(key, np.nan))]
            for m in methods
        ]
        if any(data):
            panels.append((title, data))
    if not panels:
        return None
    cols = min(4, len(panels))
    rows = int(np.ceil(len(panels) / cols))
    fig = Figure(figsize=(3.6 * cols, 3.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (title, data) in zip(axes.ravel(), panels, strict=False):
        ax.boxplot([d if d else [np.nan] for d in data], showmeans=True)
        ax.set_xticks(range(1, len(methods) + 1), methods, rotation=35, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path)
    return path


def rank_cases(results: list[CaseResult]) -> list[tuple[str, CaseResult]]:
    """Best, median and worst case by mean 3D Dice (by heart-region PSNR when there is no segmentation)."""

    def key(r: CaseResult) -> float:
        dice = [r.scores.get(f"dice_{c}", np.nan) for c in ("lv", "myo", "rv")]
        value = np.nanmean(dice) if np.isfinite(dice).any() else r.scores.get("psnr_heart", np.nan)
        return float(value) if np.isfinite(value) else -np.inf

    ranked = sorted(results, key=key, reverse=True)
    if not ranked:
        return []
    picks = [("best", ranked[0]), ("median", ranked[len(ranked) // 2]), ("worst", ranked[-1])]
    seen, out = set(), []
    for tag, r in picks:
        if r.case not in seen:
            seen.add(r.case)
            out.append((tag, r))
    return out


def _views(result: CaseResult):
    ref = result.reference
    label = image = None
    if ref.label is not None:
        label, affine = load_label(ref.label)
    if ref.image is not None:
        image, img_affine = load_nifti(ref.image)
        if label is None:
            affine = img_affine
        else:
            image, _ = on_grid(image, img_affine, label.shape, affine, label=False)
    shape = (label if label is not None else image).shape
    pred_label = pred_img = stack = None
    if result.seg is not None and label is not None:
        pred_label = on_grid(*load_label(result.seg), shape, affine, label=True)[0]
    if result.sr is not None:
        pred_img = on_grid(*load_nifti(result.sr), shape, affine, label=False)[0]
    if ref.stack is not None and ref.stack.is_file():
        stack = on_grid(*load_nifti(ref.stack), shape, affine, label=True)[0]  # nearest: shows the slices
    return affine, [
        ("acquired stack", stack, None),
        ("prediction", pred_img, pred_label),
        ("reference", None if image is None else robust_scale(image), label),
    ]


def case_montage(evaluation: Evaluation, method: str, path: Path) -> Path | None:
    """Best / median / worst case of one method: acquired stack, prediction and reference, in a short-axis slice
    and a long-axis reformat through the LV, with label contours (red LV blood pool, green myocardium, blue RV)."""
    picks = rank_cases([r for r in evaluation.results if r.method == method])
    if not picks:
        return None
    fig = Figure(figsize=(15, 2.8 * len(picks)))
    axes = fig.subplots(len(picks), 6, squeeze=False)
    for row, (tag, result) in enumerate(picks):
        affine, views = _views(result)
        axis = slice_axis_of(affine)
        spacing = spacing_from_affine(affine)
        ref_label = views[2][2]
        heart = np.argwhere(ref_label == 1) if ref_label is not None and (ref_label == 1).any() else None
        centre = (
            np.median(heart, axis=0).astype(int)
            if heart is not None
            else np.asarray(next(v for _, v, _ in views if v is not None).shape) // 2
        )
        in_plane = [a for a in range(3) if a != axis]
        cuts = [
            ("short axis", axis, in_plane),  # fixed: slice axis
            ("long-axis reformat", in_plane[1], [in_plane[0], axis]),
        ]
        for col, (title, vol, lab) in enumerate(views):
            for v, (cut_name, fixed, shown) in enumerate(cuts):
                ax = axes[row, 2 * col + v]
                ax.set_xticks([])
                ax.set_yticks([])
                if vol is None and lab is None:
                    ax.set_title(f"{title}: not available", fontsize=8)
                    continue
                idx = [slice(None)] * 3
                idx[fixed] = int(centre[fixed])
                base = vol if vol is not None else np.zeros_like(lab, dtype=float)
                img = base[tuple(idx)]
                if shown[0] > shown[1]:
                    img = img.T
                sx, sy = spacing[shown[0]], spacing[shown[1]]
                extent = (0, img.shape[0] * sx, img.shape[1] * sy, 0)
                ax.imshow(img.T, cmap="gray", vmin=0, vmax=max(float(np.percentile(img, 99.5)), 1e-6), extent=extent)
                if lab is not None:
                    lab2 = lab[tuple(idx)]
                    lab2 = lab2.T if shown[0] > shown[1] else lab2
                    xs, ys = (np.arange(lab2.shape[0]) + 0.5) * sx, (np.arange(lab2.shape[1]) + 0.5) * sy
                    for value in (2, 1, 3):
                        mask = (lab2 == value).astype(float)
                        if mask.any():
                            ax.contour(xs, ys, mask.T, levels=[0.5], colors=[LABEL_COLORS[value]], linewidths=0.8)
                head = f"{tag}: {result.case}\n" if col == 0 and v == 0 else ""
                ax.set_title(f"{head}{title}, {cut_name}", fontsize=8)
        dice = [result.scores.get(f"dice_{c}", np.nan) for c in ("lv", "myo", "rv")]
        if np.isfinite(dice).any():
            axes[row, 0].set_ylabel("Dice " + " / ".join(f"{d:.2f}" for d in dice), fontsize=8)
    fig.suptitle(f"{method}: best, median and worst case", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return path
