"""The UK Digital Heart label-map folder (``ukdh_labelmaps``): high-resolution label maps (the data engine's real
anatomy) and HR / LR label pairs of one anatomy (the label floors a super-resolution method has to beat). Its maps use
4 for the RV (:data:`UKDH_LABEL_MAP`), read by :func:`custom_networks.core.label_maps.load_label`."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from custom_networks.core.errors import InputError

__all__ = [
    "UKDH_LABEL_MAP",
    "MAX_HR_SPACING_MM",
    "UKDH_REQUIRED_CLASSES",
    "FloorPair",
    "find_floor_pairs",
    "find_label_maps",
]

logger = logging.getLogger(__name__)

#: Largest through-plane voxel size (mm) for a label map to count as high resolution.
MAX_HR_SPACING_MM = 3.0
#: The folder's label values: the UK Digital Heart maps use 4 for the RV, mapped to 3 on reading.
UKDH_LABEL_MAP: dict[int, int] = {4: 3}
#: Classes every anatomy label map must hold: LV blood pool and LV myocardium.
UKDH_REQUIRED_CLASSES: tuple[int, ...] = (1, 2)


def find_label_maps(folder: str | Path) -> list[Path]:
    """High-resolution label maps under ``folder`` (recursively); low-resolution stacks are skipped.

    Raises:
        InputError: missing folder or no usable label map in it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: label-map folder not found")
    found, skipped = [], []
    for path in sorted(folder.rglob("*.nii*")):
        try:
            spacing = np.asarray(nib.load(str(path)).header.get_zooms()[:3], dtype=float)
        except Exception as err:
            raise InputError(f"{path}: not a readable NIfTI image ({err})") from err
        (found if spacing.max() <= MAX_HR_SPACING_MM else skipped).append(path)
    if skipped:
        logger.info("skipped %d low-resolution file(s) (slice spacing > %s mm)", len(skipped), MAX_HR_SPACING_MM)
    if not found:
        raise InputError(f"{folder}: no high-resolution label map (*.nii, *.nii.gz with voxels <= 3 mm) found")
    return found


@dataclass(frozen=True)
class FloorPair:
    """An HR label map and one LR label stack of the same anatomy.

    Args:
        name: short identifier, e.g. ``subject_1081/ED/LR_ds``.
        hr: HR label map file.
        lr: LR label stack file.
        motion: whether the LR stack simulates breath-hold misalignment (None: not stated by the data).
    """

    name: str
    hr: Path
    lr: Path
    motion: bool | None


def find_floor_pairs(folder: str | os.PathLike) -> list[FloorPair]:
    """HR / LR label pairs of the UK Digital Heart label-map folder (``ukdh_labelmaps``).

    Two layouts are recognised: a folder holding ``HR.nii.gz`` pairs with every ``*/data_clean.nii.gz`` under it
    (sub-folders named ``*motion*`` are misaligned stacks), and ``<prefix>_HR.nii.gz`` pairs with
    ``<prefix>_LR.nii.gz`` beside it (motion not stated).

    Args:
        folder: the label-map folder.

    Returns:
        The pairs, sorted by name.

    Raises:
        InputError: missing folder or no pair found.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: label-map folder not found")
    pairs = []
    for hr in sorted(folder.rglob("HR.nii*")):
        for lr in sorted(hr.parent.rglob("data_clean.nii*")):
            name = str(lr.parent.relative_to(folder))
            pairs.append(FloorPair(name, hr, lr, "motion" in lr.parent.name.lower()))
    for hr in sorted(folder.rglob("*_HR.nii*")):
        lr = hr.with_name(hr.name.replace("_HR.", "_LR."))
        if lr.is_file():
            name = str(lr.relative_to(folder)).split(".nii")[0]
            pairs.append(FloorPair(name, hr, lr, None))
    if not pairs:
        raise InputError(f"{folder}: no HR / LR label pair found (HR.nii.gz + */data_clean.nii.gz, or *_HR / *_LR)")
    return sorted(pairs, key=lambda p: p.name)
