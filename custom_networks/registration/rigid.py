"""Rigid registration of a source (moving) subject to a target (fixed) subject: landmarks, then ITK v4 refinement.

Conventions (every public function here):

* Points are world millimetres in **RAS** (NIfTI/nibabel), through each image's affine. ITK works in **LPS**;
  the conversion ``x_lps = diag(-1, -1, 1) x_ras`` happens in :mod:`custom_networks.core.itk_bridge` and in
  :func:`_ras_to_lps`, so callers never see LPS.
* :attr:`RigidResult.matrix` maps a **fixed (target) world point to the moving (source) world point** that
  corresponds to it: ``x_moving = matrix @ [x_fixed, 1]``. This is the direction ITK's registration finds and
  the one needed to resample the moving image onto the fixed grid (pull-back): the fixed voxel ``v`` takes the
  moving value at ``inv(moving_affine) @ matrix @ fixed_affine @ v``.

Method: with both label maps, the six landmarks of :func:`~custom_networks.registration.landmarks.label_landmarks`
(centroids of myocardium and RV at the lowest, middle and highest heart slice, as in the original IRTK/MIRTK
alignment block) give a least-squares rigid fit (Kabsch); otherwise the moving and fixed centres of mass (or field
of view centres) are matched. The refinement (``refine=True``) is ITK's ``ImageRegistrationMethodv4`` with a
``VersorRigid3DTransform``, Mattes mutual information, a multi-resolution pyramid and a regular-step gradient
descent whose parameter scales come from physical shifts. With a fixed label map the metric only looks at the heart
region (label bounding box plus ``heart_margin_mm``), so the thorax of two different subjects does not pull the
hearts apart.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from custom_networks.core.errors import InputError, disk_full_in
from custom_networks.core.geometry import apply_affine, resample_to_grid, spacing_from_affine
from custom_networks.core.itk_bridge import RAS_TO_LPS, image_from_array
from custom_networks.core.nifti import load_nifti, put_in_place, save_nifti
from custom_networks.core.overlap import dice
from custom_networks.data.labelmaps import load_label_map
from custom_networks.registration.landmarks import LandmarkSet, label_landmarks

__all__ = [
    "RegistrationError",
    "RigidResult",
    "align_pair",
    "euler_angles_deg",
    "fit_rigid_points",
    "register_rigid",
    "resample_moving",
]

logger = logging.getLogger(__name__)


METHODS = ("landmarks", "landmarks+intensity", "intensity")


class RegistrationError(RuntimeError):
    """A registration did not converge (strict mode). ``result`` holds what was found, for inspection.

    Args:
        message: why the registration is rejected.
        result: the (non-converged) result.
    """

    def __init__(self, message: str, result: RigidResult | None = None):
        super().__init__(message)
        self.result = result


@dataclass
class RigidResult:
    """Outcome of :func:`register_rigid`.

    Attributes:
        matrix: 4x4 world (RAS, mm) transform mapping **fixed (target) points to moving (source) points**:
            ``x_moving = matrix @ [x_fixed, 1]``.
        center_mm: fixed-space world point (RAS) the rotation is expressed about (landmark centroid, centre of mass
            or field-of-view centre of the fixed image).
        rotation_deg: angles ``(ax, ay, az)`` in degrees with ``matrix[:3, :3] = Rz(az) @ Ry(ay) @ Rx(ax)``
            (the convention of :func:`custom_networks.core.geometry.rotation_matrix`).
        translation_mm: displacement (RAS, mm) of ``center_mm``: ``x_moving = R (x_fixed - c) + c + t``.
        metric: final Mattes mutual information (lower is better; full resolution, over the metric region);
            ``None`` without intensity refinement.
        metric_initial: the same metric at the initial (landmark / centre) transform; ``None`` without refinement.
        iterations: optimiser iterations summed over the pyramid levels (0 without refinement).
        converged: ``False`` when the last level stopped at its iteration limit, the optimiser failed, the metric
            ended worse than at initialisation, the final mutual information is negligible, or the landmark fit
            left a residual above the allowed one.
        method: ``"landmarks"``, ``"landmarks+intensity"`` or ``"intensity"``.
        stop_reason: the optimiser's stop description (last level), plus why ``converged`` is ``False``.
        landmark_rms_mm: root-mean-square landmark residual after the landmark fit (``None`` without landmarks).
        landmarks: fixed and moving landmarks (``None`` without them).
        levels: per pyramid level: shrink factor, iterations, stop condition, final (sampled) metric value.
        seconds: wall time of the registration.
    """

    matrix: np.ndarray
    center_mm: np.ndarray
    rotation_deg: np.ndarray
    translation_mm: np.ndarray
    metric: float | None
    metric_initial: float | None
    iterations: int
    converged: bool
    method: str
    stop_reason: str = ""
    landmark_rms_mm: float | None = None
    landmarks: dict | None = None
    levels: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def inverse_matrix(self) -> np.ndarray:
        """4x4 world (RAS) transform mapping moving (source) points to fixed (target) points."""
        return np.linalg.inv(self.matrix)

    def map_points(self, points: np.ndarray) -> np.ndarray:
        """Map fixed-space world points ``(..., 3)`` (RAS, mm) to moving space.

        Args:
            points: world coordinates in the fixed image's space.
        """
        return apply_affine(self.matrix, points)

    def to_dict(self) -> dict:
        """JSON-friendly form; states the direction and coordinate system of ``matrix``."""
        out = asdict(self)
        for key in ("matrix", "center_mm", "rotation_deg", "translation_mm"):
            out[key] = np.asarray(out[key], dtype=float).round(6).tolist()
        out["convention"] = (
            "matrix maps fixed (target) world RAS mm to moving (source) world RAS mm: "
            "x_moving = matrix @ [x_fixed, 1]; "
            "rotation_deg (ax, ay, az) with R = Rz @ Ry @ Rx; x_moving = R (x_fixed - center_mm) + center_mm + "
            "translation_mm"
        )
        return out


def euler_angles_deg(rotation: np.ndarray) -> np.ndarray:
    """Angles ``(ax, ay, az)`` in degrees with ``rotation = Rz(az) @ Ry(ay) @ Rx(ax)``.

    Args:
        rotation: 3x3 rotation matrix.
    """
    r = np.asarray(rotation, dtype=float)
    ay = -np.arcsin(np.clip(r[2, 0], -1.0, 1.0))
    ax = np.arctan2(r[2, 1], r[2, 2])
    az = np.arctan2(r[1, 0], r[0, 0])
    return np.rad2deg([ax, ay, az])


def fit_rigid_points(fixed_points: np.ndarray, moving_points: np.ndarray) -> np.ndarray:
    """Least-squares rigid transform (Kabsch, no scaling, no reflection) mapping fixed points onto moving points.

    Args:
        fixed_points: ``(N, 3)`` points in fixed space.
        moving_points: ``(N, 3)`` corresponding points in moving space.

    Returns:
        4x4 matrix ``T`` with ``moving ~= T @ [fixed, 1]``.

    Raises:
        InputError: fewer than 3 points, mismatched shapes, or points (nearly) on one line.
    """
    p = np.asarray(fixed_points, dtype=float)
    q = np.asarray(moving_points, dtype=float)
    if p.shape != q.shape or p.ndim != 2 or p.shape[1] != 3 or p.shape[0] < 3:
        raise InputError(f"rigid fit needs two matching (N>=3, 3) point sets, got {p.shape} and {q.shape}")
    pc, qc = p.mean(axis=0), q.mean(axis=0)
    for pts, name in ((p - pc, "fixed"), (q - qc, "moving")):
        sv = np.linalg.svd(pts, compute_uv=False)
        if sv[1] < 1e-3 * max(sv[0], 1e-9):
            raise InputError(f"the {name} landmarks lie on a line; a rigid fit is undefined")
    u, _, vt = np.linalg.svd((p - pc).T @ (q - qc))
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    rotation = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = qc - rotation @ pc
    return out


def _ras_to_lps(matrix: np.ndarray) -> np.ndarray:
    """Express a 4x4 RAS world transform in LPS, or back (the flip is its own inverse).

    Args:
        matrix: 4x4 world-to-world transform.
    """
    return RAS_TO_LPS @ np.asarray(matrix, dtype=float) @ RAS_TO_LPS


def _heart_mask(label: np.ndarray, affine: np.ndarray, margin_mm: float):
    """ITK mask spatial object: the label map's heart bounding box grown by ``margin_mm``, on the label's grid.

    Args:
        label: label map (heart = labels > 0).
        affine: its voxel-to-world affine (RAS).
        margin_mm: growth of the box on every side (mm).
    """
    import itk

    idx = np.argwhere(np.asarray(label) > 0)
    spacing = spacing_from_affine(affine)
    pad = np.ceil(margin_mm / spacing).astype(int)
    lo = np.maximum(idx.min(axis=0) - pad, 0)
    hi = np.minimum(idx.max(axis=0) + pad + 1, np.asarray(label.shape))
    mask = np.zeros(label.shape, dtype=np.uint8)
    mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = 1
    spatial = itk.ImageMaskSpatialObject[3].New()
    spatial.SetImage(image_from_array(mask, affine, pixel=np.uint8))
    spatial.Update()
    return spatial


def _centre(image: np.ndarray, affine: np.ndarray, init: str) -> np.ndarray:
    """World (RAS) centre of an image: intensity-weighted centre of mass (``"moments"``) or field-of-view centre.

    Args:
        image: 3D image (negative values count as 0).
        affine: its voxel-to-world affine (RAS).
        init: ``"moments"`` or ``"geometry"``.
    """
    if init == "geometry":
        return apply_affine(affine, (np.asarray(image.shape, dtype=float) - 1.0) / 2.0)
    weights = np.clip(np.asarray(image, dtype=np.float64), 0.0, None)
    total = weights.sum()
    if not np.isfinite(total) or total <= 0:
        return apply_affine(affine, (np.asarray(image.shape, dtype=float) - 1.0) / 2.0)
    index = [
        (weights.sum(axis=tuple(a for a in range(3) if a != ax)) * np.arange(image.shape[ax])).sum() / total
        for ax in range(3)
    ]
    return apply_affine(affine, np.asarray(index))


def _per_level(value, n: int, name: str) -> list:
    """One value per pyramid level.

    Args:
        value: a number (repeated) or a sequence of ``n`` numbers.
        n: number of levels.
        name: option name for the error message.
    """
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value] * n
    if len(values) != n:
        raise ValueError(f"{name}: expected one value per pyramid level ({n}), got {len(values)}")
    return values


def _result_from(matrix: np.ndarray, center: np.ndarray, method: str, **kwargs) -> RigidResult:
    """Build a :class:`RigidResult`, deriving angles and the centre's translation from the matrix.

    Args:
        matrix: 4x4 RAS fixed -> moving transform.
        center: rotation centre (fixed world, RAS).
        method: registration method name.
        **kwargs: the remaining :class:`RigidResult` fields.
    """
    rotation = matrix[:3, :3]
    translation = matrix[:3, 3] + rotation @ center - center
    return RigidResult(
        matrix=np.asarray(matrix, dtype=float),
        center_mm=np.asarray(center, dtype=float),
        rotation_deg=euler_angles_deg(rotation),
        translation_mm=translation,
        method=method,
        **kwargs,
    )


def register_rigid(
    fixed_image: np.ndarray,
    fixed_affine: np.ndarray,
    moving_image: np.ndarray,
    moving_affine: np.ndarray,
    fixed_label: np.ndarray | None = None,
    moving_label: np.ndarray | None = None,
    refine: bool = True,
    *,
    fixed_label_affine: np.ndarray | None = None,
    moving_label_affine: np.ndarray | None = None,
    init: str = "moments",
    shrink_factors: Sequence[int] = (4, 2, 1),
    smoothing_mm: float | Sequence[float] | None = None,
    iterations: int | Sequence[int] = 200,
    step_mm: float = 2.0,
    min_step_mm: float = 0.01,
    relaxation: float = 0.5,
    gradient_tolerance: float = 1e-8,
    bins: int = 32,
    sampling: float | Sequence[float] | None = None,
    seed: int = 0,
    heart_margin_mm: float | None = 20.0,
    metric_tolerance: float = 0.005,
    min_mutual_information: float = 0.05,
    max_landmark_rms_mm: float = 20.0,
    max_overlap_loss: float = 0.05,
    strict: bool = False,
    fixed_name: str = "fixed image",
    moving_name: str = "moving image",
    fixed_label_name: str = "fixed label map",
    moving_label_name: str = "moving label map",
) -> RigidResult:
    """Rigidly register a moving (source) image to a fixed (target) image in world coordinates.

    Args:
        fixed_image: 3D fixed (target) image.
        fixed_affine: its voxel-to-world affine (RAS).
        moving_image: 3D moving (source) image.
        moving_affine: its voxel-to-world affine (RAS).
        fixed_label: fixed label map (0 bg, 1 LV, 2 myocardium, 3 RV): landmarks, and the heart region of the
            metric.
        moving_label: moving label map; landmarks are used only when both label maps are given.
        refine: refine by intensity (Mattes mutual information); ``False`` keeps the initial transform.
        fixed_label_affine: affine of ``fixed_label`` when it is not on the fixed image's grid.
        moving_label_affine: affine of ``moving_label`` when it is not on the moving image's grid.
        init: initialisation without landmarks: ``"moments"`` (intensity centres of mass) or ``"geometry"``
            (field-of-view centres).
        shrink_factors: pyramid shrink factor per level, coarse to fine.
        smoothing_mm: Gaussian smoothing sigma (mm), one number or one per level; default 1 mm per shrink factor
            above 1 (``(4, 2, 0)`` for ``(4, 2, 1)``).
        iterations: maximum optimiser iterations, one number or one per level.
        step_mm: initial optimiser step (about mm of motion) at the coarsest level; each finer level starts with
            it scaled by its shrink factor over the coarsest one.
        min_step_mm: the optimiser has converged when its (relaxed) step gets below this.
        relaxation: step reduction factor on each change of gradient direction (0-1).
        gradient_tolerance: the optimiser has converged when the scaled gradient norm gets below this.
        bins: histogram bins of the mutual information.
        sampling: fraction of the fixed voxels sampled (random, seeded) per metric evaluation, one number or one
            per level (inside the heart region when there is one); default ``min(1, 0.05 * shrink**2)``, about
            the same number of points at every level.
        seed: seed of the metric sampling (same inputs and seed give the same result).
        heart_margin_mm: with ``fixed_label``, restrict the metric to the heart's bounding box grown by this;
            ``None`` uses the whole image.
        metric_tolerance: relative slack before "final metric worse than initial" counts as a failure.
        min_mutual_information: a final mutual information (``-metric``, nats) below this means the images share
            no structure (e.g. noise): marked not converged even when the optimiser stopped on its tolerance.
        max_landmark_rms_mm: a landmark fit with a larger RMS residual is marked not converged.
        max_overlap_loss: with both label maps, a refinement that lowers the mean label Dice (moving label through
            the transform vs fixed label) by more than this below the landmark fit's is marked not converged: the
            intensity metric can improve while the hearts drift apart (e.g. between two different subjects).
        strict: raise :class:`RegistrationError` instead of returning a result with ``converged=False``.
        fixed_name: how error messages name the fixed image (its file path, when it comes from a file).
        moving_name: how error messages name the moving image.
        fixed_label_name: how error messages name the fixed label map.
        moving_label_name: how error messages name the moving label map.

    Returns:
        The transform and diagnostics; see :class:`RigidResult` for the direction of ``matrix``.

    Raises:
        InputError: arrays that are not 3D, empty/flat images, or label maps without landmarks.
        RegistrationError: ``strict`` and the registration did not converge.
    """
    if refine:
        _load_itk()  # ITK's lazy module loading (10-40 s, once per process) is not registration time
    start = time.perf_counter()
    fixed_image = np.asarray(fixed_image, dtype=np.float32)
    moving_image = np.asarray(moving_image, dtype=np.float32)
    fixed_affine = np.asarray(fixed_affine, dtype=float)
    moving_affine = np.asarray(moving_affine, dtype=float)
    for arr, name in ((fixed_image, fixed_name), (moving_image, moving_name)):
        if arr.ndim != 3:
            raise InputError(f"{name}: expected a 3D array, got shape {arr.shape}")
        if refine and not np.ptp(arr) > 0:
            value = float(arr.flat[0]) if arr.size else float("nan")
            raise InputError(f"{name}: constant image (every voxel {value:g}); nothing to register by intensity")
    if not refine and (fixed_label is None or moving_label is None):
        raise InputError("refine=False needs both label maps (landmarks); nothing else would register the images")
    if init not in ("moments", "geometry"):
        raise ValueError(f"init must be 'moments' or 'geometry', got {init!r}")
    fixed_label_affine = fixed_affine if fixed_label_affine is None else np.asarray(fixed_label_affine, dtype=float)
    moving_label_affine = moving_affine if moving_label_affine is None else np.asarray(moving_label_affine, float)

    # --- initial transform (RAS, fixed -> moving) ---
    landmarks = rms = None
    notes: list[str] = []
    if fixed_label is not None and moving_label is not None:
        fixed_lm = label_landmarks(fixed_label, fixed_label_affine, name=fixed_label_name)
        moving_lm = label_landmarks(moving_label, moving_label_affine, name=moving_label_name)
        moving_points = _matched_order(fixed_lm, moving_lm)
        initial = fit_rigid_points(fixed_lm.points, moving_points)
        center = fixed_lm.points.mean(axis=0)
        residual = apply_affine(initial, fixed_lm.points) - moving_points
        rms = float(np.sqrt((residual**2).sum(axis=1).mean()))
        landmarks = {"fixed": fixed_lm.to_dict(), "moving": {**moving_lm.to_dict(), "matched_points_mm": None}}
        landmarks["moving"]["matched_points_mm"] = np.round(moving_points, 3).tolist()
        method = "landmarks+intensity" if refine else "landmarks"
        if rms > max_landmark_rms_mm:
            notes.append(f"landmark RMS residual {rms:.2f} mm exceeds {max_landmark_rms_mm} mm")
    else:
        center = _centre(fixed_image, fixed_affine, init)
        initial = np.eye(4)
        initial[:3, 3] = _centre(moving_image, moving_affine, init) - center
        method = "intensity"

    if not refine:
        result = _result_from(
            initial,
            center,
            method,
            metric=None,
            metric_initial=None,
            iterations=0,
            converged=not notes,
            stop_reason="; ".join(notes) or "closed-form landmark fit",
            landmark_rms_mm=rms,
            landmarks=landmarks,
            seconds=time.perf_counter() - start,
        )
        return _finish(result, strict)

    mask_label = fixed_label if heart_margin_mm is not None and fixed_label is not None else None
    if mask_label is not None and not np.any(np.asarray(mask_label) > 0):
        raise InputError(f"{fixed_label_name}: no heart label (all background); cannot define the metric region")
    matrix, stats = _itk_refine(
        fixed_image,
        fixed_affine,
        moving_image,
        moving_affine,
        initial,
        center,
        mask=None if mask_label is None else (np.asarray(mask_label), fixed_label_affine, float(heart_margin_mm)),
        shrink_factors=[int(s) for s in shrink_factors],
        smoothing_mm=_per_level(
            [float(f) if f > 1 else 0.0 for f in shrink_factors] if smoothing_mm is None else smoothing_mm,
            len(shrink_factors),
            "smoothing_mm",
        ),
        iterations=_per_level(iterations, len(shrink_factors), "iterations"),
        step_mm=step_mm,
        min_step_mm=min_step_mm,
        relaxation=relaxation,
        gradient_tolerance=gradient_tolerance,
        bins=bins,
        sampling=_per_level(
            [min(1.0, 0.05 * f**2) for f in shrink_factors] if sampling is None else sampling,
            len(shrink_factors),
            "sampling",
        ),
        seed=seed,
    )
    converged = stats["optimizer_ok"] and not notes
    reasons = [stats["stop_reason"], *notes]
    m0, m1 = stats["metric_initial"], stats["metric"]
    if not np.isfinite(m1) or (np.isfinite(m0) and m1 > m0 + metric_tolerance * abs(m0)):
        converged = False
        reasons.append(f"final metric {m1:.5f} is worse than at initialisation ({m0:.5f})")
    if np.isfinite(m1) and -m1 < min_mutual_information:
        converged = False
        reasons.append(f"final mutual information {-m1:.4f} is below {min_mutual_information} (no shared structure)")
    if landmarks is not None:
        before = _label_overlap(fixed_label, fixed_label_affine, moving_label, moving_label_affine, initial)
        after = _label_overlap(fixed_label, fixed_label_affine, moving_label, moving_label_affine, matrix)
        if after < before - max_overlap_loss:
            converged = False
            reasons.append(f"refinement lowered the mean label Dice from {before:.3f} (landmark fit) to {after:.3f}")
    result = _result_from(
        matrix,
        center,
        method,
        metric=float(m1),
        metric_initial=float(m0),
        iterations=stats["iterations"],
        converged=bool(converged),
        stop_reason="; ".join(r for r in reasons if r),
        landmark_rms_mm=rms,
        landmarks=landmarks,
        levels=stats["levels"],
        seconds=time.perf_counter() - start,
    )
    return _finish(result, strict)


def _load_itk():
    """Import ITK and load the wrapped modules used here (ITK loads them lazily on first attribute access)."""
    import itk

    for name in ("ImageRegistrationMethodv4", "MattesMutualInformationImageToImageMetricv4", "VersorRigid3DTransform"):
        getattr(itk, name)
    return itk


def _matched_order(fixed: LandmarkSet, moving: LandmarkSet) -> np.ndarray:
    """Moving landmarks in the fixed landmarks' order.

    Lowest/highest are swapped when the two slice axes point in opposite world directions (one stack indexed base
    to apex, the other apex to base), so that paired landmarks lie on the same side of the heart.

    Args:
        fixed: fixed landmarks.
        moving: moving landmarks.
    """
    if float(np.dot(fixed.slice_direction, moving.slice_direction)) >= 0:
        return moving.points
    return moving.points.reshape(3, 2, 3)[::-1].reshape(6, 3)


def _finish(result: RigidResult, strict: bool) -> RigidResult:
    """Log the result; raise in strict mode when it did not converge.

    Args:
        result: registration result.
        strict: raise :class:`RegistrationError` when ``result.converged`` is ``False``.
    """
    logger.info(
        "rigid registration (%s): rotation %s deg, translation %s mm, converged=%s (%s), %.2f s",
        result.method,
        np.round(result.rotation_deg, 2).tolist(),
        np.round(result.translation_mm, 2).tolist(),
        result.converged,
        result.stop_reason,
        result.seconds,
    )
    if strict and not result.converged:
        raise RegistrationError(f"rigid registration did not converge: {result.stop_reason}", result)
    return result


def _itk_refine(
    fixed_image,
    fixed_affine,
    moving_image,
    moving_affine,
    initial,
    center,
    mask,
    shrink_factors,
    smoothing_mm,
    iterations,
    step_mm,
    min_step_mm,
    relaxation,
    gradient_tolerance,
    bins,
    sampling,
    seed,
) -> tuple[np.ndarray, dict]:
    """ITK v4 intensity refinement; returns the RAS fixed->moving matrix and statistics.

    Args:
        fixed_image: fixed array.
        fixed_affine: its RAS affine.
        moving_image: moving array.
        moving_affine: its RAS affine.
        initial: initial 4x4 RAS fixed -> moving transform.
        center: rotation centre (fixed world, RAS).
        mask: ``(label, affine, margin_mm)`` of the metric's heart region, or ``None``.
        shrink_factors: shrink factor per level.
        smoothing_mm: smoothing sigma (mm) per level.
        iterations: iteration limit per level.
        step_mm: initial step at the coarsest level.
        min_step_mm: minimum step (convergence).
        relaxation: step relaxation factor.
        gradient_tolerance: gradient-norm tolerance (convergence).
        bins: histogram bins.
        sampling: sampled fraction per level.
        seed: sampling seed.
    """
    import itk

    image_type = itk.Image[itk.F, 3]
    transform_type = itk.VersorRigid3DTransform[itk.D]
    metric_type = itk.MattesMutualInformationImageToImageMetricv4[image_type, image_type]

    fixed = image_from_array(fixed_image, fixed_affine)
    moving = image_from_array(moving_image, moving_affine)
    mask_object = None if mask is None else _heart_mask(*mask)

    initial_lps = _ras_to_lps(initial)
    center_lps = (RAS_TO_LPS[:3, :3] @ center).tolist()

    def make_transform(matrix_lps):
        tr = transform_type.New()
        tr.SetCenter(center_lps)
        tr.SetMatrix(itk.matrix_from_array(np.ascontiguousarray(matrix_lps[:3, :3])))
        rot, offset = matrix_lps[:3, :3], matrix_lps[:3, 3]
        tr.SetTranslation((offset + rot @ np.asarray(center_lps) - np.asarray(center_lps)).tolist())
        return tr

    def metric_value(tr) -> float:
        metric = metric_type.New()
        metric.SetNumberOfHistogramBins(bins)
        metric.SetUseMovingImageGradientFilter(False)  # GetValue needs no gradient image
        metric.SetUseFixedImageGradientFilter(False)
        metric.SetFixedImage(fixed)
        metric.SetMovingImage(moving)
        metric.SetMovingTransform(tr)
        if mask_object is not None:
            metric.SetFixedImageMask(mask_object)
        try:
            metric.Initialize()
            return float(metric.GetValue())
        except RuntimeError:  # e.g. too few samples map inside the moving image
            return float("inf")

    transform = make_transform(initial_lps)
    metric_initial = metric_value(make_transform(initial_lps))

    metric = metric_type.New()
    metric.SetNumberOfHistogramBins(bins)
    # Gradients by central differences at the sampled points instead of full-resolution gradient images
    # (recomputed at every pyramid level otherwise: most of the run time with sparse sampling).
    metric.SetUseMovingImageGradientFilter(False)
    metric.SetUseFixedImageGradientFilter(False)
    if mask_object is not None:
        metric.SetFixedImageMask(mask_object)
    scales = itk.RegistrationParameterScalesFromPhysicalShift[metric_type].New()
    scales.SetMetric(metric)
    optimizer = itk.RegularStepGradientDescentOptimizerv4[itk.D].New()
    optimizer.SetScalesEstimator(scales)
    optimizer.SetRelaxationFactor(relaxation)
    optimizer.SetMinimumStepLength(min_step_mm)
    optimizer.SetGradientMagnitudeTolerance(gradient_tolerance)
    optimizer.SetReturnBestParametersAndValue(False)

    registration = itk.ImageRegistrationMethodv4[image_type, image_type].New()
    registration.SetFixedImage(fixed)
    registration.SetMovingImage(moving)
    registration.SetMetric(metric)
    registration.SetOptimizer(optimizer)
    registration.SetInitialTransform(transform)
    registration.InPlaceOn()
    registration.SetNumberOfLevels(len(shrink_factors))
    registration.SetShrinkFactorsPerLevel(shrink_factors)
    registration.SetSmoothingSigmasPerLevel([float(s) for s in smoothing_mm])
    registration.SetSmoothingSigmasAreSpecifiedInPhysicalUnits(True)
    registration.SetMetricSamplingStrategy(itk.ImageRegistrationMethodv4Enums.MetricSamplingStrategy_RANDOM)
    registration.SetMetricSamplingPercentagePerLevel([float(s) for s in sampling])
    registration.MetricSamplingReinitializeSeed(int(seed))

    levels: list[dict] = []

    def on_level():  # fired before the optimiser starts on each level
        level = int(registration.GetCurrentLevel())
        optimizer.SetNumberOfIterations(int(iterations[level]))
        optimizer.SetLearningRate(float(step_mm) * shrink_factors[level] / shrink_factors[0])

    def on_end():
        levels.append(
            {
                "shrink": shrink_factors[len(levels)] if len(levels) < len(shrink_factors) else None,
                "iterations": int(optimizer.GetCurrentIteration()),
                "stop": str(optimizer.GetStopConditionDescription()).strip(),
                "hit_max_iterations": int(optimizer.GetStopCondition()) == _max_iterations_code(itk),
                "value": float(optimizer.GetValue()),
            }
        )

    registration.AddObserver(itk.MultiResolutionIterationEvent(), on_level)
    optimizer.AddObserver(itk.EndEvent(), on_end)
    ok, stop = True, ""
    try:
        registration.Update()
    except RuntimeError as err:
        ok, stop = False, f"ITK optimiser failed: {str(err).strip().splitlines()[-1]}"
        transform = make_transform(initial_lps)
    if ok:
        if len(levels) < len(shrink_factors):
            ok, stop = False, f"optimiser ran {len(levels)} of {len(shrink_factors)} levels"
        else:
            stop = levels[-1]["stop"]
            if levels[-1]["hit_max_iterations"]:
                ok = False
                stop = f"last level stopped at its iteration limit ({iterations[-1]}): {stop}"

    matrix_lps = np.eye(4)
    matrix_lps[:3, :3] = itk.array_from_matrix(transform.GetMatrix())
    matrix_lps[:3, 3] = np.asarray(transform.GetOffset(), dtype=float)
    return _ras_to_lps(matrix_lps), {
        "optimizer_ok": ok,
        "stop_reason": stop,
        "iterations": int(sum(level["iterations"] for level in levels)),
        "levels": levels,
        "metric_initial": metric_initial,
        "metric": metric_value(transform),
    }


def _max_iterations_code(itk) -> int:
    """Integer code of the optimiser stop condition "maximum number of iterations".

    Args:
        itk: the ``itk`` module.
    """
    enums = itk.ObjectToObjectOptimizerBaseTemplateEnums
    return int(enums.StopConditionObjectToObjectOptimizer_MAXIMUM_NUMBER_OF_ITERATIONS)


def _label_overlap(fixed_label, fixed_affine, moving_label, moving_affine, matrix: np.ndarray) -> float:
    """Mean Dice over the fixed label's classes of the moving label mapped through ``matrix`` onto the fixed grid."""
    fixed = np.rint(np.asarray(fixed_label)).astype(np.uint8)
    moved = resample_moving(moving_label, moving_affine, matrix, fixed.shape, fixed_affine, label=True)
    scores = [dice(fixed == c, moved == c) for c in np.unique(fixed) if c > 0]  # c is in fixed: never empty
    return float(np.mean(scores)) if scores else 0.0


def resample_moving(
    moving_image: np.ndarray,
    moving_affine: np.ndarray,
    result: RigidResult | np.ndarray,
    fixed_shape: Sequence[int],
    fixed_affine: np.ndarray,
    label: bool = False,
) -> np.ndarray:
    """Resample the moving image (or label map) onto the fixed grid through the registration result.

    The fixed voxel ``v`` takes the moving value at world point ``matrix @ fixed_affine @ v`` (points outside the
    moving field of view are 0).

    Args:
        moving_image: 3D moving image or label map.
        moving_affine: its voxel-to-world affine (RAS).
        result: registration result, or directly its fixed->moving 4x4 RAS matrix.
        fixed_shape: shape of the fixed grid.
        fixed_affine: voxel-to-world affine (RAS) of the fixed grid.
        label: nearest-neighbour interpolation and ``uint8`` output (label maps); otherwise linear, ``float32``.
    """
    matrix = result.matrix if isinstance(result, RigidResult) else np.asarray(result, dtype=float)
    # resample_to_grid samples src at inv(src_affine) @ dst_affine @ v; with src_affine = inv(matrix) @ moving_affine
    # that is inv(moving_affine) @ matrix @ fixed_affine @ v.
    src_affine = np.linalg.inv(matrix) @ np.asarray(moving_affine, dtype=float)
    if label:
        data = np.rint(np.asarray(moving_image)).astype(np.uint8)
        return resample_to_grid(data, src_affine, fixed_shape, fixed_affine, order=0, mode="constant")
    data = np.asarray(moving_image, dtype=np.float32)
    return resample_to_grid(data, src_affine, fixed_shape, fixed_affine, order=1, mode="constant")


def transform_json_path(out: str | os.PathLike) -> Path:
    """JSON written beside an aligned image: ``X.nii.gz`` -> ``X_transform.json``.

    Args:
        out: path of the aligned NIfTI image.
    """
    out = Path(out)
    stem = out.name[: -len(".nii.gz")] if out.name.endswith(".nii.gz") else out.stem
    return out.with_name(f"{stem}_transform.json")


def _check_output(path: str | os.PathLike, inputs: Sequence[Path], what: str) -> Path:
    """Check an output path: NIfTI name, not a folder, not one of the inputs.

    Args:
        path: output path.
        inputs: input paths it must not overwrite.
        what: option name for the error message.
    """
    path = Path(path)
    if not (path.name.endswith(".nii.gz") or path.name.endswith(".nii")):
        raise InputError(f"{path}: {what} must end with .nii.gz or .nii")
    if path.exists() and path.is_dir():
        raise InputError(f"{path}: {what} is a folder")
    if any(path.absolute() == p.absolute() for p in inputs):
        raise InputError(f"{path}: {what} would overwrite an input file")
    return path


def align_pair(
    fixed: str | os.PathLike,
    moving: str | os.PathLike,
    out: str | os.PathLike,
    fixed_label: str | os.PathLike | None = None,
    moving_label: str | os.PathLike | None = None,
    moving_label_out: str | os.PathLike | None = None,
    strict: bool = True,
    refine: bool = True,
    overwrite: bool = False,
    **options,
) -> RigidResult:
    """Register a moving (source) NIfTI image to a fixed (target) one; write it resampled on the fixed grid.

    Writes ``out`` (the moving image on the fixed grid, float32), ``X_transform.json`` beside it (the
    :class:`RigidResult`, input paths and the fixed grid) and, when asked, ``moving_label_out`` (the moving label
    map on the fixed grid, nearest neighbour). All files appear together at the end (temporary names, then
    renames); nothing is written when an input is unusable or (``strict``) the registration fails. Existing output
    files are refused before anything is read unless ``overwrite``.

    Args:
        fixed: fixed (target) image file.
        moving: moving (source) image file.
        out: output image (``.nii.gz``/``.nii``).
        fixed_label: fixed label map file (landmarks + metric heart region).
        moving_label: moving label map file (landmarks; with ``fixed_label``).
        moving_label_out: where to write the moving label map resampled on the fixed grid (needs ``moving_label``).
        strict: raise :class:`RegistrationError` (and write nothing) when the registration did not converge.
        refine: intensity refinement after the initialisation (see :func:`register_rigid`).
        overwrite: replace existing output files (``out``, its ``_transform.json``, ``moving_label_out``).
        **options: further keyword arguments of :func:`register_rigid` (``iterations``, ``shrink_factors``...).

    Returns:
        The registration result.

    Raises:
        InputError: a missing/corrupt/non-3D input (the message names the file), a label map without landmarks,
            ``moving_label_out`` without ``moving_label``, a bad output path, or an existing output file without
            ``overwrite``; messages name the file.
        RegistrationError: ``strict`` and no convergence.
    """
    inputs = [Path(p) for p in (fixed, moving, fixed_label, moving_label) if p is not None]
    out = _check_output(out, inputs, "--out")
    if moving_label_out is not None:
        if moving_label is None:
            raise InputError(f"{moving_label_out}: --moving_label_out needs --moving_label")
        moving_label_out = _check_output(moving_label_out, [*inputs, out], "--moving_label_out")
    json_path = transform_json_path(out)
    outputs = [out, json_path] + ([moving_label_out] if moving_label_out is not None else [])
    if not overwrite:
        for path in outputs:
            if path.exists() or path.is_symlink():
                raise InputError(f"{path}: exists (pass --overwrite True to replace it)")

    fixed_image, fixed_affine = load_nifti(fixed)
    moving_image, moving_affine = load_nifti(moving)
    labels = {}
    for key, path in (("fixed", fixed_label), ("moving", moving_label)):
        if path is not None:
            labels[key] = _load_label(path)
    if len(labels) == 2:  # check here so that a map without landmarks is reported by its file name
        for key, path in (("fixed", fixed_label), ("moving", moving_label)):
            label_landmarks(*labels[key], name=str(path))
    result = register_rigid(
        fixed_image,
        fixed_affine,
        moving_image,
        moving_affine,
        fixed_label=labels["fixed"][0] if "fixed" in labels else None,
        moving_label=labels["moving"][0] if "moving" in labels else None,
        refine=refine,
        fixed_label_affine=labels["fixed"][1] if "fixed" in labels else None,
        moving_label_affine=labels["moving"][1] if "moving" in labels else None,
        strict=strict,
        fixed_name=str(fixed),
        moving_name=str(moving),
        fixed_label_name=str(fixed_label),
        moving_label_name=str(moving_label),
        **options,
    )
    aligned = resample_moving(moving_image, moving_affine, result, fixed_image.shape, fixed_affine)
    record = {
        **result.to_dict(),
        "fixed": str(fixed),
        "moving": str(moving),
        "fixed_label": None if fixed_label is None else str(fixed_label),
        "moving_label": None if moving_label is None else str(moving_label),
        "output": str(out),
        "moving_label_output": None if moving_label_out is None else str(moving_label_out),
        "fixed_grid": {"shape": list(fixed_image.shape), "affine": np.round(fixed_affine, 6).tolist()},
    }
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    current = out  # the output being written, named if the disk is full
    try:
        staged.append((save_nifti(aligned, fixed_affine, _staging(out)), out))
        if moving_label_out is not None:
            current = moving_label_out
            label, label_affine = labels["moving"]
            on_fixed = resample_moving(label, label_affine, result, fixed_image.shape, fixed_affine, label=True)
            tmp_label = save_nifti(on_fixed, fixed_affine, _staging(moving_label_out), label=True)
            staged.append((tmp_label, moving_label_out))
        current = json_path
        tmp_json = _staging(json_path)
        staged.append((tmp_json, json_path))  # before writing: a half-written file is removed too
        tmp_json.write_text(json.dumps(record, indent=2) + "\n")
        for tmp, final in staged:
            current = final
            put_in_place(tmp, final, overwrite)
            placed.append(final)
    except BaseException as err:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if not overwrite:  # files created by this run only (nothing of the user's was replaced)
            for final in placed:
                final.unlink(missing_ok=True)
        if disk_full_in(err):
            raise InputError(f"{current}: no space left on the device") from err
        raise
    return result


def _staging(path: Path) -> Path:
    """Hidden temporary name beside ``path`` (same folder, so the final rename is atomic).

    Args:
        path: final path.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{''.join(path.suffixes[-2:])}")


def _load_label(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Label map with values checked (RV 4 mapped to 3); the landmark labels are checked by the caller.

    Args:
        path: NIfTI label map.
    """
    return load_label_map(path)
