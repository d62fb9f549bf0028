"""Cardiac function of a segmentation file: a 4D label map ``(X, Y, Z, T)`` read one frame at a time, or an ED + ES
pair of 3D label maps."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import nibabel as nib
import numpy as np

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import slice_axis_of, spacing_from_affine
from custom_networks.core.nifti import frame_interval_ms, load_nifti
from custom_networks.metrics.cardiac_cycle import FunctionResult, cardiac_function, volume_curves
from custom_networks.metrics.quality_control import QCResult, function_qc

__all__ = ["analyse_ed_es", "analyse_segmentation", "segmentation_frames"]

logger = logging.getLogger(__name__)


def _open(path: Path):
    if not path.is_file():
        raise InputError(f"{path}: segmentation file not found")
    try:
        img = nib.load(str(path), keep_file_open=True)  # frames read in order: no re-decompression from the start
    except Exception as err:  # nibabel raises several types for foreign files
        raise InputError(f"{path}: not a readable NIfTI label map ({err.__class__.__name__}: {err})") from err
    if len(img.shape) not in (3, 4):
        raise InputError(f"{path}: expected a 3D or 4D label map, got shape {img.shape}")
    return img


def segmentation_frames(path: str | os.PathLike):
    """Number of frames, voxel size (mm), frame interval (ms or None) and a frame reader of a label map file.

    Returns:
        ``(num_frames, spacing, frame_interval_ms, read)`` with ``read(t)`` the uint8 label map of frame ``t``.
    """
    path = Path(path)
    img = _open(path)
    frames = int(img.shape[3]) if len(img.shape) == 4 else 1
    if frames == 0:
        raise InputError(f"{path}: 4D label map with T = 0 frames")
    spacing = tuple(float(z) for z in img.header.get_zooms()[:3])
    interval = frame_interval_ms(img) if frames > 1 else None

    def read(t: int) -> np.ndarray:
        data = img.dataobj[..., t] if len(img.shape) == 4 else img.dataobj
        return np.rint(np.asarray(data)).astype(np.uint8)

    return frames, spacing, interval, read


def analyse_segmentation(
    seg_path: str | os.PathLike,
    frame_interval_ms: float | None = None,
    ed: int | None = None,
    es: int | None = None,
) -> tuple[FunctionResult, QCResult]:
    """Volume curves, ED / ES, indices and quality control of a 4D label map, one frame in memory at a time.

    Args:
        seg_path: label map (1 LV blood pool, 2 LV myocardium, 3 RV), 4D ``(X, Y, Z, T)`` with the slice axis last,
            as written by the 4D inference (a 3D file is one frame).
        frame_interval_ms: time between frames; default: the file's (:func:`~custom_networks.core.nifti.
            frame_interval_ms`; unknown: rates NaN with the reason).
        ed: ED frame instead of the largest LV volume.
        es: ES frame instead of the smallest LV volume.

    Returns:
        ``(function, qc)``.
    """
    frames, spacing, interval, read = segmentation_frames(seg_path)
    interval = frame_interval_ms if frame_interval_ms is not None else interval
    curves = volume_curves((read(t) for t in range(frames)), spacing)
    result = cardiac_function(curves, interval, ed=ed, es=es)
    if result.ed_frame is None:
        logger.warning("%s: ED not found (%s)", seg_path, result.ed_es_reason)
        ed_label = read(0)
    else:
        ed_label = read(result.ed_frame)
    es_label = None if result.es_frame is None else read(result.es_frame)
    return result, function_qc(ed_label, es_label, result, spacing)


def analyse_ed_es(ed_path: str | os.PathLike, es_path: str | os.PathLike) -> tuple[FunctionResult, QCResult]:
    """Indices and quality control from an ED and an ES 3D label map of one grid (no rates: two frames).

    Args:
        ed_path: end-diastolic label map.
        es_path: end-systolic label map.

    Raises:
        InputError: unreadable files, or the two grids differ.
    """
    ed, ed_affine = load_nifti(ed_path, ndim=(3,), dtype=np.float32)
    es, es_affine = load_nifti(es_path, ndim=(3,), dtype=np.float32)
    if ed.shape != es.shape or not np.allclose(ed_affine, es_affine, atol=1e-3):
        raise InputError(f"{es_path}: grid (shape / affine) differs from the ED label map {ed_path}")
    ed, es = np.rint(ed).astype(np.uint8), np.rint(es).astype(np.uint8)
    spacing = tuple(spacing_from_affine(ed_affine).tolist())
    curves = volume_curves([ed, es], spacing)
    result = cardiac_function(curves, None, ed=0, es=1)
    return result, function_qc(ed, es, result, spacing, slice_axis=slice_axis_of(ed_affine))
