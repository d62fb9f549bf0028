"""In-plane resampling of short-axis stacks to a fixed voxel size, keeping the slices where they were acquired."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.transforms import InvertibleTransform, MapTransform, Spacing
from monai.utils import ensure_tuple_rep

from custom_networks.core.geometry import slice_axis_of

__all__ = ["ResampleInPlaned"]


class ResampleInPlaned(MapTransform, InvertibleTransform):
    """Resample channel-first stacks in-plane to ``spacing`` mm; the slice axis (largest voxel size) is untouched.

    MONAI's :class:`~monai.transforms.Spacing` does the work in world coordinates (orientation and field of view
    kept, oblique stacks included), so ``Invertd`` brings a prediction back onto the acquired grid.

    Args:
        keys: keys of channel-first ``MetaTensor`` stacks (the first key's affine decides the slice axis).
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
        # one Spacing per slice axis and mode, kept: MONAI's inverse checks that the instance that resampled a
        # tensor is the one that restores it
        self._spacings: dict[tuple[tuple[float, ...], str], Spacing] = {}

    def _spacing(self, pixdim: tuple[float, ...], mode: str) -> Spacing:
        key = (pixdim, mode)
        if key not in self._spacings:
            self._spacings[key] = Spacing(pixdim=pixdim, mode=mode, padding_mode="border")
        return self._spacings[key]

    def _pixdim(self, affine: torch.Tensor | np.ndarray) -> tuple[float, float, float]:
        axis = slice_axis_of(np.asarray(affine, dtype=float))
        return tuple(-1.0 if a == axis else self.spacing for a in range(3))

    def __call__(self, data: Mapping) -> dict:
        """Resample every key on the grid the first key's geometry gives."""
        d = dict(data)
        pixdim = None
        for key, mode in self.key_iterator(d, self.mode):
            if pixdim is None:
                pixdim = self._pixdim(d[key].affine)
            d[key] = self._spacing(pixdim, mode)(d[key])
        return d

    def inverse(self, data: Mapping) -> dict:
        """Bring every key back onto the grid it had before (the transform recorded by ``Spacing``)."""
        d = dict(data)
        # Spacing records its inner SpatialResample
        by_id = {id(spacing.sp_resample): spacing for spacing in self._spacings.values()}
        for key in self.key_iterator(d):
            record = self.get_most_recent_transform(d, key, check=False)
            spacing = by_id.get(record.get("id"))
            if spacing is None:
                raise RuntimeError(f"ResampleInPlaned.inverse: {key!r} was not resampled by this transform")
            d[key] = spacing.inverse(d[key])
        return d
