"""Tissue classes of the synthetic thorax and their mapping to the project's label convention."""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = ["LABEL_NAMES", "Tissue", "tissue_to_label"]

#: Project label convention (DESIGN.md section 4).
LABEL_NAMES = {0: "background", 1: "LV blood pool", 2: "LV myocardium", 3: "RV"}


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
