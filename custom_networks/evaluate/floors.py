"""Label floors on real data: how well nearest-neighbour through-plane up-sampling of a low-resolution (LR) label
stack reproduces its high-resolution (HR) label map. A super-resolution method has to beat this.

Two protocols are implemented:

- ``"world"`` (the correct one): every HR voxel takes the label of the LR voxel nearest to it **in world
  coordinates** (through the two affines; beyond the first / last slice centre the nearest slice is repeated).
- ``"index"``: the LR array is zoomed to the HR array's shape by array index (``scipy.ndimage.zoom(order=0)``),
  ignoring the affines. This stretches the LR slice positions over the HR field of view and misplaces slices by up
  to one LR slice spacing; it is kept because it reproduces the floors quoted in ``shared/data/README.md``.

Label maps are read with :func:`custom_networks.data.load_label_map` (integer values only, RV = 4 mapped to 3);
the slice axis of each file is found from its geometry, never assumed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import resample_to_grid, slice_axis_of, spacing_from_affine
from custom_networks.core.labels import CLASS_NAMES
from custom_networks.core.overlap import dice_per_class as per_class_dice
from custom_networks.data.labelmaps import load_label_map
from custom_networks.evaluate.scores import segmentation_scores

__all__ = ["PROTOCOLS", "dice_per_class", "label_floor", "nn_upsample_labels"]

#: Up-sampling protocols of :func:`nn_upsample_labels`.
PROTOCOLS = ("world", "index")


def nn_upsample_labels(
    lr_label: np.ndarray,
    lr_affine: np.ndarray,
    hr_shape: Sequence[int],
    hr_affine: np.ndarray,
    protocol: str = "world",
) -> np.ndarray:
    """Nearest-neighbour up-sampling of an LR label stack onto an HR grid.

    Args:
        lr_label: LR label stack.
        lr_affine: its voxel-to-world affine.
        hr_shape: shape of the HR grid.
        hr_affine: affine of the HR grid.
        protocol: ``"world"`` (nearest voxel in world coordinates, the nearest slice repeated beyond the end
            slices) or ``"index"`` (``scipy.ndimage.zoom(order=0)`` of the array onto ``hr_shape`` after putting
            its slice axis where the HR grid's is; the affines' positions are ignored).

    Returns:
        The up-sampled label map (dtype of ``lr_label``) of shape ``hr_shape``.

    Raises:
        InputError: unknown protocol.
    """
    hr_shape = tuple(int(s) for s in hr_shape)
    if protocol == "world":
        return resample_to_grid(np.asarray(lr_label), lr_affine, hr_shape, hr_affine, order=0, mode="nearest")
    if protocol != "index":
        raise InputError(f"unknown up-sampling protocol {protocol!r} (choose from {', '.join(PROTOCOLS)})")
    lr_axis, hr_axis = slice_axis_of(lr_affine), slice_axis_of(hr_affine)
    moved = np.moveaxis(np.asarray(lr_label), lr_axis, hr_axis)
    zoom = [h / s for h, s in zip(hr_shape, moved.shape, strict=True)]
    return ndimage.zoom(moved, zoom, order=0)


def dice_per_class(pred: np.ndarray, ref: np.ndarray, classes: Sequence[int] = (1, 2, 3)) -> dict[str, float]:
    """3D Dice of each foreground class (NaN when the class is absent from both maps).

    Returns:
        ``{"dice_lv": ..., "dice_myo": ..., "dice_rv": ...}`` (names from :data:`CLASS_NAMES`).
    """
    return {f"dice_{CLASS_NAMES.get(c, f'class{c}')}": v for c, v in per_class_dice(pred, ref, classes).items()}


def _identical_slices(lr: np.ndarray, lr_affine: np.ndarray, hr: np.ndarray, hr_affine: np.ndarray) -> int:
    """Number of LR slices equal voxel for voxel to the HR label map sampled (nearest, world) on them."""
    # "nearest" mode: with "constant", points a rounding error outside the outermost voxel centre would read 0
    on_lr = resample_to_grid(hr, hr_affine, lr.shape, lr_affine, order=0, mode="nearest")
    axis = slice_axis_of(lr_affine)
    same = np.moveaxis(on_lr == lr, axis, -1).reshape(-1, lr.shape[axis]).all(axis=0)
    return int(same.sum())


def label_floor(
    hr: str | os.PathLike, lr: str | os.PathLike, protocol: str = "world", distances: bool = False
) -> dict[str, float]:
    """Scores of nearest-neighbour up-sampling of an LR label stack against its HR label map.

    Args:
        hr: HR label map file (values 0, 1, 2 and 3 or 4 for the RV; float values are rounded).
        lr: LR label stack file of the same anatomy.
        protocol: ``"world"`` or ``"index"`` (see :func:`nn_upsample_labels`).
        distances: also compute HD95 / MSD (mm) with :func:`~custom_networks.evaluate.segmentation_scores`.

    Returns:
        ``dice_lv``, ``dice_myo``, ``dice_rv`` (plus ``hd95_*`` and ``msd_*`` with ``distances``),
        ``lr_slices`` and ``identical_slices`` (LR slices equal to the HR map sampled on them in world
        coordinates: all of them for a pure down-sampling, fewer with motion).

    Raises:
        InputError: unreadable files or label values outside the convention.
    """
    hr_label, hr_affine = load_label_map(hr)
    lr_label, lr_affine = load_label_map(lr)
    up = nn_upsample_labels(lr_label, lr_affine, hr_label.shape, hr_affine, protocol)
    if distances:
        scores, _ = segmentation_scores(up, hr_label, spacing_from_affine(hr_affine))
    else:
        scores = dice_per_class(up, hr_label)
    axis = slice_axis_of(lr_affine)
    scores["lr_slices"] = float(lr_label.shape[axis])
    scores["identical_slices"] = float(_identical_slices(lr_label, lr_affine, hr_label, hr_affine))
    return scores
