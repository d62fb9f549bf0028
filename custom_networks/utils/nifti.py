"""NIfTI reading with clear errors, and writing that never leaves a half-written file or folder behind."""

from __future__ import annotations

import contextlib
import logging
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
    "check_orthogonal",
    "check_output_folder",
    "check_voxel_size",
    "load_nifti",
    "publish_mode",
    "save_figure",
    "save_nifti",
    "write_text_atomic",
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
    check_orthogonal(path, affine)
    _warn_qform_sform(path, img)
    return data, affine


#: Largest qform / sform disagreement (mm, at any corner of the image) accepted without a warning.
QFORM_SFORM_TOLERANCE_MM = 1.0
#: Largest cosine between two voxel axes of an accepted affine (about 0.6 degrees from orthogonal).
SHEAR_TOLERANCE = 1e-2


def check_orthogonal(path: str | os.PathLike, affine: np.ndarray) -> None:
    """Refuse a sheared (non-orthogonal) affine: its voxel axes cannot be written as a NIfTI qform, so viewers would
    disagree on where the image is, and the short-axis geometry would be wrong.

    Raises:
        InputError: naming ``path`` and the angle between the axes.
    """
    columns = np.asarray(affine, float)[:3, :3]
    unit = columns / np.linalg.norm(columns, axis=0)
    cosines = np.abs(unit.T @ unit - np.eye(3))
    if cosines.max() > SHEAR_TOLERANCE:
        a, b = np.unravel_index(int(np.argmax(cosines)), cosines.shape)
        angle = float(np.degrees(np.arccos(np.clip(abs(unit[:, a] @ unit[:, b]), 0, 1))))
        raise InputError(
            f"{path}: sheared affine (voxel axes {a} and {b} are {angle:.1f} degrees apart, not 90): resample it "
            "onto an orthogonal grid first"
        )


def _warn_qform_sform(path: Path, img) -> None:
    """Log a warning when the file's qform and sform (both set) place the image differently."""
    header = img.header
    qform, qcode = header.get_qform(coded=True)
    sform, scode = header.get_sform(coded=True)
    if qform is None or sform is None or not qcode or not scode:
        return
    shape = np.asarray(img.shape[:3], float) - 1
    corners = np.array([[i, j, k, 1.0] for i in (0, shape[0]) for j in (0, shape[1]) for k in (0, shape[2])])
    gap = float(np.abs(corners @ (np.asarray(qform) - np.asarray(sform)).T)[:, :3].max())
    if gap > QFORM_SFORM_TOLERANCE_MM:
        logging.getLogger(__name__).warning(
            "%s: qform and sform disagree by up to %.1f mm; using the sform (as nibabel and ITK-SNAP do); "
            "check the file's geometry",
            path,
            gap,
        )


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
    overwrite: bool = True,
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
        overwrite: replace an existing file; when False the file is put in place only if no file of that name
            exists at that moment (an atomic hard link), so of two writers at once only one succeeds.

    Raises:
        InputError: ``path`` exists and ``overwrite`` is False.
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
        _put_in_place(tmp, path, overwrite)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def _put_in_place(tmp: str | os.PathLike, path: Path, overwrite: bool) -> None:
    """Rename ``tmp`` to ``path``; without ``overwrite`` only if ``path`` does not exist (atomically)."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError as err:
        raise InputError(f"{path}: exists (pass --overwrite True to replace it)") from err
    except OSError:  # no hard links on this file system: exclusive create, then replace
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError as err:
            raise InputError(f"{path}: exists (pass --overwrite True to replace it)") from err
        os.close(fd)
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically (temporary name, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        publish_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def check_output_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and check, before any computation, that files can be written in it.

    Raises:
        InputError: it is a file, cannot be created, or is not writable (read-only file system, permissions).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: output folder is an existing file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise InputError(f"{folder}: cannot write the output folder here ({err.strerror or err})") from err
    return folder


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
