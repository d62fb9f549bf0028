"""Loading of a manual label map of a real stack for training, with what it annotates (classes, slices).

The label map stays on its own grid (the stack's, usually): it is never resampled, because a manual label of a thick
slice has no high-resolution version. The loss (:class:`custom_networks.losses.LabelledSliceLoss`) brings the
network's HR prediction onto it in world coordinates instead.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import slice_axis_of
from custom_networks.core.label_maps import load_label, read_annotation
from custom_networks.core.labels import NUM_CLASSES

__all__ = ["LoadManualLabeld"]


class LoadManualLabeld(MapTransform):
    """Load a manual label map as a ``MetaTensor`` ``(x, y, z)`` (no channel) with its affine, and describe it.

    Adds to the item:

    - ``labelled_slices``: bool ``(num_slices,)``, the slices on which every labelled class was labelled (all slices
      without a labelled-slices sidecar);
    - ``labelled_classes``: bool ``(num_classes,)``, the classes that were labelled (index 0, background, is True);
    - ``slice_axis``: the label map's slice axis (the axis of largest voxel size).

    A label map is refused (:class:`~custom_networks.core.errors.InputError`, naming the file) when it is not 3D, holds
    values outside ``0..num_classes-1``, or holds none of its labelled classes on its labelled slices: an empty
    label map would train nothing, silently.

    Args:
        keys: the label key (one).
        annotation_key: item key of the optional ``<case>_labelled_slices.json`` (absent or None: fully labelled).
        num_classes: number of classes, background included.
        label_map_key: item key of the optional label value -> project class mapping of the item's dataset layout
            (e.g. ACDC's ``{"1": 3, "3": 1}``, written by :mod:`custom_networks.datalists`), applied when reading.
        frame_key: item key of the frame to take from a 4D label map (M&Ms labels ED and ES in one 4D file).
        allow_missing_keys: do not fail when the label key is absent.
    """

    def __init__(
        self,
        keys: Hashable = "label",
        annotation_key: str = "labelled_slices",
        num_classes: int = NUM_CLASSES,
        label_map_key: str = "label_map",
        frame_key: str = "frame",
        allow_missing_keys: bool = False,
    ):
        super().__init__(keys, allow_missing_keys)
        if len(self.keys) != 1:
            raise ValueError(f"LoadManualLabeld reads one label key, got {self.keys}")
        self.annotation_key = annotation_key
        self.num_classes = num_classes
        self.label_map_key = label_map_key
        self.frame_key = frame_key

    def __call__(self, data: Mapping) -> dict:
        """Load the label map and add its annotation."""
        d = dict(data)
        for key in self.key_iterator(d):
            path = str(d[key])
            mapping = d.get(self.label_map_key) or None
            frame = d.get(self.frame_key)
            mapping = None if mapping is None else {int(k): int(v) for k, v in mapping.items()}
            label, affine = load_label(path, mapping, frame=None if frame is None else int(frame))
            if label.ndim != 3:
                raise InputError(f"{path}: a {label.ndim}D label map; a 3D manual label map of one stack is needed")
            axis = slice_axis_of(affine)
            sidecar = d.get(self.annotation_key)
            annotation = read_annotation(None if sidecar in (None, "") else str(sidecar), axis, label.shape[axis])
            slices = annotation.fully_labelled_slices()
            classes = np.zeros(self.num_classes, bool)
            classes[0] = True
            for c in range(1, self.num_classes):
                classes[c] = annotation.labelled(c)
            on_slices = np.take(label, np.flatnonzero(slices), axis=axis)
            if not any((on_slices == c).any() for c in np.flatnonzero(classes[1:]) + 1):
                raise InputError(f"{path}: manual label is empty on its labelled slices (nothing to learn from)")
            meta = {"filename_or_obj": path, "original_affine": affine, "spatial_shape": np.asarray(label.shape)}
            d[key] = MetaTensor(torch.as_tensor(label.astype(np.int64)), affine=torch.as_tensor(affine), meta=meta)
            d[self.annotation_key] = torch.as_tensor(slices)
            d["labelled_classes"] = torch.as_tensor(classes)
            d["slice_axis"] = axis
        return d
