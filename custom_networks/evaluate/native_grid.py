"""Scoring a high-resolution segmentation where manual labels of real scans live: on the acquired stack's own grid.

Real short-axis stacks are labelled slice by slice on their native grid (thick slices); their labels have no
high-resolution version. A prediction made on any other grid (e.g. Gemini-GAN's 1.25 x 1.25 x 2 mm grid) is brought
onto the stack's grid **in world coordinates** in one of two ways
(:func:`~custom_networks.core.geometry.labels_on_native_grid`):

- ``"centre"``: the prediction's label at each native voxel centre (nearest neighbour);
- ``"slab"``: the prediction integrated over the slice profile: a box profile one slice spacing thick along the
  slice normal, sampled at ``SLAB_SAMPLES`` points (nearest neighbour each), the most frequent label winning (ties go
  to the lower label value). This is what an acquired thick slice sees of a thin-slice truth.

Only labelled structures on labelled slices count (:class:`Annotation`): e.g. the Sunnybrook experts contoured the
LV on some slices only and never the RV; an unlabelled structure or slice is *undefined*, never scored as 0.

Scores per class: Dice over the class's labelled slices, and the in-plane 95th-percentile Hausdorff distance (mm):
2D boundary-to-boundary distances on every labelled slice where both masks are present, pooled over slices, the
larger of the two directed 95th percentiles (MONAI's HD95 definition, per slice in 2D). Clinical indices (LV / RV
volumes, ejection fractions, LV mass at 1.05 g/mL) are computed the same way from prediction and reference on the
labelled slices of each class.

Arrays are indexed ``[i, j, k]`` with a NIfTI affine; the slice axis is the one with the largest voxel size.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from custom_networks.core.geometry import slice_axis_of, spacing_from_affine
from custom_networks.core.label_maps import Annotation
from custom_networks.core.labels import CLASS_NAMES
from custom_networks.core.overlap import dice
from custom_networks.metrics.clinical import MYOCARDIAL_DENSITY_G_PER_ML, ejection_fraction

__all__ = [
    "INDICES",
    "heart_found",
    "native_clinical_scores",
    "native_segmentation_scores",
]

#: Clinical indices of :func:`native_clinical_scores`.
INDICES = ("LVEDV_ml", "LVESV_ml", "LVEF", "LVM_g", "RVEDV_ml", "RVESV_ml", "RVEF")


def heart_found(label: np.ndarray) -> bool:
    """Whether a label map holds any foreground (a prediction without it found no heart)."""
    return bool(np.any(np.asarray(label) > 0))


def _on_slices(mask: np.ndarray, axis: int, keep: np.ndarray) -> np.ndarray:
    """``mask`` restricted to the slices where ``keep`` is true (others cleared)."""
    shape = [1] * mask.ndim
    shape[axis] = -1
    return mask & keep.reshape(shape)


def _inplane_hd95(pred: np.ndarray, ref: np.ndarray, axis: int, spacing: Sequence[float], slices) -> float:
    """In-plane HD95 (mm): 2D surface distances on each given slice where both masks are present, pooled."""
    from monai.metrics.utils import get_mask_edges, get_surface_distance

    inplane = [float(s) for a, s in enumerate(spacing) if a != axis]
    forward, backward = [], []
    for k in slices:
        p, r = np.take(pred, k, axis=axis), np.take(ref, k, axis=axis)
        if not p.any() or not r.any():
            continue
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*always_return_as_numpy.*")
            edges_p, edges_r = get_mask_edges(p, r, crop=True, always_return_as_numpy=True)
            forward.append(np.asarray(get_surface_distance(edges_p, edges_r, spacing=inplane)))
            backward.append(np.asarray(get_surface_distance(edges_r, edges_p, spacing=inplane)))
    if not forward:
        return math.nan
    return float(max(np.percentile(np.concatenate(forward), 95), np.percentile(np.concatenate(backward), 95)))


def native_segmentation_scores(
    pred: np.ndarray, ref: np.ndarray, affine: np.ndarray, annotation: Annotation, classes: Sequence[int] = (1, 2, 3)
) -> tuple[dict[str, float], list[str]]:
    """Dice and in-plane HD95 per class on the labelled slices of each labelled class.

    Undefined values are NaN with a note: class not labelled; reference empty on its labelled slices; prediction
    empty there (Dice 0, HD95 NaN).

    Args:
        pred: predicted label map on the stack's grid.
        ref: manual label map on the same grid.
        affine: the grid's voxel-to-world affine.
        annotation: what ``ref`` labels.
        classes: classes to score.

    Returns:
        ``(scores, notes)`` with ``dice_<name>`` and ``hd95_<name>`` per class (``lv``, ``myo``, ``rv``) and
        ``slices_<name>`` (number of labelled slices scored).
    """
    pred, ref = np.asarray(pred), np.asarray(ref)
    if pred.shape != ref.shape:
        raise ValueError(f"prediction {pred.shape} and reference {ref.shape} differ in shape")
    axis = slice_axis_of(affine)
    if ref.shape[axis] != annotation.num_slices:
        raise ValueError(f"annotation of {annotation.num_slices} slices for a stack of {ref.shape[axis]}")
    spacing = spacing_from_affine(affine)
    scores: dict[str, float] = {}
    notes: list[str] = []
    for c in classes:
        name = CLASS_NAMES.get(c, f"class{c}")
        keep = annotation.slice_mask(c)
        scores[f"slices_{name}"] = float(keep.sum())
        if not keep.any():
            scores.update({f"dice_{name}": math.nan, f"hd95_{name}": math.nan})
            notes.append(f"{name}: not labelled (undefined)")
            continue
        p, r = _on_slices(pred == c, axis, keep), _on_slices(ref == c, axis, keep)
        if not r.any():
            scores.update({f"dice_{name}": math.nan, f"hd95_{name}": math.nan})
            notes.append(f"{name}: manual label empty on its labelled slices (undefined)")
            continue
        scores[f"dice_{name}"] = dice(p, r)
        if not p.any():
            scores[f"hd95_{name}"] = math.nan
            notes.append(f"{name}: prediction empty on the labelled slices (HD95 undefined)")
            continue
        scores[f"hd95_{name}"] = _inplane_hd95(p, r, axis, spacing, np.flatnonzero(keep))
    return scores, notes


def _volumes(label: np.ndarray, affine: np.ndarray, annotation: Annotation) -> dict[int, float]:
    """Volume (mL) of each labelled class on its labelled slices (NaN for unlabelled classes)."""
    axis = slice_axis_of(affine)
    voxel_ml = float(np.prod(spacing_from_affine(affine))) / 1000.0
    out = {}
    for c in (1, 2, 3):
        keep = annotation.slice_mask(c)
        out[c] = float(_on_slices(np.asarray(label) == c, axis, keep).sum()) * voxel_ml if keep.any() else math.nan
    return out


def _indices(ed: dict[int, float], es: dict[int, float] | None) -> dict[str, float]:
    out = {"LVEDV_ml": ed[1], "LVM_g": ed[2] * MYOCARDIAL_DENSITY_G_PER_ML, "RVEDV_ml": ed[3]}
    nan = math.nan
    out.update(LVESV_ml=nan, RVESV_ml=nan, LVEF=nan, RVEF=nan)
    if es is not None:
        out.update(LVESV_ml=es[1], RVESV_ml=es[3])
        out["LVEF"] = ejection_fraction(ed[1], es[1]) if math.isfinite(ed[1] + es[1]) else nan
        out["RVEF"] = ejection_fraction(ed[3], es[3]) if math.isfinite(ed[3] + es[3]) else nan
    return out


def native_clinical_scores(
    pred_ed: np.ndarray,
    ref_ed: np.ndarray,
    affine_ed: np.ndarray,
    annotation_ed: Annotation,
    pred_es: np.ndarray | None = None,
    ref_es: np.ndarray | None = None,
    affine_es: np.ndarray | None = None,
    annotation_es: Annotation | None = None,
) -> dict[str, float]:
    """Clinical indices of prediction and reference on the native grid, and their errors.

    Volumes count the voxels of each class on that class's labelled slices (the same slices for prediction and
    reference), times the voxel volume. An index whose class is not labelled (e.g. RV in Sunnybrook, or ES indices
    without an ES case) is NaN.

    Returns:
        For each index of :data:`INDICES`: ``pred_<index>``, ``ref_<index>`` and ``err_<index>`` (pred - ref).
        EF values are fractions (0-1).
    """
    have_es = pred_es is not None and ref_es is not None
    pred_idx = _indices(
        _volumes(pred_ed, affine_ed, annotation_ed),
        _volumes(pred_es, affine_es, annotation_es) if have_es else None,
    )
    ref_idx = _indices(
        _volumes(ref_ed, affine_ed, annotation_ed),
        _volumes(ref_es, affine_es, annotation_es) if have_es else None,
    )
    out: dict[str, float] = {}
    for key in INDICES:
        out[f"pred_{key}"] = pred_idx[key]
        out[f"ref_{key}"] = ref_idx[key]
        out[f"err_{key}"] = pred_idx[key] - ref_idx[key]
    return out
