"""Self-supervised super-resolution pairs from real stacks: drop slices, predict them from their neighbours.

A real short-axis stack has no high-resolution reference, but its own slices are one along the slice axis: drop every
other slice (a 20 mm gap for 10 mm slices), carry the kept slices onto a high-resolution grid as inference carries an
acquired stack, and the dropped slices are the truth at their planes. This is the held-out-slice test of
:mod:`custom_networks.evaluate.held_out` turned into training pairs for the image branch of the conditioned
Gemini-GAN generator (:class:`~custom_networks.nets.ConditionedGeminiGenerator`).

The HR grid's through-plane spacing divides the stack's slice spacing exactly (``slice spacing / factor``, ``factor``
the integer nearest to ``slice spacing / hr_slice_spacing``), so every dropped slice lies exactly on an HR plane; it
starts at the first kept slice. In-plane it is the stack's own grid or one of ``inplane_spacing``, restricted to the
heart's box (stage 1's foreground, ``1 - p_background > 0.5`` on any slice, its largest connected component, plus
``margin_mm``) and cut to
``roi_size`` (a random crop of the box in training). Everything goes through world coordinates
(:func:`~custom_networks.core.geometry.resample_channels_to_grid`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform, Randomizable
from scipy import ndimage

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import resample_channels_to_grid, slice_axis_of, spacing_from_affine

__all__ = ["RandHeldOutSlicesd"]


def _ceil_to(n: int, k: int) -> int:
    return int(-(-int(n) // int(k)) * int(k))


class RandHeldOutSlicesd(Randomizable, MapTransform):
    """Network input, target and mask of one drop-slices draw of a real stack, on an HR grid over the heart.

    Keys written (``MetaTensor`` on the HR grid; its affine is the HR grid's, in the stack's orientation with the
    slice axis last):

    - ``output_image_key`` ``(1 + C, X', Y', Z')``: the **kept** slices' image then the kept slices' stage-1
      probabilities, linear between kept slices in world coordinates (border value beyond the first / last kept
      slice), the conditioned generator's input;
    - ``target_key`` ``(1, X', Y', Z')``: at the plane of each dropped slice, that real slice (in-plane resampled
      linearly when ``inplane_spacing`` is given); 0 elsewhere;
    - ``mask_key`` ``(1, X', Y', Z')``: 1 at the planes of the dropped slices that have a kept slice on both sides
      (those the held-out test scores) and inside the stack's in-plane field of view; 0 elsewhere.

    The input ``probs_key`` is removed from the item (its shape is the stack's, which would not batch).

    Args:
        image_key: the stack, channel-first ``MetaTensor`` ``(1, X, Y, Z)`` with its affine, intensities in [0, 1].
        probs_key: its stage-1 class probabilities on the same grid ``(C, X, Y, Z)``, background first.
        output_image_key: where the network input goes (may be ``image_key``: it is replaced).
        target_key: where the target goes.
        mask_key: where the mask goes.
        steps: keep one slice in ``step``, ``step`` drawn from these (2: drop every other slice); the first kept
            slice is drawn from ``0 .. step - 1``. Draws leaving no scored slice are not made.
        hr_slice_spacing: wanted through-plane spacing of the HR grid (mm); the one used divides the slice spacing.
        inplane_spacing: in-plane spacing of the HR grid (mm); None: the stack's own in-plane grid.
        margin_mm: margin around the heart's in-plane box (mm).
        roi_size: size of the output in HR voxels ``(X', Y', Z')`` (a random crop of the box, or the box padded
            around its centre when smaller; through-plane, of the span from the first to the last kept slice);
            None, or -1 for an axis: the whole box / span, rounded up to ``k_divisible``.
        k_divisible: sizes not given by ``roi_size`` are rounded up to a multiple of it (the generator needs 8).
        foreground_threshold: a voxel is heart when ``1 - p_background`` exceeds it.
        largest_component: the box is that of the largest 3D connected component of the foreground (stage 1's
            false positives far from the heart would stretch it otherwise).
        renormalise: put the stack on the kept slices' 0.5 / 99.5 percentile scale (clipped to [0, 1]) first: the
            scale the inference sees (the reduced stack's own) and the one the held-out test scores on.
        random_crop: draw the crop (training); False: centre it on the box (validation, tests).
    """

    def __init__(
        self,
        image_key: Hashable = "image",
        probs_key: Hashable = "probs",
        output_image_key: Hashable = "image",
        target_key: Hashable = "target",
        mask_key: Hashable = "mask",
        steps: Sequence[int] = (2,),
        hr_slice_spacing: float = 2.0,
        inplane_spacing: float | None = None,
        margin_mm: float = 20.0,
        roi_size: Sequence[int] | None = None,
        k_divisible: int = 8,
        foreground_threshold: float = 0.5,
        largest_component: bool = True,
        renormalise: bool = True,
        random_crop: bool = True,
    ) -> None:
        MapTransform.__init__(self, [image_key, probs_key])
        self.image_key, self.probs_key = image_key, probs_key
        self.output_image_key, self.target_key, self.mask_key = output_image_key, target_key, mask_key
        self.steps = tuple(int(s) for s in steps)
        if not self.steps or min(self.steps) < 2:
            raise InputError(f"RandHeldOutSlicesd steps {steps!r}: at least one step, each >= 2")
        if not hr_slice_spacing > 0 or (inplane_spacing is not None and not inplane_spacing > 0):
            raise InputError("RandHeldOutSlicesd: spacings must be > 0")
        self.hr_slice_spacing = float(hr_slice_spacing)
        self.inplane_spacing = None if inplane_spacing is None else float(inplane_spacing)
        self.margin_mm = float(margin_mm)
        self.roi_size = None if roi_size is None else tuple(int(s) for s in roi_size)
        if self.roi_size is not None and len(self.roi_size) != 3:
            raise InputError(f"RandHeldOutSlicesd roi_size {roi_size!r}: three sizes (X', Y', Z')")
        self.k_divisible = max(1, int(k_divisible))
        self.foreground_threshold = float(foreground_threshold)
        self.largest_component = bool(largest_component)
        self.renormalise = bool(renormalise)
        self.random_crop = bool(random_crop)

    def randomize(self, data=None) -> None:
        """Nothing to pre-draw: the draws depend on the stack and happen in ``__call__`` from ``self.R``."""

    def _size(self, axis: int, available: int) -> int:
        wanted = -1 if self.roi_size is None else self.roi_size[axis]
        return _ceil_to(available, self.k_divisible) if wanted < 1 else wanted

    def _first(self, available: int, size: int) -> int:
        """First HR voxel (relative to the box) of a crop of ``size`` from ``available`` voxels (negative: padded)."""
        if available >= size:
            return int(self.R.randint(available - size + 1)) if self.random_crop else (available - size) // 2
        return -((size - available) // 2)

    def __call__(self, data: Mapping) -> dict:
        """Make one draw."""
        d = dict(data)
        image, probs = d[self.image_key], d.pop(self.probs_key)
        affine = np.asarray(image.affine, dtype=float)
        stack = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image, dtype=np.float32)
        prob = np.asarray(probs.detach().cpu() if isinstance(probs, torch.Tensor) else probs, dtype=np.float32)
        if stack.ndim != 4 or stack.shape[0] != 1 or prob.ndim != 4 or prob.shape[1:] != stack.shape[1:]:
            raise InputError(
                f"RandHeldOutSlicesd: a (1, X, Y, Z) stack and (C, X, Y, Z) probabilities on its grid expected, got "
                f"{stack.shape} and {prob.shape}"
            )
        # slice axis last, in-plane axes in array order: permuted index q -> stack index via `perm`
        axis = slice_axis_of(affine)
        order = [a for a in range(3) if a != axis] + [axis]
        perm = np.zeros((4, 4))
        for n, a in enumerate(order):
            perm[a, n] = 1.0
        perm[3, 3] = 1.0
        affine = affine @ perm
        stack = stack.transpose(0, *(a + 1 for a in order))
        prob = prob.transpose(0, *(a + 1 for a in order))
        spacing = spacing_from_affine(affine)
        n = stack.shape[-1]

        # (step, start) draws that keep two slices or more: then a dropped slice lies between kept ones
        draws = [(s, k) for s in self.steps for k in range(s) if k + s < n]
        if not draws:
            raise InputError(f"RandHeldOutSlicesd: a stack of {n} slices has no slice to drop between kept ones")
        step, start = draws[int(self.R.randint(len(draws)))]
        kept = np.arange(start, n, step)
        dropped = np.setdiff1d(np.arange(n), kept)
        scored = dropped[(dropped > kept[0]) & (dropped < kept[-1])]

        if self.renormalise:
            lo, hi = np.percentile(stack[0][..., kept], [0.5, 99.5])
            if hi > lo:
                stack = np.clip((stack - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)

        # HR grid: HR index (i, j, m) -> permuted stack index (x0 + r_x i, y0 + r_y j, kept[0] + (m0 + m) / factor)
        factor = max(1, int(round(spacing[2] / self.hr_slice_spacing)))
        ratio = (np.ones(2) if self.inplane_spacing is None else self.inplane_spacing / spacing[:2]).astype(float)
        heart = (1.0 - prob[0]) > self.foreground_threshold
        if self.largest_component and heart.any():
            components, count = ndimage.label(heart, structure=np.ones((3, 3, 3)))
            heart = components == 1 + int(np.argmax(np.bincount(components.ravel())[1:]))
        inplane = np.argwhere(heart.any(axis=-1))
        margin = self.margin_mm / spacing[:2]
        if inplane.size:
            box_lo = np.maximum(inplane.min(axis=0) - margin, 0.0)
            box_hi = np.minimum(inplane.max(axis=0) + margin, np.asarray(stack.shape[1:3]) - 1.0)
        else:
            box_lo, box_hi = np.zeros(2), np.asarray(stack.shape[1:3]) - 1.0
        shape, origin = [], []
        for a in range(2):
            available = int(np.floor((box_hi[a] - box_lo[a]) / ratio[a] + 1e-6)) + 1
            size = self._size(a, available)
            shape.append(size)
            origin.append(box_lo[a] + ratio[a] * self._first(available, size))
        span = (int(kept[-1]) - int(kept[0])) * factor + 1
        size_z = self._size(2, span)
        m0 = self._first(span, size_z)
        shape.append(size_z)
        to_stack = np.diag([ratio[0], ratio[1], 1.0 / factor, 1.0])
        to_stack[:3, 3] = [origin[0], origin[1], kept[0] + m0 / factor]
        hr_affine = affine @ to_stack
        hr_shape = tuple(int(s) for s in shape)

        kept_affine = affine @ np.diag([1.0, 1.0, float(step), 1.0])
        kept_affine[:3, 3] = (affine @ np.asarray([0.0, 0.0, float(start), 1.0]))[:3]
        both = np.concatenate([stack, prob])[..., kept]
        network_input = resample_channels_to_grid(both, kept_affine, hr_shape, hr_affine, order=1)

        target = np.zeros((1, *hr_shape), dtype=np.float32)
        mask = np.zeros((1, *hr_shape), dtype=np.float32)
        inside = []
        for a, size in enumerate(hr_shape[:2]):
            coords = origin[a] + ratio[a] * np.arange(size)
            inside.append((coords >= -1e-3) & (coords <= stack.shape[a + 1] - 1 + 1e-3))
        fov = np.outer(inside[0], inside[1]).astype(np.float32)
        for k in scored:
            m = (int(k) - int(kept[0])) * factor - m0
            if not 0 <= m < size_z:
                continue
            plane = hr_affine.copy()
            plane[:3, 3] = (hr_affine @ np.asarray([0.0, 0.0, float(m), 1.0]))[:3]
            target[0, :, :, m] = resample_channels_to_grid(stack, affine, (*hr_shape[:2], 1), plane, order=1)[0, ..., 0]
            mask[0, :, :, m] = fov
        target *= mask

        meta = {
            k: v
            for k, v in getattr(image, "meta", {}).items()
            if k not in ("affine", "original_affine", "spatial_shape", "original_channel_dim")
        }
        meta.update(held_out_step=int(step), held_out_start=int(start), hr_slice_factor=int(factor))
        hr = torch.as_tensor(hr_affine)
        for key, array in ((self.output_image_key, network_input), (self.target_key, target), (self.mask_key, mask)):
            d[key] = MetaTensor(torch.as_tensor(np.ascontiguousarray(array)), affine=hr.clone(), meta=dict(meta))
        return d
