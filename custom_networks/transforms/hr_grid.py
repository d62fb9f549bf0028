"""Resampling of an arbitrary short-axis stack onto the high-resolution grid the networks work on.

The slice axis is found from the geometry (the axis with the largest voxel size), never assumed; the HR grid
keeps the stack's orientation (its axes are the stack's axes, slice axis last), has the HR voxel size and
covers the stack's whole field of view. Interpolation is the one used to make the training inputs
(:func:`custom_networks.data.stack_to_hr`), so training and inference see the same kind of input.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform

from custom_networks.core.geometry import HR_SPACING, hr_grid_for, resample_channels_to_grid

__all__ = ["ResampleToHRGridd"]


class ResampleToHRGridd(MapTransform):
    """Resample channel-first stacks onto their HR grid (see :func:`hr_grid_for`) in world coordinates.

    The stack's own affine and shape are kept in the metadata (``lr_affine``, ``lr_shape``) so that outputs can
    be mapped back onto the acquired grid; ``spatial_shape`` and ``original_affine`` describe the HR grid.

    Args:
        keys: keys of channel-first ``MetaTensor`` stacks.
        hr_spacing: HR voxel size (mm).
        order: interpolation order (1 linear, as the training inputs; 3 cubic B-spline).
        allow_missing_keys: do not fail when a key is absent.
    """

    def __init__(
        self,
        keys: Sequence[Hashable] | Hashable,
        hr_spacing: Sequence[float] = HR_SPACING,
        order: int = 1,
        allow_missing_keys: bool = False,
    ):
        super().__init__(keys, allow_missing_keys)
        self.hr_spacing = tuple(float(s) for s in hr_spacing)
        self.order = order

    def __call__(self, data: Mapping) -> dict:
        """Resample every key."""
        d = dict(data)
        for key in self.key_iterator(d):
            img = d[key]
            affine = np.asarray(img.affine, dtype=float)
            array = np.asarray(img.detach().cpu())
            hr_shape, hr_affine, _ = hr_grid_for(array.shape[1:], affine, self.hr_spacing)
            channels = resample_channels_to_grid(array, affine, hr_shape, hr_affine, order=self.order)
            meta = {k: v for k, v in img.meta.items() if k != "affine"}
            # The HR grid becomes the case's reference space: tools that restore a prediction to "the original
            # image" (``spatial_shape`` / ``original_affine``, e.g. MONAI Label's Restored) then write it on this grid,
            # where it overlays the stack in world coordinates; the stack's own grid stays in lr_affine / lr_shape.
            meta.update(
                lr_affine=affine,
                lr_shape=np.asarray(array.shape[1:]),
                spatial_shape=np.asarray(hr_shape),
                original_affine=hr_affine,
            )
            d[key] = MetaTensor(torch.as_tensor(channels), affine=torch.as_tensor(hr_affine), meta=meta)
        return d
