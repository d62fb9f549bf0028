"""The 3D step of the staged pipeline: the conditioned Gemini-GAN on the heart's region of the HR grid."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.data import MetaTensor
from monai.inferers import sliding_window_inference
from monai.transforms import MapTransform
from scipy import ndimage
from torch import nn

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import HR_SPACING, apply_affine, hr_grid_for, resample_channels_to_grid

__all__ = ["HeartBox", "HeartRegionGeminid", "PIPELINE_WARNINGS", "heart_box"]

logger = logging.getLogger(__name__)

#: Metadata key of the warnings a transform leaves for the writer (``SaveNiftid`` logs them and adds them to
#: ``<output_dir>/warnings.csv``).
PIPELINE_WARNINGS = "pipeline_warnings"


class HeartBox:
    """The heart's region on an HR grid: in-plane index ranges (HR axes 0 and 1), the whole slice axis.

    Args:
        lo: first HR index of the box on axes 0, 1, 2.
        hi: one past the last HR index on axes 0, 1, 2.
        touches_edge: the heart itself (stage 1's foreground, without the margin) reaches the edge of the field of
            view in-plane: it may be cut off.
    """

    def __init__(self, lo: Sequence[int], hi: Sequence[int], touches_edge: bool) -> None:
        self.lo = tuple(int(v) for v in lo)
        self.hi = tuple(int(v) for v in hi)
        self.touches_edge = bool(touches_edge)

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        """Index the HR grid with it."""
        return tuple(slice(a, b) for a, b in zip(self.lo, self.hi, strict=True))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Its shape on the HR grid."""
        return tuple(b - a for a, b in zip(self.lo, self.hi, strict=True))

    def __repr__(self) -> str:
        return f"HeartBox(lo={self.lo}, hi={self.hi}, touches_edge={self.touches_edge})"


def heart_box(
    foreground: np.ndarray,
    affine: np.ndarray,
    hr_shape: Sequence[int],
    hr_affine: np.ndarray,
    margin_mm: float = 20.0,
    divisible: int = 8,
) -> HeartBox | None:
    """The heart's box on the HR grid from a foreground mask on the stack's grid, in world coordinates.

    The box spans the in-plane extent of the mask's largest connected component over all slices, plus
    ``margin_mm`` (clipped to the grid), grown to a multiple of ``divisible`` voxels where the grid allows, and the
    whole slice axis.

    Args:
        foreground: boolean mask on the stack's grid.
        affine: the stack's voxel-to-world affine.
        hr_shape: the HR grid's shape (slice axis last).
        hr_affine: the HR grid's affine.
        margin_mm: margin around the foreground, in-plane.
        divisible: box sizes are grown to a multiple of it.

    Returns:
        The box, or None when the mask is empty.
    """
    components, n = ndimage.label(np.asarray(foreground, dtype=bool))
    if n == 0:
        return None
    if n > 1:  # the heart is the largest connected foreground (stray labels away from it do not widen the box)
        sizes = ndimage.sum_labels(np.ones_like(components), components, index=np.arange(1, n + 1))
        components = components == 1 + int(np.argmax(sizes))
    idx = np.argwhere(components)
    first, last = idx.min(axis=0), idx.max(axis=0)
    slice_axis = int(np.argmax(np.linalg.norm(np.asarray(affine, dtype=float)[:3, :3], axis=0)))
    inplane = [a for a in range(3) if a != slice_axis]
    touches = bool(any(first[a] == 0 or last[a] == foreground.shape[a] - 1 for a in inplane))
    # the foreground's bounding box (voxel edges) in HR index space: the box of its 8 corners
    corners = np.asarray(list(itertools.product(*zip(first - 0.5, last + 0.5, strict=True))), dtype=float)
    to_hr = np.linalg.inv(np.asarray(hr_affine, dtype=float)) @ np.asarray(affine, dtype=float)
    hr_points = apply_affine(to_hr, corners)
    spacing = np.linalg.norm(np.asarray(hr_affine, dtype=float)[:3, :3], axis=0)
    lo, hi = hr_points.min(axis=0), hr_points.max(axis=0)
    shape = np.asarray(hr_shape, dtype=int)
    margin = margin_mm / spacing
    box_lo = np.floor(lo - margin).astype(int)
    box_hi = np.ceil(hi + margin).astype(int) + 1
    box_lo[2], box_hi[2] = 0, shape[2]
    box_lo, box_hi = np.clip(box_lo, 0, shape), np.clip(box_hi, 0, shape)
    for axis in range(3):
        size = box_hi[axis] - box_lo[axis]
        grow = (-size) % divisible
        grow = min(grow, shape[axis] - size)
        box_lo[axis] = max(0, box_lo[axis] - grow // 2)
        box_hi[axis] = min(shape[axis], box_lo[axis] + size + grow)
        box_lo[axis] = box_hi[axis] - size - grow
    return HeartBox(box_lo, box_hi, touches)


def _box_affine(hr_affine: np.ndarray, box: HeartBox) -> np.ndarray:
    shift = np.eye(4)
    shift[:3, 3] = box.lo
    return np.asarray(hr_affine, dtype=float) @ shift


def _feather(shape: Sequence[int], width: float) -> np.ndarray:
    """In-plane weights rising from 0 at the box's edge to 1 at ``width`` voxels inside it."""
    if width <= 0:
        return np.ones(tuple(shape), dtype=np.float32)
    ramps = []
    for axis in (0, 1):
        n = shape[axis]
        i = np.arange(n, dtype=np.float32)
        ramps.append(np.clip(np.minimum(i + 0.5, n - 0.5 - i) / width, 0.0, 1.0))
    weight = ramps[0][:, None] * ramps[1][None, :]
    return np.broadcast_to(weight[:, :, None], tuple(shape)).astype(np.float32)


class HeartRegionGeminid(MapTransform):
    """Stage 1's probabilities and the stack -> the HR segmentation and SR image, Gemini-GAN on the heart's region.

    Runs after the slice segmenter's probabilities are back on the stack's grid (``Invertd``). On the stack's HR
    grid (:func:`~custom_networks.core.geometry.hr_grid_for`: its orientation, slice axis last, the input's whole
    field of view):

    1. **The heart's box**: where stage 1's foreground probability exceeds ``foreground_threshold`` on any slice,
       in-plane plus ``margin_mm``, over the whole slice axis (:func:`heart_box`).
    2. **Inside the box**: the stack and the probabilities are carried onto the box's grid in world coordinates
       (linear between slices) and the conditioned Gemini-GAN generator
       (:class:`~custom_networks.nets.ConditionedGeminiGenerator`) gives the SR image and the class probabilities.
       **Through-plane consistency** (``confidence``): on the HR planes nearest to the acquired slices, wherever
       stage 1 is at least that confident, the segmentation is stage 1's (what the slices show is kept).
    3. **Outside the box**: the SR image is the stack's cubic B-spline interpolation (``sr_order``) and the label
       background. The network's SR is blended into it over ``feather_mm`` inside the box's in-plane edge.
    4. **No heart** (an empty foreground): the 3D step is not run; the outputs are the interpolated stack and an
       empty label map, with a warning. A heart reaching the field of view's in-plane edge is said too. Warnings
       go into the outputs' metadata (``pipeline_warnings``), which ``SaveNiftid`` logs and writes to
       ``<output_dir>/warnings.csv``.

    Outputs replace ``pred_key`` (class probabilities ``(C, ...)`` on the HR grid) and ``image_key`` (the SR image
    ``(1, ...)``), with the metadata of :class:`~custom_networks.transforms.ResampleToHRGridd` (``lr_affine``,
    ``lr_shape``, ``spatial_shape``, ``original_affine``) and ``heart_box`` (lo, hi on the HR grid).

    Args:
        network: the conditioned generator (its ``output`` is set to ``"both"``).
        ckpt_path: its weights (a state dict or ``{"model": state}``), loaded at the first call; None keeps the
            network's current weights.
        pred_key: stage 1's class probabilities on the stack's grid.
        image_key: the stack on its grid, intensities normalised to [0, 1].
        hr_spacing: HR voxel size (mm).
        margin_mm: in-plane margin of the heart's box.
        foreground_threshold: stage-1 foreground probability (1 - background) that marks the heart.
        confidence: stage-1 probability above which the acquired slices' labels are kept (> 1 disables).
        sr_order: interpolation of the SR image outside the box (3: cubic B-spline).
        feather_mm: width of the blend between the network's SR and the interpolation at the box's edge.
        divisible: the network's size divisor.
        roi_size: windows of this size (HR voxels) over the box, Gaussian-weighted, overlapping by a quarter: the
            size the generator was trained on, so that its instance normalisation sees the statistics it learnt
            (measured on the generated validation cases: myocardium Dice 0.782 on the whole box, 0.805 in windows of
            the training crop); None runs the whole box at once.
    """

    def __init__(
        self,
        network: nn.Module,
        ckpt_path: str | os.PathLike | None = None,
        pred_key: Hashable = "pred",
        image_key: Hashable = "image",
        hr_spacing: Sequence[float] = HR_SPACING,
        margin_mm: float = 20.0,
        foreground_threshold: float = 0.5,
        confidence: float = 0.5,
        sr_order: int = 3,
        feather_mm: float = 10.0,
        divisible: int = 8,
        roi_size: Sequence[int] | None = (80, 80, 48),
    ) -> None:
        super().__init__([pred_key, image_key])
        self.roi_size = None if roi_size is None else tuple(int(v) for v in roi_size)
        self.network = network
        self.ckpt_path = None if ckpt_path is None else str(ckpt_path)
        self._loaded = ckpt_path is None
        self.pred_key, self.image_key = pred_key, image_key
        self.hr_spacing = tuple(float(s) for s in hr_spacing)
        self.margin_mm = float(margin_mm)
        self.foreground_threshold = float(foreground_threshold)
        self.confidence = float(confidence)
        self.sr_order = int(sr_order)
        self.feather_mm = float(feather_mm)
        self.divisible = int(divisible)

    def _load(self) -> None:
        if self._loaded:
            return
        if not os.path.isfile(self.ckpt_path):
            raise InputError(
                f"{self.ckpt_path}: weights of the 3D step not found (run from the repository root or the bundle"
                " folder, or pass --bundle_root <bundle folder>; or --gemini_3d false for stage 1 alone)"
            )
        try:
            state = torch.load(self.ckpt_path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, ValueError) as err:
            raise InputError(f"{self.ckpt_path}: weights of the 3D step unreadable ({err})") from err
        if isinstance(state, dict) and set(state) == {"model"}:
            state = state["model"]
        try:
            self.network.load_state_dict(state)
        except RuntimeError as err:
            raise InputError(f"{self.ckpt_path}: weights of another network ({str(err).splitlines()[0]})") from err
        self._loaded = True

    def _run_network(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SR ``(1, ...)`` and class probabilities ``(C, ...)`` of one network input ``(1 + C, ...)``."""
        self._load()
        net = self.network
        net.eval()
        previous = getattr(net, "output", None)
        if previous is not None:
            net.output = "both"
        device = next(net.parameters()).device
        pad = [(-s) % self.divisible for s in x.shape[1:]]
        tensor = torch.as_tensor(x)[None]
        if any(pad):
            flat = []
            for p in reversed(pad):
                flat += [0, p]
            tensor = torch.nn.functional.pad(tensor, flat, mode="replicate")
        try:
            with torch.inference_mode():
                if self.roi_size is None:
                    sr, logits = net(tensor.to(device))
                else:
                    window = tuple(min(r, s) for r, s in zip(self.roi_size, tensor.shape[2:], strict=True))
                    sr, logits = sliding_window_inference(
                        tensor.to(device), window, 1, net, overlap=0.25, mode="gaussian", padding_mode="replicate"
                    )
        finally:
            if previous is not None:
                net.output = previous
        crop = (slice(None), *(slice(0, s) for s in x.shape[1:]))
        probs = torch.softmax(logits[0].float(), dim=0)[crop]
        return sr[0].float()[crop].cpu().numpy(), probs.cpu().numpy()

    @staticmethod
    def _acquired_planes(shape, affine, hr_affine, box: HeartBox) -> list[int]:
        """The box's planes nearest to the acquired slices (within half an HR voxel of a slice centre)."""
        axis = int(np.argmax(np.linalg.norm(np.asarray(affine)[:3, :3], axis=0)))
        centre = (np.asarray(shape, dtype=float) - 1) / 2
        pairs = []
        to_hr = np.linalg.inv(np.asarray(hr_affine, dtype=float)) @ np.asarray(affine, dtype=float)
        for s in range(shape[axis]):
            point = centre.copy()
            point[axis] = s
            k = apply_affine(to_hr, point[None])[0, 2]
            plane = int(np.rint(k))
            if abs(k - plane) <= 0.5 and box.lo[2] <= plane < box.hi[2]:
                pairs.append(plane - box.lo[2])
        return pairs

    def __call__(self, data: Mapping) -> dict:
        """Run the 3D step on one case."""
        d = dict(data)
        probs_t, image_t = d[self.pred_key], d[self.image_key]
        affine = np.asarray(image_t.affine, dtype=float)
        probs = np.asarray(probs_t.detach().cpu().float())
        image = np.asarray(image_t.detach().cpu().float())
        shape = image.shape[1:]
        hr_shape, hr_affine, _ = hr_grid_for(shape, affine, self.hr_spacing)
        sr = resample_channels_to_grid(image, affine, hr_shape, hr_affine, order=self.sr_order)
        hr_probs = np.zeros((probs.shape[0], *hr_shape), dtype=np.float32)
        hr_probs[0] = 1.0
        warnings = list(image_t.meta.get(PIPELINE_WARNINGS, []))
        box = heart_box(
            1.0 - probs[0] > self.foreground_threshold, affine, hr_shape, hr_affine, self.margin_mm, self.divisible
        )
        if box is None:
            warnings.append(
                "stage 1 found no heart: the 3D step (Gemini-GAN) was not run; the SR output is the interpolated"
                " stack and the label map is empty"
            )
        else:
            if box.touches_edge:
                warnings.append(
                    "the heart reaches the edge of the field of view in-plane: it may be cut off (check the stack's"
                    " field of view)"
                )
            box_affine = _box_affine(hr_affine, box)
            x = resample_channels_to_grid(np.concatenate([image, probs]), affine, box.shape, box_affine, order=1)
            box_sr, box_probs = self._run_network(x)
            if self.confidence <= 1.0:
                for plane in self._acquired_planes(shape, affine, hr_affine, box):
                    stage1 = x[1:, :, :, plane]
                    keep = stage1.max(axis=0) >= self.confidence
                    box_probs[:, :, :, plane][:, keep] = stage1[:, keep]
            weight = _feather(box.shape, self.feather_mm / self.hr_spacing[0])
            region = sr[(0, *box.slices)]
            sr[(0, *box.slices)] = weight * box_sr[0] + (1.0 - weight) * region
            hr_probs[(slice(None), *box.slices)] = box_probs
            logger.info("heart box on the HR grid: %s..%s of %s", box.lo, box.hi, hr_shape)
        meta = {k: v for k, v in image_t.meta.items() if k != "affine"}
        meta.update(
            lr_affine=affine,
            lr_shape=np.asarray(shape),
            spatial_shape=np.asarray(hr_shape),
            original_affine=hr_affine,
            heart_box=None if box is None else (box.lo, box.hi),
        )
        meta[PIPELINE_WARNINGS] = warnings
        hr = torch.as_tensor(hr_affine)
        d[self.pred_key] = MetaTensor(torch.as_tensor(hr_probs), affine=hr, meta=dict(meta))
        d[self.image_key] = MetaTensor(torch.as_tensor(sr), affine=hr.clone(), meta=dict(meta))
        return d
