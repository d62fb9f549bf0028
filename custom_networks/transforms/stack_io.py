"""Loading of a short-axis stack (3D, or one frame of a 4D cine; NIfTI file or DICOM series folder) with checks that
name the file and the problem."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform

from custom_networks.core.dicom import is_dicom_file, read_dicom_series_cached
from custom_networks.core.errors import InputError
from custom_networks.core.nifti import check_voxel_size, load_nifti

__all__ = ["MAX_LABEL_LEVELS", "LoadStackd"]

logger = logging.getLogger(__name__)


def _nifti_frames(path: str) -> int:
    """Frames of a NIfTI file from its header (1 for a 3D file); 1 when unreadable (load_nifti then says why)."""
    try:
        shape = nib.load(path).shape
    except Exception:  # the full load names the problem
        return 1
    return int(shape[3]) if len(shape) == 4 else 1


#: An image with at most this many distinct integer values is taken for a mask or label map and refused.
MAX_LABEL_LEVELS = 16


class LoadStackd(MapTransform):
    """Load a stack as a channel-first ``MetaTensor`` (1, X, Y, Z) in world coordinates, after checking it.

    A path is a NIfTI file (3D, or 4D ``(X, Y, Z, T)``) or a folder holding one DICOM series (one file per slice and
    phase; geometry from the headers, see :func:`custom_networks.core.dicom.read_dicom_series`).

    Errors (:class:`~custom_networks.core.errors.InputError`, naming the file): missing, not NIfTI or corrupt file,
    2D image, 4D cine with several frames and no ``frame`` chosen, frame out of range, NaN/inf voxels, all-zero
    (constant) volume, absurd voxel size, sheared affine, a mask or label map (at most :data:`MAX_LABEL_LEVELS`
    distinct integer values). A ``frame`` given for a 3D image is ignored with a warning (and not put in the
    metadata, so it does not enter output names).

    Args:
        keys: keys holding file paths.
        frame: frame to take from a 4D cine (None: the image must have a single frame).
        frame_key: item key that, when present and not None, gives the frame of that item instead of ``frame``
            (the per-frame items of a 4D cine run). A 4D NIfTI is then read one frame at a time; the DICOM series
            last read is kept in memory, so the frames of a DICOM cine are read from disk once.
        series: the series to read from a DICOM folder holding several (SeriesInstanceUID or SeriesNumber).
        allow_missing_keys: do not fail when a key is absent.
    """

    def __init__(
        self,
        keys: Sequence[Hashable] | Hashable,
        frame: int | None = None,
        frame_key: str = "frame",
        series: str | int | None = None,
        allow_missing_keys: bool = False,
    ):
        super().__init__(keys, allow_missing_keys)
        self.frame = frame
        self.frame_key = frame_key
        self.series = None if series is None else str(series)

    def _load(self, path: str, frame: int | None) -> MetaTensor:
        if Path(path).is_dir():
            series = read_dicom_series_cached(path, self.series)
            data, affine = series.array, series.affine  # shared with the cache: copied below, never changed
            check_voxel_size(path, affine)
            if data.shape[3] == 1:
                data = data[..., 0]
        elif not path.endswith((".nii", ".nii.gz")) and is_dicom_file(path):
            raise InputError(f"{path}: a single DICOM file; pass the folder holding the whole series")
        else:
            data, affine = load_nifti(path, ndim=(3, 4), frame=frame)
        frames_of_input = data.shape[3] if data.ndim == 4 else (_nifti_frames(path) if frame is not None else 1)
        if data.ndim == 4:
            frames = data.shape[3]
            if frame is None:
                if frames > 1:
                    raise InputError(f"{path}: 4D cine with {frames} frames; choose one with --frame (0..{frames - 1})")
                data = data[..., 0]
            elif not 0 <= frame < frames:
                raise InputError(f"{path}: frame {frame} out of range (the cine has {frames} frames)")
            else:
                data = data[..., frame]
        elif frame is not None and frames_of_input == 1:
            logger.warning("%s: a 3D image; --frame %d ignored", path, frame)
        if min(data.shape) < 2:
            raise InputError(f"{path}: a 2D image (shape {data.shape}); a stack of at least 2 slices is needed")
        if float(data.max() - data.min()) <= 0:
            raise InputError(f"{path}: constant volume (every voxel is {float(data.flat[0])}): nothing to segment")
        levels = np.unique(data[:: max(1, data.shape[0] // 64), :: max(1, data.shape[1] // 64)])
        if levels.size <= MAX_LABEL_LEVELS and np.all(np.mod(levels, 1) == 0):
            raise InputError(
                f"{path}: only {levels.size} distinct values ({', '.join(f'{v:g}' for v in levels[:6])}"
                f"{', ...' if levels.size > 6 else ''}): a mask or label map, not an MR image"
            )
        meta = {
            "filename_or_obj": str(path),
            "original_affine": affine.copy(),
            "spatial_shape": np.asarray(data.shape),
        }
        if frame is not None and frames_of_input > 1:
            meta["frame"] = int(frame)
        # a copy: the voxels must not share memory with the DICOM series cache (transforms may work in place)
        voxels = torch.tensor(np.ascontiguousarray(data[None]), dtype=torch.float32)
        return MetaTensor(voxels, affine=torch.as_tensor(affine), meta=meta)

    def __call__(self, data: Mapping) -> dict:
        """Load every key (paths; an already loaded MetaTensor is passed through)."""
        d = dict(data)
        frame = d.get(self.frame_key)
        frame = self.frame if frame is None else int(frame)
        for key in self.key_iterator(d):
            if not isinstance(d[key], MetaTensor):
                d[key] = self._load(str(d[key]), frame)
        return d
