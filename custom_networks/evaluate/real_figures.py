"""Figures of the real-scan benchmark: a failure view (worst / median / best case of a set, short axis and a long-axis
reformat of the native stack with manual and predicted contours) and Bland-Altman plots of clinical indices."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import rcParams
from matplotlib.figure import Figure

from custom_networks.core.geometry import slice_axis_of, spacing_from_affine
from custom_networks.core.labels import LABEL_COLORS
from custom_networks.core.nifti import save_figure
from custom_networks.evaluate.scores import robust_scale

__all__ = ["bland_altman", "failure_view"]


def _contours(ax, label: np.ndarray, extent) -> None:
    for value, colour in sorted(LABEL_COLORS.items(), reverse=True):  # LV drawn last, over the myocardium's outline
        mask = label == value
        if mask.any() and not mask.all():
            ax.contour(mask.T, levels=[0.5], colors=[colour], linewidths=1.0, extent=extent, origin="lower")


def _crop_box(ref: np.ndarray, pred: np.ndarray, spacing: Sequence[float], margin_mm: float = 25.0):
    """In-plane crop (axes 0, 1) around the union of both label maps' foreground, ``margin_mm`` wide."""
    fg = np.argwhere((ref > 0) | (pred > 0))
    if fg.size == 0:
        return slice(None), slice(None)
    lo, hi = fg.min(0), fg.max(0) + 1
    out = []
    for a in (0, 1):
        m = int(math.ceil(margin_mm / spacing[a]))
        out.append(slice(max(int(lo[a]) - m, 0), min(int(hi[a]) + m, ref.shape[a])))
    return tuple(out)


def failure_view(rows: Sequence[Mapping], path: str | Path, title: str, cell_inches: float = 2.6) -> Path | None:
    """One figure row per case: short axis with manual contours, with predicted contours; long-axis reformat with
    manual contours, with predicted contours.

    Args:
        rows: per case ``{"label": row label, "image", "ref", "pred", "affine", "slice"}``: the native stack, its
            manual and predicted label maps on the same grid (arrays), its affine, and the short-axis slice to show
            (None: the labelled slice with the largest manual LV blood pool).
        path: PNG to write.
        title: figure title.
        cell_inches: size of one panel.

    Returns:
        The PNG path, or None when ``rows`` is empty.
    """
    if not rows:
        return None
    fig = Figure(figsize=(4 * cell_inches, len(rows) * cell_inches))
    axes = fig.subplots(len(rows), 4, squeeze=False)
    for r, row in enumerate(rows):
        affine = np.asarray(row["affine"], float)
        axis = slice_axis_of(affine)
        image = np.moveaxis(np.asarray(row["image"], np.float32), axis, -1)
        ref = np.moveaxis(np.asarray(row["ref"]), axis, -1)
        pred = np.moveaxis(np.asarray(row["pred"]), axis, -1)
        spacing = [s for a, s in enumerate(spacing_from_affine(affine)) if a != axis] + [
            spacing_from_affine(affine)[axis]
        ]
        k = row.get("slice")
        if k is None:
            areas = (ref == 1).sum(axis=(0, 1))
            k = int(np.argmax(areas)) if areas.any() else image.shape[2] // 2
        box = _crop_box(ref, pred, spacing)
        shown = robust_scale(image)
        sax = shown[box[0], box[1], k]
        nx, ny = sax.shape
        sax_extent = (0, nx * spacing[0], 0, ny * spacing[1])
        lv = np.argwhere(ref[..., k] == 1)
        j = int(np.round(lv[:, 1].mean())) if lv.size else ref.shape[1] // 2
        lax = shown[box[0], j, :]
        lax_extent = (0, lax.shape[0] * spacing[0], 0, lax.shape[1] * spacing[2])
        panels = [
            (sax, ref[box[0], box[1], k], sax_extent, f"SAX slice {k}: manual"),
            (sax, pred[box[0], box[1], k], sax_extent, "SAX: prediction"),
            (lax, ref[box[0], j, :], lax_extent, f"long-axis reformat (row {j}): manual"),
            (lax, pred[box[0], j, :], lax_extent, "long axis: prediction"),
        ]
        for c, (img, lab, extent, name) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(img.T, cmap="gray", origin="lower", extent=extent, vmin=0, vmax=1, interpolation="nearest")
            _contours(ax, lab, extent)
            ax.set_title(name, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(row["label"].replace(" (", "\n("), fontsize=8)
    fig.suptitle(title + "  (red LV blood pool, green LV myocardium, blue RV)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def bland_altman(
    rows: Sequence[Mapping], indices: Mapping[str, str], path: str | Path, group_key: str = "set"
) -> Path | None:
    """Bland-Altman plots (difference prediction - manual against their mean), one panel per index, points coloured
    by ``group_key``, with the bias and the 95 % limits of agreement (bias +- 1.96 SD).

    Args:
        rows: per subject ``pred_<index>``, ``ref_<index>`` and ``group_key``.
        indices: index key -> axis title (with unit).
        path: PNG to write.
        group_key: column that colours the points.

    Returns:
        The PNG path, or None when no index has two finite pairs.
    """
    panels = []
    for key, name in indices.items():
        pairs = [
            (float(r[f"pred_{key}"]), float(r[f"ref_{key}"]), str(r.get(group_key, "")))
            for r in rows
            if np.isfinite(float(r.get(f"pred_{key}", np.nan))) and np.isfinite(float(r.get(f"ref_{key}", np.nan)))
        ]
        if len(pairs) >= 2:
            panels.append((key, name, pairs))
    if not panels:
        return None
    groups = sorted({g for _, _, pairs in panels for _, _, g in pairs})
    colours = dict(zip(groups, rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    cols = min(3, len(panels))
    n_rows = int(math.ceil(len(panels) / cols))
    fig = Figure(figsize=(4.2 * cols, 3.4 * n_rows))
    axes = fig.subplots(n_rows, cols, squeeze=False)
    for ax, (key, name, pairs) in zip(axes.ravel(), panels, strict=False):
        pred, ref, group = (np.asarray(v) for v in zip(*pairs, strict=True))
        scale = 100.0 if key.endswith("EF") else 1.0
        mean, diff = scale * (pred + ref) / 2, scale * (pred - ref)
        for g in groups:
            sel = group == g
            if sel.any():
                ax.scatter(mean[sel], diff[sel], s=14, color=colours[g], label=g)
        bias, sd = float(diff.mean()), float(diff.std(ddof=1))
        ax.axhline(bias, color="k", lw=1)
        for sign in (-1, 1):
            ax.axhline(bias + sign * 1.96 * sd, color="k", lw=0.8, ls="--")
        ax.axhline(0, color="0.6", lw=0.6)
        unit = " (%)" if scale == 100.0 else ""
        ax.set_xlabel(f"mean of prediction and manual{unit}", fontsize=8)
        ax.set_ylabel(f"prediction - manual{unit}", fontsize=8)
        ax.set_title(f"{name}: bias {bias:.1f}, LoA +-{1.96 * sd:.1f} (n={len(diff)})", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
