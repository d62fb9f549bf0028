"""Scoring every method's predictions against the reference cases, in world coordinates.

For each method and reference case the prediction is read, checked (label values, grid), resampled onto the
reference grid when the two grids differ (nearest neighbour for labels, linear for grey volumes; the report says
so), and scored with :mod:`custom_networks.evaluate.scores`: 3D Dice / HD95 / MSD per class, PSNR / SSIM on the
whole volume and on the heart region, the original per-slice protocol ("gemini-compat"), and, per subject,
clinical indices with their errors. What cannot be scored is skipped with the reason.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from custom_networks.core.cases import phase_of
from custom_networks.core.errors import InputError
from custom_networks.core.geometry import resample_to_grid, slice_axis_of, spacing_from_affine
from custom_networks.core.label_maps import load_label
from custom_networks.core.nifti import load_nifti
from custom_networks.evaluate.cases import ReferenceCase, find_methods, find_predictions, find_references
from custom_networks.evaluate.scores import (
    clinical_scores,
    compat_scores,
    heart_region,
    image_scores,
    robust_scale,
    segmentation_scores,
)

__all__ = ["CaseResult", "Evaluation", "on_grid", "score_methods"]

logger = logging.getLogger(__name__)


@dataclass
class CaseResult:
    """Scores of one method on one case, and where its volumes are (for the figures).

    Args:
        method: method name.
        case: case name.
        scores: metric name -> value (NaN when undefined).
        notes: what was special about the case (resampling, undefined metrics).
        reference: the reference case.
        seg: prediction label map file, if any.
        sr: prediction grey volume file, if any.
    """

    method: str
    case: str
    scores: dict[str, float]
    notes: list[str]
    reference: ReferenceCase
    seg: Path | None = None
    sr: Path | None = None


@dataclass
class Evaluation:
    """Everything the report needs.

    Args:
        results: scored cases.
        clinical: one row per method and subject (clinical indices, their errors).
        skipped: ``(method, case, reason)`` of what could not be scored.
        timing: method -> speed figures read from its folder's ``timing.json`` (if any).
        methods: method -> prediction folder.
    """

    results: list[CaseResult] = field(default_factory=list)
    clinical: list[dict] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    timing: dict[str, dict] = field(default_factory=dict)
    methods: dict[str, Path] = field(default_factory=dict)


def _same_grid(shape_a, affine_a, shape_b, affine_b) -> bool:
    return tuple(shape_a) == tuple(shape_b) and np.allclose(affine_a, affine_b, atol=1e-4)


def on_grid(
    array: np.ndarray, affine: np.ndarray, shape: tuple[int, ...], target_affine: np.ndarray, label: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``array`` resampled onto the grid ``(shape, target_affine)`` in world coordinates, and the mask of the
    target voxels inside ``array``'s field of view (nearest neighbour for labels, linear otherwise; 0 outside)."""
    if _same_grid(array.shape, affine, shape, target_affine):
        return array, np.ones(shape, bool)
    inside = resample_to_grid(np.ones(array.shape, np.uint8), affine, shape, target_affine, order=0, mode="constant")
    out = resample_to_grid(array, affine, shape, target_affine, order=0 if label else 1, mode="constant")
    return out, inside > 0


def _slices_last(array: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(array, axis, -1)


def _score_case(
    method: str, ref: ReferenceCase, seg_path: Path | None, sr_path: Path | None, label_map, margin_mm: float
) -> tuple[CaseResult, dict]:
    notes: list[str] = []
    scores: dict[str, float] = {}
    volumes: dict = {}
    ref_label = ref_img = None
    if ref.label is not None:
        ref_label, ref_affine = load_label(ref.label, label_map)
    if ref.image is not None:
        ref_img, img_affine = load_nifti(ref.image)
        if ref_label is None:
            ref_affine = img_affine
        elif not _same_grid(ref_img.shape, img_affine, ref_label.shape, ref_affine):
            ref_img, _ = on_grid(ref_img, img_affine, ref_label.shape, ref_affine, label=False)
            notes.append("reference image resampled onto the reference label grid")
    shape = (ref_label if ref_label is not None else ref_img).shape
    spacing = spacing_from_affine(ref_affine)
    axis = slice_axis_of(ref_affine)
    region = heart_region(ref_label, spacing, margin_mm) if ref_label is not None else None
    pred_label = pred_img = None
    if seg_path is not None and ref_label is not None:
        label, affine = load_label(seg_path, label_map)
        pred_label, inside = on_grid(label, affine, shape, ref_affine, label=True)
        if not inside.any():
            raise InputError(f"{seg_path}: its grid does not overlap the reference {ref.label} in world space")
        if not inside.all():
            outside = float(((ref_label > 0) & ~inside).sum()) / max(int((ref_label > 0).sum()), 1)
            scores["ref_heart_outside_fov"] = outside
            notes.append(f"seg resampled onto the reference grid; {outside:.1%} of the reference heart is outside it")
        elif not _same_grid(label.shape, affine, shape, ref_affine):
            notes.append("seg resampled onto the reference grid (world coordinates)")
        seg_scores, seg_notes = segmentation_scores(pred_label, ref_label, spacing)
        scores.update(seg_scores)
        notes += seg_notes
        scores.update(compat_scores(pred_label=_slices_last(pred_label, axis), ref_label=_slices_last(ref_label, axis)))
    if sr_path is not None and ref_img is not None:
        sr, affine = load_nifti(sr_path)
        pred_img, inside = on_grid(sr, affine, shape, ref_affine, label=False)
        if not inside.any():
            raise InputError(f"{sr_path}: its grid does not overlap the reference {ref.image} in world space")
        if not _same_grid(sr.shape, affine, shape, ref_affine):
            notes.append(
                "sr resampled onto the reference grid (world coordinates); voxels outside its field of view "
                "are 0 in both volumes for the image metrics"
            )
        pred_img = np.clip(pred_img, 0.0, 1.0) * inside
        ref_scaled = robust_scale(ref_img) * inside
        scores.update(image_scores(pred_img, ref_scaled, region=region))
        scores.update(compat_scores(pred_image=_slices_last(pred_img, axis), ref_image=_slices_last(ref_scaled, axis)))
    volumes.update(pred_label=pred_label, ref_label=ref_label, spacing=spacing)
    return CaseResult(method, ref.name, scores, notes, ref, seg_path, sr_path), volumes


def score_methods(
    pred: str | os.PathLike | Mapping[str, str | os.PathLike],
    ref: str | os.PathLike,
    split: str = "test",
    label_map: Mapping[int, int] | None = None,
    margin_mm: float = 10.0,
) -> Evaluation:
    """Score every method on every reference case.

    Args:
        pred: prediction folder(s), see :func:`custom_networks.evaluate.cases.find_methods`.
        ref: reference folder, see :func:`custom_networks.evaluate.cases.find_references`.
        split: dataset split when ``ref`` is a generated dataset (``"all"`` for every split).
        label_map: label values to map before scoring, e.g. ``{4: 3}`` for files using 4 for RV.
        margin_mm: margin around the reference heart of the "heart region" image metrics.

    Raises:
        InputError: no method, no reference, or no prediction of any method matches a reference case by name.
    """
    methods = find_methods(pred)
    references = find_references(ref, split)
    evaluation = Evaluation(methods=methods)
    matched_any = False
    for method, folder in methods.items():
        predictions = find_predictions(folder)
        timing = Path(folder) / "timing.json"
        if timing.is_file():
            evaluation.timing[method] = json.loads(timing.read_text())
        for name in sorted(set(predictions) - set(references)):
            evaluation.skipped.append((method, name, "no reference case of this name"))
        phases: dict[str, dict[str, dict]] = {}
        for name in tqdm(sorted(references), desc=f"scoring {method}", leave=False):
            case = predictions.get(name)
            if case is None:
                evaluation.skipped.append((method, name, "no prediction for this case"))
                continue
            matched_any = True
            try:
                result, volumes = _score_case(method, references[name], case.seg, case.sr, label_map, margin_mm)
            except InputError as err:
                logger.warning("%s / %s skipped: %s", method, name, err)
                evaluation.skipped.append((method, name, str(err)))
                continue
            evaluation.results.append(result)
            subject, phase = phase_of(name)
            if volumes["pred_label"] is not None and phase is not None:
                phases.setdefault(subject, {})[phase] = volumes
        evaluation.clinical += _clinical_rows(method, phases)
        logger.info("%s: %d cases scored", method, sum(r.method == method for r in evaluation.results))
    if not matched_any:
        example_ref = next(iter(references))
        example_pred = next((n for f in methods.values() for n in find_predictions(f)), "?")
        raise InputError(
            f"no prediction matches a reference case by name (reference cases look like {example_ref!r}, "
            f"predictions like {example_pred!r})"
        )
    return evaluation


def _clinical_rows(method: str, phases: dict[str, dict[str, dict]]) -> list[dict]:
    rows = []
    for subject, by_phase in sorted(phases.items()):
        ed, es = by_phase.get("ED"), by_phase.get("ES")
        if ed is None:
            continue
        if es is not None and not np.allclose(es["spacing"], ed["spacing"], atol=1e-4):
            es = None
        values = clinical_scores(
            ed["pred_label"],
            ed["ref_label"],
            ed["spacing"],
            None if es is None else es["pred_label"],
            None if es is None else es["ref_label"],
        )
        rows.append({"method": method, "subject": subject, **values})
    return rows
