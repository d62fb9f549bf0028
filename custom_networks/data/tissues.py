"""Tissue classes of the synthetic thorax and their mapping to the project's label convention."""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from scipy import ndimage

from custom_networks.core.labels import LABEL_NAMES

__all__ = ["LABEL_NAMES", "Tissue", "keep_largest_components", "tissue_to_label"]


class Tissue(IntEnum):
    """Tissue classes rendered by the data engine. Values 1-3 coincide with the segmentation labels."""

    AIR = 0
    LV_BLOOD = 1
    LV_MYO = 2
    RV_BLOOD = 3
    OTHER_BLOOD = 4  # atria, great vessels, descending aorta: bright but not labelled
    LUNG = 5
    FAT = 6
    MUSCLE = 7  # chest wall, RV free wall, pericardium
    LIVER = 8
    SOFT = 9  # mediastinum / generic soft tissue inside the body

    @property
    def key(self) -> str:
        """Name used in the domain presets' ``intensities``."""
        return self.name.lower()


def tissue_to_label(tissue: np.ndarray) -> np.ndarray:
    """Keep the three cardiac classes (1 LV blood pool, 2 LV myocardium, 3 RV); everything else -> 0."""
    out = np.where((tissue >= Tissue.LV_BLOOD) & (tissue <= Tissue.RV_BLOOD), tissue, 0)
    return out.astype(np.uint8)


def keep_largest_components(tissue: np.ndarray, replacement: int = Tissue.MUSCLE) -> np.ndarray:
    """Keep only the largest connected component of each cardiac class (in place); stray voxels that a deformation
    cut off (e.g. at the truncated base) become ``replacement`` tissue, so labels are never broken into pieces."""
    for cls in (Tissue.LV_BLOOD, Tissue.LV_MYO, Tissue.RV_BLOOD):
        components, n = ndimage.label(tissue == cls)
        if n > 1:
            sizes = np.bincount(components.ravel())
            sizes[0] = 0
            tissue[(components > 0) & (components != int(np.argmax(sizes)))] = replacement
    return tissue
