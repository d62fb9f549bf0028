"""A manual label map brought onto its image's grid, in world coordinates, when it was drawn on another one."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import resample_to_grid, slice_axis_of

__all__ = ["LabelToImageGridd"]


class LabelToImageGridd(MapTransform):
    """Resample label maps (nearest neighbour, world coordinates) onto the image's grid when their grids differ.

    A label map saved in MONAI Label lies on the grid the viewer showed (the HR output, corrected by hand), not on
    the stack's; the slice segmenter trains on the stack's own slices. On the same grid (to 1e-3 mm) the label is
    passed through untouched. Voxels of the image outside the label's field of view become background.

    What :class:`~custom_networks.transforms.LoadManualLabeld` said of the label follows it: ``slice_axis`` becomes
    the image's, and ``labelled_slices`` every slice of the image. Partial labels (some slices labelled) must lie on
    the image's own grid: there is no telling which resampled slices they cover (refused, naming the file).

    Args:
        keys: label keys (``MetaTensor`` ``(1, ...)`` or ``(...)`` with their affine).
        image_key: the image whose grid the labels go to (a channel-first ``MetaTensor``).
        annotation_key: the labelled-slices key.
        slice_axis_key: the slice-axis key.
        allow_missing_keys: do not fail when a key is absent.
    """

    def __init__(
        self,
        keys: Hashable | list[Hashable] = "label",
        image_key: str = "image",
        annotation_key: str = "labelled_slices",
        slice_axis_key: str = "slice_axis",
        allow_missing_keys: bool = False,
    ):
        super().__init__(keys, allow_missing_keys)
        self.image_key = image_key
        self.annotation_key = annotation_key
        self.slice_axis_key = slice_axis_key

    def __call__(self, data: Mapping) -> dict:
        """Resample the labels that are not on the image's grid."""
        d = dict(data)
        image = d[self.image_key]
        shape, affine = tuple(image.shape[1:]), np.asarray(image.affine, dtype=float)
        for key in self.key_iterator(d):
            label = d[key]
            channel = label.ndim == len(shape) + 1
            spatial = tuple(label.shape[1:] if channel else label.shape)
            label_affine = np.asarray(label.affine, dtype=float)
            if spatial == shape and np.allclose(label_affine, affine, atol=1e-3):
                continue
            annotated = d.get(self.annotation_key)
            if annotated is not None and not bool(np.asarray(annotated).all()):
                raise InputError(
                    f"{label.meta.get('filename_or_obj', key)}: labelled on some slices only, on another grid than its"
                    " image: partial labels must lie on the image's own grid"
                )
            array = np.asarray(label[0] if channel else label)
            moved = resample_to_grid(array, label_affine, shape, affine, order=0, mode="constant", cval=0)
            moved = torch.as_tensor(moved[None] if channel else moved)
            meta = {k: v for k, v in label.meta.items() if k != "affine"}
            meta.update(spatial_shape=np.asarray(shape), original_affine=affine)
            d[key] = MetaTensor(moved, affine=torch.as_tensor(affine), meta=meta)
            axis = slice_axis_of(affine)
            if self.slice_axis_key in d:
                d[self.slice_axis_key] = axis
            if annotated is not None:
                d[self.annotation_key] = torch.ones(shape[axis], dtype=torch.bool)
        return d
