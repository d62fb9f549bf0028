"""Random labelled 2D slices of a short-axis stack: the training samples of the slice segmenter."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.transforms import MapTransform, Randomizable

__all__ = ["RandLabelledSliced"]


class RandLabelledSliced(Randomizable, MapTransform):
    """Draw one slice of a stack among its labelled ones, as a 2D item ``(1, H, W)``.

    Reads what :class:`~custom_networks.transforms.LoadManualLabeld` adds: ``labelled_slices`` (bool per slice, the
    slices on which every labelled class was labelled; the others are never drawn: an unlabelled slice says nothing)
    and ``slice_axis``. The items keep ``labelled_classes`` and get ``slice_index``; geometry is dropped (2D
    training needs none once the stack is at the segmenter's in-plane spacing). One slice per call, so that the
    cropping transforms after it (``RandCropByPosNegLabeld``, which returns a list) keep a flat list of samples:
    draw several slices of a stack by sampling the stack several times.

    Args:
        keys: channel-first 3D keys to slice (image and label).
        annotation_key: the bool ``(num_slices,)`` key of the labelled slices.
        slice_axis_key: the key of the stack's slice axis (an array axis, 0-2).
        allow_missing_keys: do not fail when a key is absent.
    """

    def __init__(
        self,
        keys: Hashable | list[Hashable],
        annotation_key: str = "labelled_slices",
        slice_axis_key: str = "slice_axis",
        allow_missing_keys: bool = False,
    ):
        super().__init__(keys, allow_missing_keys)
        self.annotation_key = annotation_key
        self.slice_axis_key = slice_axis_key
        self._slice = 0

    def randomize(self, labelled: np.ndarray) -> None:
        """Choose the slice among the labelled ones."""
        candidates = np.flatnonzero(labelled)
        if candidates.size == 0:
            raise ValueError("stack without a labelled slice: nothing to draw")
        self._slice = int(self.R.choice(candidates))

    def __call__(self, data: Mapping) -> dict:
        """The drawn 2D item."""
        d = dict(data)
        self.randomize(np.asarray(d[self.annotation_key], bool))
        axis = int(d[self.slice_axis_key])
        item = {key: value for key, value in d.items() if key not in self.keys and key != self.annotation_key}
        for key in self.key_iterator(d):
            volume = d[key]
            volume = volume.as_tensor() if hasattr(volume, "as_tensor") else torch.as_tensor(volume)
            item[key] = volume.select(axis + 1, self._slice).clone()
        item["slice_index"] = self._slice
        return item
