"""Simulated slice-segmenter output on a generated stack: the conditioned Gemini-GAN's training input.

The conditioned generator (:class:`~custom_networks.nets.ConditionedGeminiGenerator`) sees, at inference, a real
stack and the class probabilities stage 1 (the 2D slice segmenter) gave each acquired slice. It is trained on the
data engine's stacks, whose HR label maps are exact; this transform makes from a stack's acquired label map
(``lr_label``, which already carries the stack's breath-hold shifts and partial volume) the probabilities a real
slice segmenter would have given, with the errors real ones make, slice by slice:

- **boundary jitter**: every slice is warped by a smooth random in-plane displacement of up to ``jitter_mm``;
- **a missed class**: with probability ``p_missed`` a slice loses one of its classes (to background);
- **a spurious class**: with probability ``p_spurious`` a slice gains a blob of a class near the heart;
- **partial coverage**: with probability ``p_coverage`` the first or the last slice that shows the heart shows
  nothing (stage 1 missing the apex or the base);
- **soft boundaries**: the one-hot maps are blurred in-plane (``blur_mm``) and sharpened or softened by a
  temperature (``temperature``), so that boundary voxels are uncertain as a softmax is;
- **more breath-hold shift**: with probability ``p_shift`` every slice, image and labels together, is moved in-plane
  by up to ``shift_mm`` (on top of the shifts the stack was acquired with).

The stack (``lr_image``) and the probabilities are then carried onto the HR grid of ``ref_key`` in world coordinates,
linearly between slices, exactly as the inference carries the stack and stage 1's probabilities
(:class:`~custom_networks.transforms.ResampleToHRGridd`). How close the simulated errors are to stage 1's real ones
(per-slice Dice on the expert-labelled real stacks) is measured by ``benchmarks/stage1_errors.py``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform, Randomizable
from scipy import ndimage

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import resample_channels_to_grid, spacing_from_affine

__all__ = ["SimulateStage1d", "Stage1Errors", "simulate_stage1_probabilities"]


@dataclass(frozen=True)
class Stage1Errors:
    """How wrong the simulated slice segmenter is (ranges ``(min, max)`` are drawn uniformly per stack).

    Args:
        jitter_mm: largest in-plane boundary displacement of a slice (mm).
        jitter_scale_mm: smoothness (Gaussian sigma) of the displacement field (mm).
        p_missed: probability that a slice loses one of the classes it shows.
        p_spurious: probability that a slice gains a blob of a class.
        spurious_radius_mm: radius of a spurious blob (mm).
        p_coverage: probability, at each end of the heart, that its last slice is missed.
        blur_mm: in-plane blur (Gaussian sigma, mm) of the one-hot maps.
        temperature: softmax temperature applied after the blur (below 1 sharpens, above 1 softens).
        p_shift: probability of adding breath-hold shifts to the stack.
        shift_mm: largest added in-plane shift of a slice (mm).
    """

    jitter_mm: tuple[float, float] = (0.0, 2.5)
    jitter_scale_mm: float = 12.0
    p_missed: float = 0.05
    p_spurious: float = 0.05
    spurious_radius_mm: tuple[float, float] = (3.0, 10.0)
    p_coverage: float = 0.25
    blur_mm: tuple[float, float] = (0.3, 1.5)
    temperature: tuple[float, float] = (0.5, 1.5)
    p_shift: float = 0.5
    shift_mm: float = 3.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            values = tuple(value) if isinstance(value, tuple | list) else (value,)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(float(v) for v in value))
            pair = isinstance(f.default, tuple)
            if pair != isinstance(value, tuple | list) or len(values) != (2 if pair else 1):
                kind = "a (min, max) pair" if pair else "one number"
                raise InputError(f"stage-1 error model {f.name}: expected {kind}, got {value!r}")
            if not all(isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in values):
                raise InputError(f"stage-1 error model {f.name}: expected numbers >= 0, got {value!r}")
            if len(values) == 2 and values[0] > values[1]:
                raise InputError(f"stage-1 error model {f.name}: min {values[0]:g} > max {values[1]:g}")
            if f.name.startswith("p_") and values[0] > 1:
                raise InputError(f"stage-1 error model {f.name}: a probability must be <= 1, got {value!r}")

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float, amplitude: float) -> np.ndarray:
    """A smooth random 2D field whose largest absolute value is ``amplitude``."""
    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma_px, mode="wrap")
    peak = float(np.abs(field).max())
    return field * (amplitude / peak) if peak > 0 else field


def _disc(shape: tuple[int, int], centre: np.ndarray, radius_px: np.ndarray) -> np.ndarray:
    i, j = np.ogrid[: shape[0], : shape[1]]
    return ((i - centre[0]) / radius_px[0]) ** 2 + ((j - centre[1]) / radius_px[1]) ** 2 <= 1.0


def simulate_stage1_probabilities(
    lr_label: np.ndarray,
    spacing: np.ndarray,
    errors: Stage1Errors,
    rng: np.random.Generator,
    num_classes: int = 4,
) -> np.ndarray:
    """Slice-segmenter-like class probabilities ``(C, X, Y, Z)`` of an acquired label map ``(X, Y, Z)``.

    Args:
        lr_label: the stack's label map (slice axis last), values ``0..num_classes-1``.
        spacing: its voxel size (mm).
        errors: the error model.
        rng: random generator (every draw comes from it).
        num_classes: number of classes, background included.
    """
    lr_label = np.asarray(lr_label).astype(np.int64)
    nx, ny, nz = lr_label.shape
    px = float(np.mean(spacing[:2]))
    onehot = (lr_label[None] == np.arange(num_classes)[:, None, None, None]).astype(np.float32)
    heart = lr_label > 0
    heart_slices = np.flatnonzero(heart.any(axis=(0, 1)))
    if heart_slices.size:
        box = np.argwhere(heart.any(axis=2))
        lo, hi = box.min(axis=0), box.max(axis=0)
    else:
        lo, hi = np.zeros(2, int), np.asarray([nx - 1, ny - 1])
    jitter = rng.uniform(*errors.jitter_mm) / px
    grid = np.mgrid[0:nx, 0:ny].astype(np.float32)
    for k in range(nz):
        sl = onehot[:, :, :, k]
        if jitter > 0:
            dx = _smooth_field(rng, (nx, ny), errors.jitter_scale_mm / px, jitter)
            dy = _smooth_field(rng, (nx, ny), errors.jitter_scale_mm / px, jitter)
            coords = np.stack([grid[0] + dx, grid[1] + dy])
            sl = np.stack([ndimage.map_coordinates(c, coords, order=1, mode="nearest") for c in sl])
        present = [c for c in range(1, num_classes) if sl[c].max() > 0.5]
        if present and rng.random() < errors.p_missed:
            c = int(rng.choice(present))
            sl[0] += sl[c]
            sl[c] = 0.0
        if rng.random() < errors.p_spurious:
            c = int(rng.integers(1, num_classes))
            margin = 20.0 / px
            centre = rng.uniform(lo - margin, hi + margin)
            radius = rng.uniform(*errors.spurious_radius_mm, size=2) / px
            blob = _disc((nx, ny), centre, radius)
            sl[:, blob] = 0.0
            sl[c, blob] = 1.0
        onehot[:, :, :, k] = sl
    for end in (heart_slices[:1], heart_slices[-1:]):
        if end.size and heart_slices.size > 2 and rng.random() < errors.p_coverage:
            onehot[:, :, :, end[0]] = 0.0
            onehot[0, :, :, end[0]] = 1.0
    blur = rng.uniform(*errors.blur_mm) / px
    if blur > 0:
        onehot = ndimage.gaussian_filter(onehot, (0, blur, blur, 0), mode="nearest")
    temperature = max(rng.uniform(*errors.temperature), 1e-2)
    logits = np.log(np.clip(onehot, 1e-4, None)) / temperature
    logits -= logits.max(axis=0, keepdims=True)
    probs = np.exp(logits)
    return (probs / probs.sum(axis=0, keepdims=True)).astype(np.float32)


def _shift_slices(array: np.ndarray, shifts_px: np.ndarray, order: int) -> np.ndarray:
    """``array`` (C, X, Y, Z) with slice k moved in-plane by ``shifts_px[k]`` voxels."""
    out = np.empty_like(array)
    for k in range(array.shape[-1]):
        for c in range(array.shape[0]):
            out[c, :, :, k] = ndimage.shift(array[c, :, :, k], shifts_px[k], order=order, mode="nearest")
    return out


class SimulateStage1d(Randomizable, MapTransform):
    """Stack and simulated stage-1 probabilities of a generated case, on the case's HR grid.

    Args:
        image_key: the acquired stack (channel-first ``MetaTensor``, its own affine), intensities already normalised.
        label_key: the stack's acquired label map (same grid as ``image_key``).
        ref_key: an item on the HR grid (e.g. the HR label map): its shape and affine are the output grid.
        output_image_key: where the stack on the HR grid goes (1 channel).
        output_probs_key: where the probabilities on the HR grid go (``num_classes`` channels).
        errors: the error model (a :class:`Stage1Errors` or its keyword arguments).
        num_classes: number of classes, background included.
        seed: ``None`` draws from the transform's random state (training); an int makes every case's draw fixed
            (seeded by the seed and the stack's file name: validation sees the same errors every time).
    """

    def __init__(
        self,
        image_key: Hashable = "lr_image",
        label_key: Hashable = "lr_label",
        ref_key: Hashable = "label",
        output_image_key: Hashable = "image",
        output_probs_key: Hashable = "probs",
        errors: Stage1Errors | Mapping | None = None,
        num_classes: int = 4,
        seed: int | None = None,
    ) -> None:
        MapTransform.__init__(self, [image_key, label_key, ref_key])
        self.image_key, self.label_key, self.ref_key = image_key, label_key, ref_key
        self.output_image_key, self.output_probs_key = output_image_key, output_probs_key
        if errors is None:
            errors = Stage1Errors()
        elif isinstance(errors, Mapping):
            errors = Stage1Errors(**errors)
        self.errors = errors
        self.num_classes = int(num_classes)
        self.seed = seed

    def randomize(self, data=None) -> None:
        """Nothing to pre-draw: every draw happens in ``__call__`` from ``self.R``."""

    def __call__(self, data: Mapping) -> dict:
        """Simulate one case."""
        d = dict(data)
        image, label, ref = d[self.image_key], d[self.label_key], d[self.ref_key]
        affine = np.asarray(image.affine, dtype=float)
        spacing = spacing_from_affine(affine)
        stack = np.asarray(image.detach().cpu(), dtype=np.float32)
        if self.seed is None:
            rng = np.random.default_rng(self.R.randint(2**31))
        else:
            name = str(image.meta.get("filename_or_obj", ""))
            rng = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
        probs = simulate_stage1_probabilities(
            np.asarray(label.detach().cpu())[0], spacing, self.errors, rng, self.num_classes
        )
        if rng.random() < self.errors.p_shift:
            shifts = rng.normal(0.0, self.errors.shift_mm / 2, size=(stack.shape[-1], 2))
            norm = np.linalg.norm(shifts, axis=1, keepdims=True)
            shifts = np.where(
                norm > self.errors.shift_mm, shifts * self.errors.shift_mm / np.maximum(norm, 1e-9), shifts
            )
            shifts_px = shifts / spacing[:2]
            stack = _shift_slices(stack, shifts_px, order=1)
            probs = _shift_slices(probs, shifts_px, order=1)
        hr_affine = np.asarray(ref.affine, dtype=float)
        hr_shape = tuple(ref.shape[1:])
        both = resample_channels_to_grid(np.concatenate([stack, probs]), affine, hr_shape, hr_affine, order=1)
        meta = {k: v for k, v in ref.meta.items() if k != "affine"}
        d[self.output_image_key] = MetaTensor(torch.as_tensor(both[:1]), affine=torch.as_tensor(hr_affine), meta=meta)
        d[self.output_probs_key] = MetaTensor(torch.as_tensor(both[1:]), affine=torch.as_tensor(hr_affine), meta=meta)
        return d
