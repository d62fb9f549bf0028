"""Loading of a short-axis stack (3D, or one frame of a 4D cine; NIfTI file or DICOM series folder) with checks that
name the file and the problem."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform

from custom_networks.utils.dicom import read_dicom_series
from custom_networks.utils.nifti import InputError, check_voxel_size, load_nifti

__all__ = ["LoadStackd"]


class LoadStackd(MapTransform):
    """Load a stack as a channel-first ``MetaTensor`` (1, X, Y, Z) in world coordinates, after checking it.

    A path is a NIfTI file (3D, or 4D ``(X, Y, Z, T)``) or a folder holding one DICOM series (one file per slice and
    phase; geometry from the headers, see :func:`custom_networks.utils.dicom.read_dicom_series`).

    Errors (:class:`~custom_networks.utils.InputError`, naming the file): missing, not NIfTI or corrupt file,
    2D image, 4D cine with several frames and no ``frame`` chosen, frame out of range, NaN/inf voxels, all-zero
    (constant) volume, absurd voxel size.

    Args:
        keys: keys holding file paths.
        frame: frame to take from a 4D cine (None: the image must have a single frame).
        allow_missing_keys: do not fail when a key is absent.
    """

    def __init__(self, keys: Sequence[Hashable] | Hashable, frame: int | None = None, allow_missing_keys: bool = False):
        super().__init__(keys, allow_missing_keys)
        self.frame = frame

    def _load(self, path: str) -> MetaTensor:
        if Path(path).is_dir():
            series = read_dicom_series(path, progress=False)
            data, affine = series.array, series.affine
            check_voxel_size(path, affine)
            if data.shape[3] == 1:
                data = data[..., 0]
        else:
            data, affine = load_nifti(path, ndim=(3, 4))
        if data.ndim == 4:
            frames = data.shape[3]
            if self.frame is None:
                if frames > 1:
                    raise InputError(f"{path}: 4D cine with {frames} frames; choose one with --frame (0..{frames - 1})")
                data = data[..., 0]
            elif not 0 <= self.frame < frames:
                raise InputError(f"{path}: frame {self.frame} out of range (the cine has {frames} frames)")
            else:
                data = data[..., self.frame]
        if min(data.shape) < 2:
            raise InputError(f"{path}: a 2D image (shape {data.shape}); a stack of at least 2 slices is needed")
        if float(data.max() - data.min()) <= 0:
            raise InputError(f"{path}: constant volume (every voxel is {float(data.flat[0])}): nothing to segment")
        meta = {
            "filename_or_obj": str(path),
            "original_affine": affine.copy(),
            "spatial_shape": np.asarray(data.shape),
        }
        if self.frame is not None:
            meta["frame"] = int(self.frame)
        return MetaTensor(torch.as_tensor(data[None], dtype=torch.float32), affine=torch.as_tensor(affine), meta=meta)

    def __call__(self, data: Mapping) -> dict:
        """Load every key (paths; an already loaded MetaTensor is passed through)."""
        d = dict(data)
        for key in self.key_iterator(d):
            if not isinstance(d[key], MetaTensor):
                d[key] = self._load(str(d[key]))
        return d
