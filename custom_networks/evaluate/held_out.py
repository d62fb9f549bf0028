"""Held-out-slice check of super-resolution on real short-axis stacks, which have no high-resolution reference.

Every other slice of an acquired stack is dropped (a 20 mm gap for 10 mm slices); a method super-resolves the
reduced stack; its output is sampled at the dropped slices' voxel centres **in world coordinates** and compared with
the real dropped slices. Both are on the kept stack's [0, 1] scale (0.5 / 99.5 percentiles of the kept slices,
clipped). PSNR (peak 1) and SSIM (Gaussian window, sigma 1.5 voxels, 7 x 7 in-plane: 2D per slice) are computed per
dropped slice, on the whole slice and on the heart region (in-plane bounding box of a label map plus a margin), and
averaged over slices.

Only dropped slices with a kept neighbour on both sides are scored (the end slice of an even-length stack lies at the
edge of the reduced stack's field of view, where nothing can be interpolated).

Arrays are indexed ``[i, j, k]`` with a NIfTI affine (voxel -> world mm); the slice axis is the axis with the
largest voxel size, wherever it is in the array.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import apply_affine, resample_to_grid, slice_axis_of, spacing_from_affine
from custom_networks.evaluate.floors import dice_per_class
from custom_networks.evaluate.scores import heart_region, image_scores

__all__ = [
    "HeldOutSplit",
    "drop_slices",
    "inplane_heart_box",
    "interpolate_dropped",
    "label_agreement",
    "map_labels",
    "sample_on_stack",
    "score_held_out",
    "slice_centres",
    "summarise_held_out",
]


def map_labels(label: np.ndarray, mapping: Mapping[int, int]) -> np.ndarray:
    """Label map with values replaced by ``mapping`` (simultaneously; unmapped values kept), as uint8.

    Float values are rounded first.
    """
    label = np.rint(np.asarray(label)).astype(np.int64)
    out = label.copy()
    for src, dst in mapping.items():
        out[label == int(src)] = int(dst)
    return out.astype(np.uint8)


@dataclass
class HeldOutSplit:
    """A stack split into kept and dropped slices.

    Args:
        stack: the acquired stack (all slices).
        affine: its voxel-to-world affine.
        axis: its slice axis.
        kept: the reduced stack (kept slices only, slice axis unchanged).
        kept_affine: affine of the reduced stack: same orientation and world positions, slice spacing x ``step``.
        kept_idx: indices (in ``stack``) of the kept slices.
        dropped_idx: indices of the dropped slices.
        scored_idx: dropped indices with a kept slice on both sides (the ones scored).
        lo: 0.5th percentile of the kept slices (maps to 0).
        hi: 99.5th percentile of the kept slices (maps to 1).
    """

    stack: np.ndarray
    affine: np.ndarray
    axis: int
    kept: np.ndarray
    kept_affine: np.ndarray
    kept_idx: np.ndarray
    dropped_idx: np.ndarray
    scored_idx: np.ndarray
    lo: float
    hi: float

    def scale(self, x: np.ndarray) -> np.ndarray:
        """``x`` on the kept stack's [0, 1] percentile scale (clipped), float32."""
        return np.clip((np.asarray(x, np.float32) - self.lo) / (self.hi - self.lo), 0.0, 1.0).astype(np.float32)

    def slices(self, volume: np.ndarray, indices: Sequence[int]) -> np.ndarray:
        """Slices ``indices`` of a volume on the stack's grid, as ``(n, X, Y)`` (in-plane axes in array order)."""
        return np.moveaxis(np.take(np.asarray(volume), list(indices), axis=self.axis), self.axis, 0)


def drop_slices(stack: np.ndarray, affine: np.ndarray, step: int = 2, start: int = 0) -> HeldOutSplit:
    """Keep every ``step``-th slice from ``start`` and drop the others, keeping the kept slices' world positions.

    The reduced stack's affine is ``affine @ M`` with ``M`` mapping its slice index ``n`` to the original index
    ``start + step * n``: the slice-axis column is multiplied by ``step`` (slice spacing x ``step``) and the origin
    moves to the first kept slice; in-plane columns are unchanged.

    Args:
        stack: 3D stack (any axis order; the slice axis is found from ``affine``).
        affine: its voxel-to-world affine.
        step: keep one slice in ``step`` (2: drop every other slice).
        start: index of the first kept slice (0: keep the even indices).

    Returns:
        The split; its percentile scale is that of the kept slices.

    Raises:
        InputError: not a 3D stack, ``step < 2``, ``start`` out of range, fewer than 2 kept slices, or constant kept
            slices.
    """
    stack = np.asarray(stack)
    affine = np.asarray(affine, dtype=float)
    if stack.ndim != 3:
        raise InputError(f"expected a 3D stack, got shape {stack.shape}")
    if step < 2 or not 0 <= start < step:
        raise InputError(f"need step >= 2 and 0 <= start < step, got step={step}, start={start}")
    axis = slice_axis_of(affine)
    n = stack.shape[axis]
    kept_idx = np.arange(start, n, step)
    if kept_idx.size < 2:
        raise InputError(f"a stack of {n} slices keeps only {kept_idx.size} slice(s) with step {step}")
    dropped_idx = np.setdiff1d(np.arange(n), kept_idx)
    scored_idx = dropped_idx[(dropped_idx > kept_idx[0]) & (dropped_idx < kept_idx[-1])]
    m = np.eye(4)
    m[axis, axis] = float(step)
    m[axis, 3] = float(start)
    kept = np.take(stack, kept_idx, axis=axis)
    lo, hi = (float(v) for v in np.percentile(kept.astype(np.float32), [0.5, 99.5]))
    if not hi > lo:
        raise InputError(f"the kept slices are (nearly) constant: 0.5 and 99.5 percentiles are both {lo:g}")
    return HeldOutSplit(stack, affine, axis, kept, affine @ m, kept_idx, dropped_idx, scored_idx, lo, hi)


def slice_centres(shape: Sequence[int], affine: np.ndarray, indices: Sequence[int], axis: int | None = None):
    """World positions (mm) of the in-plane centres of slices ``indices``: ``(n, 3)``.

    Args:
        shape: array shape of the stack.
        affine: its voxel-to-world affine.
        indices: slice indices.
        axis: slice axis (default: from ``affine``).
    """
    axis = slice_axis_of(affine) if axis is None else axis
    centre = (np.asarray(shape, dtype=float) - 1.0) / 2.0
    ijk = np.repeat(centre[None], len(indices), axis=0)
    ijk[:, axis] = np.asarray(indices, dtype=float)
    return apply_affine(affine, ijk)


def sample_on_stack(
    volume: np.ndarray, volume_affine: np.ndarray, shape: Sequence[int], affine: np.ndarray, order: int = 1
) -> np.ndarray:
    """A volume (e.g. a super-resolved output on its HR grid) sampled at the voxel centres of a stack's grid in
    world coordinates (linear for ``order=1``, nearest for labels with ``order=0``; 0 outside its field of view)."""
    return resample_to_grid(np.asarray(volume), volume_affine, shape, affine, order=order, mode="constant")


def interpolate_dropped(split: HeldOutSplit, method: str = "linear") -> np.ndarray:
    """Classic interpolation of the reduced stack back onto the full stack's grid, in world coordinates.

    The raw intensities are interpolated, then put on the kept stack's [0, 1] scale. ``"linear"`` weights the two
    neighbouring kept slices by distance (at a dropped slice half-way between them: their mean); ``"bspline"`` is
    ITK's cubic B-spline (:func:`custom_networks.baselines.resample_image`); ``"nearest"`` repeats a neighbour.

    Args:
        split: the split stack.
        method: ``"linear"``, ``"bspline"`` or ``"nearest"``.

    Returns:
        The interpolated volume on the full stack's grid (kept slices reproduce themselves), [0, 1] scale.
    """
    kept = split.kept.astype(np.float32)
    shape = split.stack.shape
    if method == "linear":
        out = resample_to_grid(kept, split.kept_affine, shape, split.affine, order=1, mode="nearest")
    elif method == "nearest":
        out = resample_to_grid(kept, split.kept_affine, shape, split.affine, order=0, mode="nearest")
    elif method == "bspline":
        from custom_networks.baselines import resample_image

        out = resample_image(kept, split.kept_affine, shape, split.affine, method="bspline")
    else:
        raise InputError(f"unknown interpolation method {method!r} (choose from linear, bspline, nearest)")
    return split.scale(out)


def inplane_heart_box(
    label: np.ndarray, affine: np.ndarray, margin_mm: float = 10.0
) -> tuple[slice, slice, slice] | None:
    """Heart region of a stack: the in-plane bounding box of the label map's foreground (all slices together)
    grown by ``margin_mm``, spanning every slice along the slice axis. None when the label map is empty."""
    spacing = spacing_from_affine(affine)
    region = heart_region(label, spacing, margin_mm)
    if region is None:
        return None
    region = list(region)
    axis = slice_axis_of(affine)
    region[axis] = slice(0, np.shape(label)[axis])
    return tuple(region)  # type: ignore[return-value]


def _slice_scores(pred: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """PSNR / 2D SSIM of one slice ``(X, Y)`` (window 7 x 7 in-plane, 1 through-plane)."""
    s = image_scores(pred[..., None], ref[..., None])
    return s["psnr"], s["ssim"]


def score_held_out(
    split: HeldOutSplit,
    predictions: Mapping[str, np.ndarray],
    heart_label: np.ndarray | None = None,
    margin_mm: float = 10.0,
    indices: Sequence[int] | None = None,
) -> list[dict]:
    """Per-slice PSNR / SSIM of each method's prediction of the dropped slices.

    Args:
        split: the split stack.
        predictions: method -> predicted volume on the full stack's grid (``split.stack.shape``), on the kept
            stack's [0, 1] scale (values outside are clipped); only the scored dropped slices are read.
        heart_label: label map on the stack's grid defining the heart region (see :func:`inplane_heart_box`);
            None: no heart-region scores.
        margin_mm: margin of the heart region (mm).
        indices: slices to score instead of ``split.scored_idx`` (e.g. the kept slices, to see how well a method
            reproduces its own input).

    Returns:
        One row per method and scored slice: ``method``, ``slice``, ``psnr``, ``ssim`` (whole slice),
        ``psnr_heart``, ``ssim_heart`` (heart region; NaN without a heart label).

    Raises:
        InputError: a prediction whose shape differs from the stack's.
    """
    box = None
    if heart_label is not None:
        region = inplane_heart_box(heart_label, split.affine, margin_mm)
        if region is not None:
            box = tuple(r for a, r in enumerate(region) if a != split.axis)
    indices = split.scored_idx if indices is None else np.asarray(indices, dtype=int)
    ref = split.slices(split.scale(split.stack), indices)
    rows = []
    for method, volume in predictions.items():
        if np.shape(volume) != split.stack.shape:
            raise InputError(f"prediction of {method!r} has shape {np.shape(volume)}, the stack {split.stack.shape}")
        pred = split.slices(np.clip(np.asarray(volume, np.float32), 0.0, 1.0), indices)
        for index, p, r in zip(indices, pred, ref, strict=True):
            psnr, ssim = _slice_scores(p, r)
            psnr_h, ssim_h = _slice_scores(p[box], r[box]) if box is not None else (math.nan, math.nan)
            row = {"method": method, "slice": int(index), "psnr": psnr, "ssim": ssim}
            rows.append({**row, "psnr_heart": psnr_h, "ssim_heart": ssim_h})
    return rows


def summarise_held_out(rows: Sequence[dict], keys: Sequence[str] = ("psnr_heart", "ssim_heart", "psnr", "ssim")):
    """Mean of each score over the rows of each method (PSNR averaged in dB; ``inf`` if any slice is perfect).

    Returns:
        ``{method: {"n": slices, key: mean, ...}}``.
    """
    out: dict[str, dict[str, float]] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        out[method] = {"n": float(len(mine)), **{k: float(np.mean([r[k] for r in mine])) for k in keys}}
    return out


def label_agreement(
    pred_label: np.ndarray, pred_affine: np.ndarray, ref_label: np.ndarray, ref_affine: np.ndarray
) -> dict[str, float]:
    """3D Dice per class of a predicted label map resampled (nearest neighbour, world coordinates; background
    outside its field of view) onto another label map's grid (e.g. the acquired slices)."""
    on_ref = sample_on_stack(pred_label, pred_affine, np.shape(ref_label), ref_affine, order=0)
    return dice_per_class(on_ref, ref_label)
