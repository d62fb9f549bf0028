"""A predicted label map brought onto a manual label map's grid, both restricted to what the manual label annotates:
how a prediction on the HR grid is scored against labels of a real stack (validation of fine-tuning on real
stacks)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform

from custom_networks.core.geometry import labels_on_native_grid
from custom_networks.core.labels import NUM_CLASSES

__all__ = ["ToLabelGridd"]


class ToLabelGridd(MapTransform):
    """Bring discrete predictions onto the label's grid in world coordinates and keep only annotated voxels.

    The prediction (``(1, X, Y, Z)`` label values with its own affine, e.g. the HR grid) is sampled at the label map's
    voxels (:func:`custom_networks.core.geometry.labels_on_native_grid`, ``profile`` ``"centre"`` or
    ``"slab"``). Then, in both prediction and label, slices outside ``labelled_slices`` become background and classes
    outside ``labelled_classes`` become background (a class never drawn cannot be scored). The label gets a channel:
    both come out ``(1, x, y, z)`` on the label's grid, ready for ``AsDiscreted(to_onehot=...)`` and ``MeanDice``.

    Args:
        keys: prediction key(s).
        label_key: the manual label map (``LoadManualLabeld``'s output).
        annotation_key: the ``labelled_slices`` mask (``LoadManualLabeld``'s output).
        classes_key: the ``labelled_classes`` mask.
        profile: ``"centre"`` (nearest at voxel centres) or ``"slab"`` (vote over the slice profile).
        num_classes: number of classes, background included.
        allow_missing_keys: do not fail when a key is absent.
    """

    def __init__(
        self,
        keys: Sequence[Hashable] | Hashable = "pred",
        label_key: str = "label",
        annotation_key: str = "labelled_slices",
        classes_key: str = "labelled_classes",
        profile: str = "centre",
        num_classes: int = NUM_CLASSES,
        allow_missing_keys: bool = False,
    ):
        super().__init__(keys, allow_missing_keys)
        self.label_key = label_key
        self.annotation_key = annotation_key
        self.classes_key = classes_key
        self.profile = profile
        self.num_classes = num_classes

    def _restrict(self, label: np.ndarray, slices: np.ndarray, classes: np.ndarray, axis: int) -> np.ndarray:
        out = np.where(classes[np.clip(label, 0, self.num_classes - 1)], label, 0)
        shape = [1] * out.ndim
        shape[axis] = -1
        return np.where(slices.reshape(shape), out, 0)

    def __call__(self, data: Mapping) -> dict:
        """Map every prediction key, then the label."""

        d = dict(data)
        label = d[self.label_key]
        if label.ndim == 4:  # already given a channel by an earlier call
            label = label[0]
        label_affine = np.asarray(label.affine, dtype=float)
        ref = np.asarray(label.detach().cpu()).astype(np.int64)
        slices = np.asarray(d[self.annotation_key], dtype=bool)
        classes = np.asarray(d[self.classes_key], dtype=bool)
        axis = int(d.get("slice_axis", ref.ndim - 1))
        for key in self.key_iterator(d):
            pred = d[key]
            pred_affine = np.asarray(pred.affine, dtype=float)
            array = np.asarray(pred.detach().cpu())[0].astype(np.int64)
            on_grid = labels_on_native_grid(
                array, pred_affine, ref.shape, label_affine, profile=self.profile, num_classes=self.num_classes
            ).astype(np.int64)
            restricted = self._restrict(on_grid, slices, classes, axis)
            d[key] = MetaTensor(torch.as_tensor(restricted[None]), affine=torch.as_tensor(label_affine))
        d[self.label_key] = MetaTensor(
            torch.as_tensor(self._restrict(ref, slices, classes, axis)[None]), affine=torch.as_tensor(label_affine)
        )
        return d
