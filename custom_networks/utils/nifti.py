"""NIfTI reading with clear errors, and writing that never leaves a half-written file or folder behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np

__all__ = [
    "InputError",
    "atomic_output_dir",
    "check_voxel_size",
    "load_nifti",
    "publish_mode",
    "save_figure",
    "save_nifti",
]

#: NIfTI intent code of a label map (NIFTI_INTENT_LABEL): viewers show it with a label colour table.
_INTENT_LABEL = 1002


def publish_mode(path: str | os.PathLike) -> None:
    """Give a file or folder made by ``tempfile`` (owner-only) the permissions a normal write would give it
    (``0o666`` / ``0o777`` masked by the umask), before it is renamed into place."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~umask)


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save a matplotlib figure as PNG atomically (temporary name, then rename) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi)
        publish_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        plt.close(fig)
    return path


class InputError(ValueError):
    """A user-supplied file or argument is unusable; the message names it and says why."""


def load_nifti(
    path: str | os.PathLike, ndim: tuple[int, ...] = (3,), allow_nan: bool = False, dtype=np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Read a NIfTI file and check it.

    Args:
        path: file to read.
        ndim: accepted numbers of dimensions (trailing singleton dimensions are dropped first).
        allow_nan: accept NaN/inf voxels.
        dtype: dtype of the returned array.

    Returns:
        ``(array, affine)``.

    Raises:
        InputError: missing file, not a NIfTI file, unreadable/corrupt data, wrong dimensionality, non-finite
            voxels, or an affine that is singular or has absurd voxel sizes.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        img = nib.load(str(path))
    except Exception as err:  # nibabel raises several types for foreign files
        raise InputError(f"{path}: not a readable NIfTI image ({err.__class__.__name__}: {err})") from err
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise InputError(f"{path}: expected a NIfTI image, got {type(img).__name__}")
    try:
        data = np.asarray(img.dataobj, dtype=dtype)
    except Exception as err:
        raise InputError(f"{path}: corrupt or truncated image data ({err.__class__.__name__}: {err})") from err
    while data.ndim > max(ndim) and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim not in ndim:
        raise InputError(f"{path}: expected a {' or '.join(f'{n}D' for n in ndim)} image, got shape {data.shape}")
    if not allow_nan and not np.all(np.isfinite(data)):
        raise InputError(f"{path}: contains {int((~np.isfinite(data)).sum())} NaN/inf voxels")
    affine = np.asarray(img.affine, dtype=float)
    check_voxel_size(path, affine)
    return data, affine


def check_voxel_size(path: str | os.PathLike, affine: np.ndarray) -> None:
    """Refuse a singular or non-finite affine and voxel sizes outside 0.05-50 mm (``path`` names the input).

    Raises:
        InputError: naming ``path`` and the problem.
    """
    affine = np.asarray(affine, dtype=float)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise InputError(f"{path}: singular or non-finite affine")
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    if spacing.min() < 0.05 or spacing.max() > 50.0:
        raise InputError(f"{path}: absurd voxel size {np.round(spacing, 4).tolist()} mm (expected 0.05-50 mm)")


def save_nifti(
    array: np.ndarray,
    affine: np.ndarray,
    path: str | os.PathLike,
    label: bool = False,
    dtype=None,
    time_step: float | None = None,
    time_unit: str = "sec",
) -> Path:
    """Write ``array`` with ``affine`` (sform and qform, mm units) atomically: temporary name, then rename.

    Args:
        array: image (float32 unless ``dtype``) or label map (stored as uint8 with the NIfTI label intent); 3D, or
            4D ``(X, Y, Z, T)``.
        affine: voxel-to-world affine of the spatial axes.
        path: destination ``.nii.gz``/``.nii`` path.
        label: store as a label map.
        dtype: storage type of an image (default float32).
        time_step: time between frames of a 4D array (``pixdim[4]``, in ``time_unit``).
        time_unit: unit of ``time_step``: ``"sec"`` or ``"msec"``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.asarray(array).astype(np.uint8 if label else (dtype or np.float32))
    img = nib.Nifti1Image(data, np.asarray(affine, dtype=float))
    img.set_sform(np.asarray(affine, dtype=float), code=1)
    img.set_qform(np.asarray(affine, dtype=float), code=1)
    img.header.set_xyzt_units("mm", time_unit)
    if time_step is not None and data.ndim == 4:
        zooms = list(img.header.get_zooms())
        img.header.set_zooms((*zooms[:3], float(time_step)))
    if label:
        img.header.set_intent(_INTENT_LABEL)
    suffix = ".nii.gz" if path.name.endswith(".gz") else ".nii"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        nib.save(img, tmp)
        publish_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


@contextlib.contextmanager
def atomic_output_dir(out_dir: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out_dir`` that replaces it only if the block completes.

    Args:
        out_dir: final folder.
        overwrite: replace an existing non-empty ``out_dir`` (only after the new one is complete).

    Raises:
        InputError: ``out_dir`` exists and is not empty (without ``overwrite``), or its parent is not writable.
    """
    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise InputError(f"{out_dir}: folder exists and is not empty (pass --overwrite to replace it)")
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
        publish_mode(tmp)
    except OSError as err:
        raise InputError(f"{out_dir}: cannot write the output folder here ({err.strerror})") from err
    try:
        yield tmp
        if out_dir.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=parent))
            os.replace(out_dir, trash / "old")
            os.replace(tmp, out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
