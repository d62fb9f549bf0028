"""PNG montage of a generated case: HR vs native LR stack vs LR-on-HR, mid short-axis and long-axis reformat,
with label contours, drawn in physical proportions (mm)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import apply_affine, spacing_from_affine
from custom_networks.core.labels import LABEL_COLORS
from custom_networks.core.nifti import load_nifti, save_figure

__all__ = ["preview_case", "preview_dataset"]


def _show(ax, image, label, spacing, title, window):
    """Show a 2D array ``[row_axis, col_axis]`` transposed so rows run down the figure, sized in mm."""
    extent = (0, image.shape[0] * spacing[0], image.shape[1] * spacing[1], 0)
    ax.imshow(image.T, cmap="gray", vmin=window[0], vmax=window[1], extent=extent, interpolation="nearest")
    if label is not None:
        xs = (np.arange(image.shape[0]) + 0.5) * spacing[0]
        ys = (np.arange(image.shape[1]) + 0.5) * spacing[1]
        # Myocardium first so that the blood-pool contour stays visible on their shared boundary.
        for value in (2, 1, 3):
            mask = (label == value).astype(float)
            if mask.any():
                ax.contour(xs, ys, mask.T, levels=[0.5], colors=[LABEL_COLORS[value]], linewidths=0.9)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def preview_case(case_dir: str | Path, ax_row_sax, ax_row_lax, title: str = "") -> None:
    """Draw one case (a ``sub-XXXX/PHASE`` folder) into two rows of three axes."""
    case_dir = Path(case_dir)
    hr, hr_aff = load_nifti(case_dir / "hr_image.nii.gz")
    hl, _ = load_nifti(case_dir / "hr_label.nii.gz")
    lr, lr_aff = load_nifti(case_dir / "lr_image.nii.gz")
    ll, _ = load_nifti(case_dir / "lr_label.nii.gz")
    lh, _ = load_nifti(case_dir / "lr_on_hr.nii.gz")
    window = (0.0, float(np.percentile(hr, 99.5)))
    lv_slices = np.unique(np.argwhere(hl == 1)[:, 2])
    k = int(np.median(lv_slices)) if lv_slices.size else hr.shape[2] // 2
    # Native slice nearest (in world coordinates) to the HR mid slice.
    centre_world = apply_affine(hr_aff, [(hr.shape[0] - 1) / 2, (hr.shape[1] - 1) / 2, k])
    k_lr = int(np.clip(np.rint(apply_affine(np.linalg.inv(lr_aff), centre_world)[2]), 0, lr.shape[2] - 1))
    lv_rows = np.argwhere(hl == 1)
    j = int(np.median(lv_rows[:, 1])) if lv_rows.size else hr.shape[1] // 2
    j_world = apply_affine(hr_aff, [(hr.shape[0] - 1) / 2, j, k])
    j_lr = int(np.clip(np.rint(apply_affine(np.linalg.inv(lr_aff), j_world)[1]), 0, lr.shape[1] - 1))
    hs, ls = spacing_from_affine(hr_aff), spacing_from_affine(lr_aff)
    _show(ax_row_sax[0], hr[:, :, k], hl[:, :, k], hs[:2], f"{title} HR short axis", window)
    _show(ax_row_sax[1], lr[:, :, k_lr], ll[:, :, k_lr], ls[:2], f"LR stack slice {k_lr}", window)
    _show(ax_row_sax[2], lh[:, :, k], hl[:, :, k], hs[:2], "LR on HR grid (HR contours)", window)
    _show(ax_row_lax[0], hr[:, j, :], hl[:, j, :], hs[[0, 2]], "HR long-axis reformat", window)
    _show(ax_row_lax[1], lr[:, j_lr, :], ll[:, j_lr, :], ls[[0, 2]], "LR stack reformat", window)
    _show(ax_row_lax[2], lh[:, j, :], hl[:, j, :], hs[[0, 2]], "LR on HR reformat", window)


def preview_dataset(dataset: str | Path, out: str | Path, case: str | None = None, dpi: int = 110) -> Path:
    """Write a PNG montage (ED and ES of one subject) of a generated dataset.

    Args:
        dataset: dataset folder (holding ``dataset.json``).
        out: PNG path to write.
        case: subject name (e.g. ``sub-0003``); the first training subject when omitted.
        dpi: resolution of the PNG.
    """
    dataset = Path(dataset)
    if not (dataset / "dataset.json").is_file():
        raise InputError(f"{dataset}: no dataset.json (not a generated dataset folder)")
    datalist = json.loads((dataset / "dataset.json").read_text())
    entries = datalist["training"] + datalist["validation"] + datalist["test"]
    subject = case or entries[0]["subject"]
    if not (dataset / subject).is_dir():
        raise InputError(f"{dataset / subject}: subject not found in the dataset")
    fig = Figure(figsize=(10.5, 13.5))
    axes = fig.subplots(4, 3, gridspec_kw={"height_ratios": [1, 0.85, 1, 0.85]})
    for row, phase in enumerate(("ED", "ES")):
        preview_case(dataset / subject / phase, axes[2 * row], axes[2 * row + 1], f"{subject} {phase}")
    fig.suptitle(f"{datalist.get('name', '')}: red LV blood pool, green LV myocardium, blue RV", fontsize=10, y=0.995)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out, dpi=dpi)
    return out
