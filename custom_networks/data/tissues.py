"""Tissue classes of the synthetic thorax and their mapping to the project's label convention."""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from scipy import ndimage

__all__ = [
    "BASIC_TISSUES",
    "DETAIL_TISSUES",
    "RENDERED_AS",
    "TISSUE_LABELS",
    "Tissue",
    "keep_largest_components",
    "tissue_to_label",
]


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
    # Classes of the detailed anatomy (``generate_subject(..., anatomy_detail="realistic")``).
    LV_PAPILLARY = 10  # papillary muscles and trabeculae in the LV cavity: muscle that is labelled LV blood pool
    RV_TRABECULAE = 11  # trabeculae in the RV cavity: muscle that is labelled RV
    BONE = 12  # marrow of the spine, ribs, sternum and humeri
    CORTEX = 13  # cortical bone (dark on every MR sequence)
    STOMACH = 14  # gastric contents (often bright on bSSFP)
    SPLEEN = 15
    FLUID = 16  # cerebrospinal fluid of the spinal canal
    BREAST = 17  # glandular breast tissue (inside breast fat)

    @property
    def key(self) -> str:
        """Name used in the domain presets' ``intensities``."""
        return self.name.lower()


#: Tissue classes of the basic anatomy (every generated dataset) and those that only the detailed anatomy paints.
BASIC_TISSUES = tuple(t for t in Tissue if t <= Tissue.SOFT)
DETAIL_TISSUES = tuple(t for t in Tissue if t > Tissue.SOFT)

#: Classes that look like another one on every sequence (the cavities' muscle is myocardium): they share its intensity,
#: so presets and random contrasts give them none of their own.
RENDERED_AS = {Tissue.LV_PAPILLARY: Tissue.LV_MYO, Tissue.RV_TRABECULAE: Tissue.LV_MYO}

#: Segmentation label of every tissue class: the cavities' muscle (papillary muscles, trabeculae) belongs to the blood
#: pool, as ACDC, M&Ms and the UK Biobank protocols draw it; everything that is not the ventricles is background.
TISSUE_LABELS = {
    Tissue.LV_BLOOD: 1,
    Tissue.LV_MYO: 2,
    Tissue.RV_BLOOD: 3,
    Tissue.LV_PAPILLARY: 1,
    Tissue.RV_TRABECULAE: 3,
}


def tissue_to_label(tissue: np.ndarray) -> np.ndarray:
    """Segmentation labels of a tissue map (1 LV blood pool incl. papillary muscles, 2 LV myocardium, 3 RV incl.
    trabeculae; everything else 0)."""
    lut = np.zeros(max(Tissue) + 1, dtype=np.uint8)
    for t, label in TISSUE_LABELS.items():
        lut[t] = label
    return lut[np.asarray(tissue).astype(np.intp)]


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
