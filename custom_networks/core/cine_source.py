"""A cine given by the user, opened without reading its voxels: a 4D NIfTI ``(X, Y, Z, T)``, a folder of per-frame 3D
NIfTI files, or a DICOM cine folder; frames counted, geometry and frame interval read, problems named."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from custom_networks.core.dicom import is_dicom_folder, read_dicom_series_cached
from custom_networks.core.errors import InputError
from custom_networks.core.nifti import NIFTI_SUFFIXES, frame_interval_ms, nifti_stem

__all__ = ["CineSource", "open_cine"]

logger = logging.getLogger(__name__)

#: Largest difference (mm) between the affines of two frames of one cine.
_AFFINE_TOLERANCE_MM = 1e-2


@dataclass
class CineSource:
    """Where the frames of a cine are and what they look like.

    Args:
        path: the input (file or folder).
        name: output name (the file name without extension, or the folder's name).
        kind: ``"nifti"`` (one 3D or 4D file), ``"frames"`` (a folder of per-frame 3D files) or ``"dicom"``.
        num_frames: ``T``.
        shape: spatial shape ``(X, Y, Z)``.
        affine: voxel-to-world affine (RAS, mm).
        frame_interval_ms: time between frames (None: unknown).
        frame_files: per frame, the file holding it.
        notes: what was noticed while opening (also logged).
    """

    path: Path
    name: str
    kind: str
    num_frames: int
    shape: tuple[int, int, int]
    affine: np.ndarray
    frame_interval_ms: float | None
    frame_files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def frame_item(self, t: int) -> dict:
        """Datalist item of frame ``t``: the file, and the frame index within it when the file holds several."""
        item: dict = {"image": str(self.frame_files[t])}
        if self.kind != "frames" and self.num_frames > 1:
            item["frame"] = t
        return item


def _header(path: Path):
    try:
        img = nib.load(str(path))
    except Exception as err:  # nibabel raises several types for foreign files
        raise InputError(f"{path}: not a readable NIfTI image ({err.__class__.__name__}: {err})") from err
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise InputError(f"{path}: expected a NIfTI image, got {type(img).__name__}")
    return img


def _interval_ms(path: Path, img) -> float | None:
    interval = frame_interval_ms(img)
    if interval is None:
        logger.warning(
            "%s: no frame interval in the header (pixdim[4] %g, unit %s); times are frame numbers unless given",
            path,
            float(img.header.get_zooms()[3]),
            img.header.get_xyzt_units()[1],
        )
    return interval


def _open_nifti(path: Path) -> CineSource:
    img = _header(path)
    shape = tuple(int(s) for s in img.shape)
    while len(shape) > 4 and shape[-1] == 1:
        shape = shape[:-1]
    notes = []
    if len(shape) == 3:
        frames = 1
        notes.append(f"{path}: a 3D image; read as a cine of one frame")
    elif len(shape) == 4:
        frames = shape[3]
        if frames == 0:
            raise InputError(f"{path}: 4D image with T = 0 frames")
    else:
        raise InputError(f"{path}: expected a 3D or 4D (X, Y, Z, T) image, got shape {shape}")
    return CineSource(
        path=path,
        name=nifti_stem(path),
        kind="nifti",
        num_frames=frames,
        shape=shape[:3],
        affine=np.asarray(img.affine, dtype=float),
        frame_interval_ms=_interval_ms(path, img) if frames > 1 else None,
        frame_files=[path] * frames,
        notes=notes,
    )


def _frame_number(path: Path) -> int | None:
    numbers = re.findall(r"\d+", nifti_stem(path))
    return int(numbers[-1]) if numbers else None


def _open_frames(folder: Path, files: list[Path]) -> CineSource:
    cines = [f.name for f in files if len(_header(f).shape) == 4]
    if cines:  # before reading digits in names as frame numbers: c4_cine, c8_cine are two subjects, not frames
        listed = ", ".join(cines[:3]) + (", ..." if len(cines) > 3 else "")
        raise InputError(
            f"{folder}: a folder of {len(cines)} 4D file(s) ({listed}), not of per-frame 3D files: give one cine "
            "file (python -m custom_networks.cohort runs a folder of cines)"
        )
    numbers = [_frame_number(f) for f in files]
    unnumbered = [f.name for f, n in zip(files, numbers, strict=True) if n is None]
    if unnumbered:
        raise InputError(
            f"{folder}: frame files must carry their frame number (e.g. frame_00.nii.gz); {unnumbered[0]} does not"
        )
    order = np.argsort(numbers, kind="stable")
    files = [files[i] for i in order]
    numbers = sorted(numbers)
    if len(set(numbers)) != len(numbers):
        dup = next(n for n in numbers if numbers.count(n) > 1)
        raise InputError(f"{folder}: two files carry frame number {dup}")
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        listed = ", ".join(str(m) for m in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise InputError(f"{folder}: missing frame(s) {listed} between {numbers[0]} and {numbers[-1]}")
    first = _header(files[0])
    shape, affine = tuple(int(s) for s in first.shape), np.asarray(first.affine, dtype=float)
    if len(shape) != 3:
        raise InputError(f"{files[0]}: a folder of frames must hold 3D files, got shape {shape}")
    for f in files[1:]:
        img = _header(f)
        if tuple(img.shape) != shape:
            raise InputError(f"{f}: frame shape {tuple(img.shape)} differs from {files[0].name}'s {shape}")
        corners = np.array([[i, j, k, 1.0] for i in (0, shape[0]) for j in (0, shape[1]) for k in (0, shape[2])])
        offset = np.abs(corners @ (np.asarray(img.affine) - affine).T).max()
        if offset > _AFFINE_TOLERANCE_MM:
            raise InputError(
                f"{f}: geometry (affine: spacing, orientation or position) differs from {files[0].name}'s "
                f"by up to {offset:.3g} mm; frames of one cine share one grid"
            )
    return CineSource(
        path=folder,
        name=folder.name,
        kind="frames",
        num_frames=len(files),
        shape=shape,
        affine=affine,
        frame_interval_ms=None,
        frame_files=files,
        notes=[f"{folder}: {len(files)} frame files, frames {numbers[0]}..{numbers[-1]}; no frame interval"],
    )


def open_cine(path: str | os.PathLike, series: str | int | None = None) -> CineSource:
    """Open a cine given by the user.

    Args:
        path: a 4D NIfTI (a 3D file is a cine of one frame, said in the log), a DICOM cine folder (one series), or a
            folder of per-frame 3D NIfTI files whose names carry the frame number (``frame_00.nii.gz``, ...;
            consecutive numbers, one shape and geometry).
        series: the series of a DICOM folder holding several (SeriesInstanceUID or SeriesNumber).

    Raises:
        InputError: missing path; unreadable file; T = 0; not 3D / 4D; a folder with no frames, unnumbered or
            missing frames, frames of different shapes or geometry; a DICOM folder holding several series or
            inconsistent slices (see :func:`~custom_networks.core.dicom.read_dicom_series`).
    """
    path = Path(str(path))
    if not path.exists():
        raise InputError(f"{path}: cine file or folder not found")
    if path.is_file():
        source = _open_nifti(path)
    elif is_dicom_folder(path):
        dicom = read_dicom_series_cached(path, series)
        source = CineSource(
            path=path,
            name=path.name,
            kind="dicom",
            num_frames=dicom.num_frames,
            shape=tuple(int(s) for s in dicom.array.shape[:3]),
            affine=dicom.affine,
            frame_interval_ms=dicom.frame_interval_ms,
            frame_files=[path] * dicom.num_frames,
            notes=list(dicom.notes),
        )
    else:
        files = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")]
        files = [p for p in files if p.name.endswith(NIFTI_SUFFIXES)]
        if not files:
            raise InputError(f"{path}: folder holds no DICOM series and no .nii/.nii.gz frame files")
        source = _open_frames(path, files)
    for note in source.notes:
        logger.info(note)
    return source
