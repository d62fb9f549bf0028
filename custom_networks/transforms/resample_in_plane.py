"""In-plane resampling of short-axis stacks to a fixed voxel size, keeping the slices where they were acquired."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.transforms import InvertibleTransform, MapTransform, SpatialResample
from monai.utils import ensure_tuple_rep

from custom_networks.core.geometry import centered_grid_affine, slice_axis_of, spacing_from_affine

__all__ = ["ResampleInPlaned", "in_plane_grid"]


def in_plane_grid(shape: Sequence[int], affine: np.ndarray, spacing: float) -> tuple[tuple[int, ...], np.ndarray]:
    """The grid of a stack resampled in-plane to ``spacing`` mm: same axes, same slices, same centre.

    The grid is centred on the stack's centre (not anchored at its first voxel), so the grid of a stack stored
    mirrored or with its slices reversed is exactly the mirrored grid: the slice segmenter's answer does not depend on
    how the array was stored.

    Args:
        shape: the stack's spatial shape.
        affine: its voxel-to-world affine.
        spacing: the in-plane voxel size (mm).

    Returns:
        ``(shape, affine)`` of the resampled grid.
    """
    affine = np.asarray(affine, dtype=float)
    voxel = spacing_from_affine(affine)
    axis = slice_axis_of(affine)
    new_voxel = np.where(np.arange(3) == axis, voxel, float(spacing))
    new_shape = tuple(
        int(n) if a == axis else max(1, int(round(n * v / spacing)))
        for a, (n, v) in enumerate(zip(shape, voxel, strict=True))
    )
    centre = affine[:3, :3] @ ((np.asarray(shape, dtype=float) - 1) / 2) + affine[:3, 3]
    return new_shape, centered_grid_affine(new_shape, new_voxel, affine[:3, :3] / voxel, centre)


class ResampleInPlaned(MapTransform, InvertibleTransform):
    """Resample channel-first stacks in-plane to ``spacing`` mm; the slice axis (largest voxel size) is untouched.

    The grid is :func:`in_plane_grid` (same orientation, slices and centre; oblique stacks included); MONAI's
    :class:`~monai.transforms.SpatialResample` does the work in world coordinates and records it, so ``Invertd``
    brings a prediction back onto the acquired grid.

    Args:
        keys: keys of channel-first ``MetaTensor`` stacks (the first key's geometry decides the grid).
        spacing: in-plane voxel size (mm).
        mode: interpolation per key (``"bilinear"`` for images and probabilities, ``"nearest"`` for labels).
        allow_missing_keys: do not fail when a key is absent.
    """

    def __init__(
        self,
        keys: Sequence[Hashable] | Hashable,
        spacing: float = 1.5,
        mode: Sequence[str] | str = "bilinear",
        allow_missing_keys: bool = False,
    ):
        super().__init__(keys, allow_missing_keys)
        if not float(spacing) > 0:
            raise ValueError(f"in-plane spacing {spacing}: must be positive (mm)")
        self.spacing = float(spacing)
        self.mode = ensure_tuple_rep(mode, len(self.keys))
        # one resampler per mode, kept: MONAI's inverse checks that the instance that resampled a tensor restores it
        self._resamplers = {m: SpatialResample(mode=m, padding_mode="border") for m in set(self.mode)}

    def __call__(self, data: Mapping) -> dict:
        """Resample every key onto the grid the first key's geometry gives."""
        d = dict(data)
        grid = None
        for key, mode in self.key_iterator(d, self.mode):
            if grid is None:
                grid = in_plane_grid(d[key].shape[1:], np.asarray(d[key].affine, dtype=float), self.spacing)
            shape, affine = grid
            d[key] = self._resamplers[mode](d[key], dst_affine=torch.as_tensor(affine), spatial_size=shape)
        return d

    def inverse(self, data: Mapping) -> dict:
        """Bring every key back onto the grid it had before (the resampling recorded on it)."""
        d = dict(data)
        by_id = {id(r): r for r in self._resamplers.values()}
        for key in self.key_iterator(d):
            record = self.get_most_recent_transform(d, key, check=False)
            resampler = by_id.get(record.get("id"))
            if resampler is None:
                raise RuntimeError(f"ResampleInPlaned.inverse: {key!r} was not resampled by this transform")
            d[key] = resampler.inverse(d[key])
        return d
