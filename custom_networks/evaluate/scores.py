"""Per-case scores of the evaluation suite: segmentation overlap and surface distances, image fidelity,
clinical indices and the original paper's per-slice ("gemini-compat") protocol.

All arrays are 3D numpy ``(X, Y, Z)`` on one shared grid of voxel size ``spacing`` (mm); Z (the last axis) is the
short-axis slice axis. Labels: 0 background, 1 LV blood pool (``lv``), 2 LV myocardium (``myo``), 3 RV (``rv``).

Undefined values are NaN (never silently 0 or 1); :func:`segmentation_scores` also returns a note saying why.
Each function returns a flat ``dict[str, float]`` so that the rows of many cases form a table directly.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from monai.metrics import (
    PSNRMetric,
    SSIMMetric,
    compute_average_surface_distance,
    compute_dice,
    compute_hausdorff_distance,
)

from custom_networks.core.labels import CLASS_NAMES
from custom_networks.metrics import clinical_indices, slicewise_dice, slicewise_psnr_ssim

__all__ = [
    "clinical_scores",
    "compat_scores",
    "heart_region",
    "image_scores",
    "robust_scale",
    "segmentation_scores",
]


#: Standard deviation (voxels) of the Gaussian SSIM window, as in ``monai.metrics.SSIMMetric`` and the compat protocol.
_SSIM_SIGMA = 1.5


def _class_name(c: int) -> str:
    return CLASS_NAMES.get(c, f"class{c}")


def _check_same_shape(pred: np.ndarray, ref: np.ndarray) -> None:
    if np.shape(pred) != np.shape(ref):
        raise ValueError(f"prediction {np.shape(pred)} and reference {np.shape(ref)} differ in shape")


def _check_spacing(spacing: Sequence[float], ndim: int) -> tuple[float, ...]:
    sp = tuple(float(s) for s in spacing)
    if len(sp) != ndim or any(s <= 0 for s in sp):
        raise ValueError(f"spacing must hold {ndim} positive values, got {tuple(spacing)}")
    return sp


def _as_batch(x: np.ndarray) -> torch.Tensor:
    """``(X, Y, Z)`` array -> ``(1, 1, X, Y, Z)`` float32 tensor (MONAI's batch-first, channel-first layout)."""
    return torch.as_tensor(np.asarray(x, dtype=np.float32))[None, None]


def robust_scale(x: np.ndarray, lower: float = 0.5, upper: float = 99.5) -> np.ndarray:
    """Scale intensities to [0, 1] between two percentiles and clip (the networks' input scaling).

    Args:
        x: image of any shape.
        lower: percentile mapped to 0.
        upper: percentile mapped to 1.

    Returns:
        float32 array of the shape of ``x`` in [0, 1]; all zeros when the two percentiles coincide (constant image).
    """
    x = np.asarray(x, dtype=np.float32)
    lo, hi = np.percentile(x, [lower, upper])
    if hi <= lo:
        return np.zeros_like(x)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def segmentation_scores(
    pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float], classes: Sequence[int] = (1, 2, 3)
) -> tuple[dict[str, float], list[str]]:
    """3D Dice, 95th-percentile Hausdorff distance and mean symmetric surface distance per class.

    Distances are in mm and honour anisotropic ``spacing``. They are MONAI's: surfaces are the boundary voxels of
    each mask (mask XOR its binary erosion); HD95 is the larger of the two directed 95th percentiles; MSD is the
    mean over the pooled distances of both directions (``compute_average_surface_distance(symmetric=True)``).

    Undefined values are NaN with a note: reference class empty -> Dice, HD95 and MSD NaN; prediction empty but
    reference not -> Dice 0.0, HD95 and MSD NaN.

    Args:
        pred: predicted label map ``(X, Y, Z)``.
        ref: reference label map of the same shape.
        spacing: voxel size (mm) per axis.
        classes: foreground classes to score.

    Returns:
        ``(scores, notes)``: ``scores`` holds ``dice_<name>``, ``hd95_<name>`` and ``msd_<name>`` for every class
        (names from :data:`CLASS_NAMES`, ``class<c>`` for others); ``notes`` the reasons for NaN values.
    """
    _check_same_shape(pred, ref)
    sp = _check_spacing(spacing, np.ndim(ref))
    pred, ref = np.asarray(pred), np.asarray(ref)
    scores: dict[str, float] = {}
    notes: list[str] = []
    for c in classes:
        name = _class_name(c)
        p, r = pred == c, ref == c
        if not r.any():
            scores.update({f"dice_{name}": math.nan, f"hd95_{name}": math.nan, f"msd_{name}": math.nan})
            notes.append(f"{name}: reference mask empty (Dice/HD95/MSD undefined)")
            continue
        if not p.any():
            scores.update({f"dice_{name}": 0.0, f"hd95_{name}": math.nan, f"msd_{name}": math.nan})
            notes.append(f"{name}: prediction empty (HD95/MSD undefined)")
            continue
        pt, rt = _as_batch(p), _as_batch(r)
        with warnings.catch_warnings():
            # MONAI 1.6 calls its own deprecated ``get_mask_edges(always_return_as_numpy=...)`` on every call.
            warnings.filterwarnings("ignore", message=".*always_return_as_numpy.*")
            dice = compute_dice(pt, rt, include_background=True)
            hd95 = compute_hausdorff_distance(pt, rt, include_background=True, percentile=95, spacing=sp)
            msd = compute_average_surface_distance(pt, rt, include_background=True, symmetric=True, spacing=sp)
        scores[f"dice_{name}"] = float(dice.item())
        scores[f"hd95_{name}"] = float(hd95.item())
        scores[f"msd_{name}"] = float(msd.item())
    return scores, notes


def heart_region(
    ref_label: np.ndarray, spacing: Sequence[float], margin_mm: float = 10.0
) -> tuple[slice, slice, slice] | None:
    """Bounding box of the reference foreground grown by ``margin_mm`` on every side.

    The margin becomes ``ceil(margin_mm / spacing[axis])`` voxels per axis (so at least ``margin_mm``), and the box
    is clipped to the array.

    Args:
        ref_label: reference label map ``(X, Y, Z)``; foreground is every label > 0.
        spacing: voxel size (mm) per axis.
        margin_mm: margin (mm) added on each side.

    Returns:
        One slice per axis, or None when the label map holds no foreground.
    """
    ref_label = np.asarray(ref_label)
    sp = _check_spacing(spacing, ref_label.ndim)
    if margin_mm < 0:
        raise ValueError(f"margin_mm must be >= 0, got {margin_mm}")
    fg = np.argwhere(ref_label > 0)
    if fg.size == 0:
        return None
    lo, hi = fg.min(0), fg.max(0) + 1
    out = []
    for axis, s in enumerate(sp):
        m = math.ceil(margin_mm / s - 1e-9)  # tolerance: 10 / 2.5 must give 4, not 5
        out.append(slice(max(int(lo[axis]) - m, 0), min(int(hi[axis]) + m, ref_label.shape[axis])))
    return tuple(out)  # type: ignore[return-value]


def _ssim_kernel(shape: Sequence[int], kernel_size: int) -> tuple[int, ...]:
    """Per-axis odd window: ``kernel_size``, or the largest odd size that fits an axis shorter than it."""
    return tuple(min(kernel_size, n if n % 2 else n - 1) for n in shape)


def _psnr_ssim(pred: np.ndarray, ref: np.ndarray, kernel_size: int) -> tuple[float, float]:
    pt, rt = _as_batch(pred), _as_batch(ref)
    psnr = PSNRMetric(max_val=1.0, reduction="mean")(pt, rt)
    ssim = SSIMMetric(
        spatial_dims=3, data_range=1.0, win_size=_ssim_kernel(ref.shape, kernel_size), kernel_sigma=_SSIM_SIGMA
    )(pt, rt)
    return float(psnr.item()), float(ssim.item())


def image_scores(
    pred: np.ndarray, ref: np.ndarray, region: tuple[slice, ...] | None = None, kernel_size: int = 7
) -> dict[str, float]:
    """PSNR (dB, peak 1) and 3D SSIM (``data_range=1``) of a volume and of a region of it (the heart).

    SSIM uses MONAI's Gaussian window (sigma 1.5 voxels) of ``kernel_size`` voxels per axis, without padding; along
    an axis shorter than ``kernel_size`` (a thin heart region) the window shrinks to the largest odd size that fits
    that axis (down to 1, i.e. 2D SSIM per plane), so a region score is always defined. PSNR is ``inf`` when the
    images are identical.

    Args:
        pred: predicted image ``(X, Y, Z)`` on a [0, 1] scale (values outside it are clipped).
        ref: reference image of the same shape, already on a [0, 1] scale (e.g. :func:`robust_scale`).
        region: one slice per axis (e.g. from :func:`heart_region`); None gives NaN region scores.
        kernel_size: odd SSIM window size.

    Returns:
        ``psnr``, ``ssim`` on the whole volume and ``psnr_heart``, ``ssim_heart`` on ``region``.
    """
    _check_same_shape(pred, ref)
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
    pred = np.clip(np.asarray(pred, dtype=np.float32), 0.0, 1.0)
    ref = np.asarray(ref, dtype=np.float32)
    psnr, ssim = _psnr_ssim(pred, ref, kernel_size)
    out = {"psnr": psnr, "ssim": ssim, "psnr_heart": math.nan, "ssim_heart": math.nan}
    if region is not None:
        sub_ref = ref[region]
        if sub_ref.size == 0:
            raise ValueError(f"region {region} is empty for an image of shape {ref.shape}")
        out["psnr_heart"], out["ssim_heart"] = _psnr_ssim(pred[region], sub_ref, kernel_size)
    return out


def clinical_scores(
    pred_ed: np.ndarray,
    ref_ed: np.ndarray,
    spacing: Sequence[float],
    pred_es: np.ndarray | None = None,
    ref_es: np.ndarray | None = None,
) -> dict[str, float]:
    """Clinical indices of prediction and reference, and their errors.

    ES indices (LVESV, RVESV, EF, ES mass) are included only when both ``pred_es`` and ``ref_es`` are given.

    Args:
        pred_ed: predicted end-diastolic label map.
        ref_ed: reference end-diastolic label map.
        spacing: voxel size (mm).
        pred_es: predicted end-systolic label map, optional.
        ref_es: reference end-systolic label map, optional.

    Returns:
        For every index of :func:`custom_networks.metrics.clinical_indices`: ``pred_<index>``, ``ref_<index>`` and
        ``err_<index>`` (pred - ref), e.g. ``err_LVEDV_ml``.
    """
    if (pred_es is None) != (ref_es is None):
        raise ValueError("give both pred_es and ref_es, or neither")
    pred_idx = clinical_indices(pred_ed, spacing, pred_es)
    ref_idx = clinical_indices(ref_ed, spacing, ref_es)
    out: dict[str, float] = {}
    for key, ref_value in ref_idx.items():
        out[f"pred_{key}"] = float(pred_idx[key])
        out[f"ref_{key}"] = float(ref_value)
        out[f"err_{key}"] = float(pred_idx[key] - ref_value)
    return out


def compat_scores(
    pred_label: np.ndarray | None = None,
    ref_label: np.ndarray | None = None,
    pred_image: np.ndarray | None = None,
    ref_image: np.ndarray | None = None,
) -> dict[str, float]:
    """The original paper's per-slice ("gemini-compat") Dice, PSNR and SSIM (see
    :mod:`custom_networks.metrics.gemini_compat`), for whichever pairs are given.

    Args:
        pred_label: predicted label map; with ``ref_label`` gives ``compat_dice_lv``, ``compat_dice_myo``,
            ``compat_dice_rv``.
        ref_label: reference label map.
        pred_image: predicted image (any scale: slices are min-max normalised); with ``ref_image`` gives
            ``compat_psnr`` and ``compat_ssim``.
        ref_image: reference image.
    """
    if (pred_label is None) != (ref_label is None):
        raise ValueError("give both pred_label and ref_label, or neither")
    if (pred_image is None) != (ref_image is None):
        raise ValueError("give both pred_image and ref_image, or neither")
    out: dict[str, float] = {}
    if pred_label is not None and ref_label is not None:
        classes = tuple(CLASS_NAMES)
        dice = slicewise_dice(np.asarray(pred_label), np.asarray(ref_label), classes)
        out.update({f"compat_dice_{CLASS_NAMES[c]}": float(d) for c, d in zip(classes, dice, strict=True)})
    if pred_image is not None and ref_image is not None:
        psnr, ssim = slicewise_psnr_ssim(np.asarray(pred_image), np.asarray(ref_image))
        out.update(compat_psnr=float(psnr), compat_ssim=float(ssim))
    return out
