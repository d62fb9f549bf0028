"""Partial labels as candidate sets: per voxel, the classes it may belong to."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.transforms import MapTransform

from custom_networks.core.labels import NUM_CLASSES

__all__ = ["LabelToCandidatesd", "label_candidates"]


def label_candidates(label: torch.Tensor, labelled_classes: torch.Tensor) -> torch.Tensor:
    """Candidate classes of every voxel of a partially labelled map.

    A voxel labelled with a labelled class ``c`` is ``{c}``. Any other voxel (0, or the value of a class that was
    not labelled on this map: garbage, never trusted) is background or one of the unlabelled classes: a voxel
    labelled 0 on a map that never drew the RV may be RV. With every class labelled this is the one-hot label.

    Args:
        label: ``(1, *spatial)`` integer label map.
        labelled_classes: bool ``(C,)``, the classes drawn on this map (index 0, background, True).

    Returns:
        ``(C, *spatial)`` float tensor of 0 / 1.
    """
    labelled = torch.as_tensor(labelled_classes, dtype=torch.bool).clone()
    labelled[0] = True
    lab = torch.as_tensor(label).long()[0]
    trusted = (lab > 0) & (lab < labelled.numel()) & labelled[lab.clamp(0, labelled.numel() - 1)]
    classes = torch.arange(labelled.numel(), device=lab.device).view(-1, *([1] * lab.ndim))
    exact = trusted[None] & (lab[None] == classes)
    unknown = ~labelled
    unknown[0] = True  # background, or a class never drawn on this map
    open_set = (~trusted)[None] & unknown.view(-1, *([1] * lab.ndim))
    return (exact | open_set).float()


class LabelToCandidatesd(MapTransform):
    """Replace a label map ``(1, ...)`` by its candidate sets ``(C, ...)`` (:func:`label_candidates`).

    Args:
        keys: label keys.
        labelled_classes_key: the bool ``(C,)`` key of the classes drawn (absent: every class).
        num_classes: number of classes, background included.
        allow_missing_keys: do not fail when a key is absent.
    """

    def __init__(
        self,
        keys: Hashable | list[Hashable] = "label",
        labelled_classes_key: str = "labelled_classes",
        num_classes: int = NUM_CLASSES,
        allow_missing_keys: bool = False,
    ):
        super().__init__(keys, allow_missing_keys)
        self.labelled_classes_key = labelled_classes_key
        self.num_classes = int(num_classes)

    def __call__(self, data: Mapping) -> dict:
        """Convert every key."""
        d = dict(data)
        classes = d.get(self.labelled_classes_key)
        if classes is None:
            classes = torch.ones(self.num_classes, dtype=torch.bool)
        for key in self.key_iterator(d):
            label = d[key]
            label = label.as_tensor() if hasattr(label, "as_tensor") else torch.as_tensor(label)
            d[key] = label_candidates(label, classes)
        return d
