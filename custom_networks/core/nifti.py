"""NIfTI reading with clear errors, and writing that never leaves a half-written file or folder behind."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import nibabel as nib
import numpy as np

from custom_networks.core.errors import InputError, disk_full_error, is_disk_full

__all__ = [
    "NIFTI_SUFFIXES",
    "NiftiFrameWriter",
    "abort_open_writers",
    "OUTPUT_MARKER",
    "atomic_output_dir",
    "check_new_output_dir",
    "check_orthogonal",
    "check_output_folder",
    "check_voxel_size",
    "file_sha256",
    "frame_interval_ms",
    "load_nifti",
    "nifti_stem",
    "publish_mode",
    "put_in_place",
    "save_figure",
    "save_nifti",
    "write_text_atomic",
]

#: NIfTI file name endings.
NIFTI_SUFFIXES = (".nii.gz", ".nii")
#: NIfTI time units in milliseconds.
_TIME_UNIT_MS = {"sec": 1000.0, "msec": 1.0, "usec": 1e-3}

#: NIfTI intent code of a label map (NIFTI_INTENT_LABEL): viewers show it with a label colour table.
_INTENT_LABEL = 1002


def publish_mode(path: str | os.PathLike) -> None:
    """Give a file or folder made by ``tempfile`` (owner-only) the permissions a normal write would give it
    (``0o666`` / ``0o777`` masked by the umask), before it is renamed into place."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~umask)


@contextlib.contextmanager
def _atomic_file(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """A temporary file beside ``path`` to write; renamed onto ``path`` when the block ends, removed if it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        publish_mode(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if is_disk_full(err):
            raise disk_full_error(err, path) from err
        raise


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save a matplotlib figure as PNG atomically (temporary name, then rename) and close it."""
    import matplotlib.pyplot as plt

    try:
        with _atomic_file(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
    return Path(path)


def nifti_stem(path: str | os.PathLike) -> str:
    """A file's name without ``.nii.gz`` / ``.nii`` (a folder's name as it is): the stem of output names."""
    name = Path(str(path)).name
    for suffix in NIFTI_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def frame_interval_ms(img) -> float | None:
    """Time between frames of a 4D NIfTI image in ms, or None when the header does not say it.

    ``pixdim[4]`` in the header's time unit (sec, msec, usec). Unknown: a 3D image, no time unit, a non-positive
    value, or 1 with unit "sec" (the value nibabel and many converters write when they know nothing; no cine has one
    frame per second).
    """
    if len(img.shape) < 4:
        return None
    unit = img.header.get_xyzt_units()[1]
    step = float(img.header.get_zooms()[3])
    if unit not in _TIME_UNIT_MS or not np.isfinite(step) or step <= 0 or (unit == "sec" and step == 1.0):
        return None
    return step * _TIME_UNIT_MS[unit]


@functools.lru_cache(maxsize=1)
def _image_for_frames(path: str, state: tuple[int, int]):
    """The last file whose frames were read, kept open: frames read in order then decompress a gzipped file once,
    not from its start for every frame (``state``: size and modification time, so a changed file is reopened)."""
    return nib.load(path, keep_file_open=True)


def load_nifti(
    path: str | os.PathLike,
    ndim: tuple[int, ...] = (3,),
    allow_nan: bool = False,
    dtype=np.float32,
    frame: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read a NIfTI file and check it.

    Args:
        path: file to read.
        ndim: accepted numbers of dimensions (trailing singleton dimensions are dropped first).
        allow_nan: accept NaN/inf voxels.
        dtype: dtype of the returned array.
        frame: of a 4D ``(X, Y, Z, T)`` file, read only this frame (0-based; memory of one frame, not of the cine);
            ignored for a 3D file.

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
        if frame is None:
            img = nib.load(str(path))
        else:
            stat = path.stat()
            img = _image_for_frames(str(path.resolve()), (stat.st_size, stat.st_mtime_ns))
    except Exception as err:  # nibabel raises several types for foreign files
        raise InputError(f"{path}: not a readable NIfTI image ({err.__class__.__name__}: {err})") from err
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise InputError(f"{path}: expected a NIfTI image, got {type(img).__name__}")
    if frame is not None and len(img.shape) == 4:
        if not 0 <= int(frame) < img.shape[3]:
            raise InputError(f"{path}: frame {frame} out of range (the cine has {img.shape[3]} frames)")
    try:
        if frame is not None and len(img.shape) == 4:
            data = np.array(img.dataobj[..., int(frame)], dtype=dtype)  # a copy: the proxy may be read-only
        else:
            data = np.asarray(img.dataobj, dtype=dtype)
    except Exception as err:
        raise InputError(f"{path}: corrupt or truncated image data ({err.__class__.__name__}: {err})") from err
    while data.ndim > max(ndim) and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim not in ndim:
        raise InputError(f"{path}: expected a {' or '.join(f'{n}D' for n in ndim)} image, got shape {data.shape}")
    if not allow_nan and not np.all(np.isfinite(data)):
        where = f"frame {int(frame)} " if frame is not None and len(img.shape) == 4 else ""
        raise InputError(f"{path}: {where}contains {int((~np.isfinite(data)).sum())} NaN/inf voxels")
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
        put_in_place(tmp, path, overwrite)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if is_disk_full(err):
            raise disk_full_error(err, path) from err
        raise
    return path


def put_in_place(tmp: str | os.PathLike, path: str | os.PathLike, overwrite: bool) -> None:
    """Rename a finished temporary file onto its final name; without ``overwrite`` only if no file of that name
    exists at that moment (an atomic hard link), so of two writers at once only one succeeds.

    Args:
        tmp: the temporary file (in the same folder as ``path``).
        path: the final name.
        overwrite: replace an existing ``path``.

    Raises:
        InputError: ``path`` exists and ``overwrite`` is False.
    """
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError as err:
        raise InputError(f"{path}: exists (pass --overwrite True to replace it)") from err
    except OSError as err:  # no hard links on this file system: exclusive create, then replace
        if is_disk_full(err):
            raise
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError as err:
            raise InputError(f"{path}: exists (pass --overwrite True to replace it)") from err
        os.close(fd)
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex), read in blocks: the identity of weights in manifests and packages."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically (temporary name, then rename)."""
    with _atomic_file(path) as tmp, open(tmp, "w") as f:
        f.write(text)
    return Path(path)


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


#: Hidden file that :func:`atomic_output_dir` writes into every folder it creates (what wrote it, and when):
#: ``overwrite`` replaces only a folder holding it, never one of the user's.
OUTPUT_MARKER = ".custom_networks_output.json"
_CHOOSE = "choose a new or empty --out"


def _holds_cwd(folder: Path) -> bool:
    """Whether ``folder`` is the current working folder or one of its parents."""
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the working folder was deleted
        return False
    target = folder.resolve()
    return cwd == target or target in cwd.parents


def _marker_writer(folder: Path) -> str | None:
    """The ``writer`` recorded in ``folder``'s :data:`OUTPUT_MARKER` (None when absent or unreadable)."""
    import json

    try:
        writer = json.loads((folder / OUTPUT_MARKER).read_text()).get("writer")
    except (OSError, ValueError, AttributeError):
        return None
    return writer if isinstance(writer, str) else None


def _write_marker(folder: Path, writer: str | None) -> None:
    """Write :data:`OUTPUT_MARKER` into ``folder``: the package and version, ``writer``, the command line, the time."""
    import datetime
    import json
    import sys

    version = getattr(sys.modules.get("custom_networks"), "__version__", "")
    record = {
        "written_by": f"custom_networks {version}".strip(),
        "writer": writer,
        "command": list(sys.argv),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    (folder / OUTPUT_MARKER).write_text(json.dumps(record, indent=1) + "\n")


def check_new_output_dir(out_dir: str | os.PathLike, overwrite: bool = False, writer: str | None = None) -> Path:
    """Check, before any computation, that :func:`atomic_output_dir` may write ``out_dir`` (it checks again).

    A missing or empty folder is fine. A non-empty one is replaced only with ``overwrite``, only if it holds the
    :data:`OUTPUT_MARKER` that :func:`atomic_output_dir` wrote into it (from the same ``writer`` when one is given),
    and never when it is, or holds, the current working folder.

    Args:
        out_dir: final folder.
        overwrite: replace an existing non-empty ``out_dir`` written by this project.
        writer: name of what writes the folder (e.g. ``"custom_networks.evaluate"``); when given, a folder whose
            marker names another writer is not replaced.

    Returns:
        ``out_dir`` as an absolute path (``..`` removed, symbolic links kept).

    Raises:
        InputError: ``out_dir`` is a file, or a non-empty folder that may not be replaced (the message says why).
    """
    out_dir = Path(os.path.abspath(out_dir))
    if not out_dir.exists():
        return out_dir
    if not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    try:
        empty = not any(out_dir.iterdir())
    except OSError as err:
        raise InputError(f"{out_dir}: cannot read the output folder ({err.strerror or err})") from err
    if empty:
        return out_dir
    if _holds_cwd(out_dir):
        raise InputError(f"{out_dir}: is (or holds) the current working folder; never replaced: {_CHOOSE}")
    if not (out_dir / OUTPUT_MARKER).is_file():
        if overwrite:
            raise InputError(
                f"{out_dir}: exists and was not written by this project (no {OUTPUT_MARKER}); "
                f"--overwrite replaces only a folder this command wrote: {_CHOOSE}"
            )
        raise InputError(
            f"{out_dir}: folder exists and is not empty and was not written by this project (no {OUTPUT_MARKER}): "
            f"{_CHOOSE}"
        )
    found = _marker_writer(out_dir)
    if writer is not None and found != writer:
        raise InputError(
            f"{out_dir}: was written by {found or 'another command'}, not {writer}; "
            f"--overwrite replaces only a folder this command wrote: {_CHOOSE}"
        )
    if not overwrite:
        raise InputError(f"{out_dir}: folder exists and is not empty (pass --overwrite True to replace it)")
    return out_dir


@contextlib.contextmanager
def atomic_output_dir(out_dir: str | os.PathLike, overwrite: bool = False, writer: str | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside ``out_dir`` that replaces it only if the block completes.

    The finished folder gets a hidden :data:`OUTPUT_MARKER`; with ``overwrite``, an existing non-empty ``out_dir``
    is replaced only if it holds one (:func:`check_new_output_dir`): ``--overwrite`` replaces what this project
    wrote, never a folder of the user's, nor the current working folder or a folder holding it (an empty working
    folder is filled in place).

    Args:
        out_dir: final folder.
        overwrite: replace an existing non-empty ``out_dir`` written by this project (only after the new one is
            complete).
        writer: name of what writes the folder, recorded in the marker; when given, only a folder that the same
            writer wrote is replaced.

    Raises:
        InputError: ``out_dir`` may not be written (see :func:`check_new_output_dir`), or its parent is not writable.
    """
    out_dir = check_new_output_dir(out_dir, overwrite, writer)
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
        publish_mode(tmp)
    except OSError as err:
        raise InputError(f"{out_dir}: cannot write the output folder here ({err.strerror})") from err
    try:
        yield tmp
        _write_marker(tmp, writer)
        check_new_output_dir(out_dir, overwrite, writer)  # again: nothing of the user's appeared there meanwhile
        if out_dir.exists() and _holds_cwd(out_dir):  # the empty working folder: filled in place, never renamed
            for entry in sorted(tmp.iterdir(), key=lambda p: p.name == OUTPUT_MARKER):  # the marker last
                os.replace(entry, out_dir / entry.name)
            tmp.rmdir()
        elif out_dir.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=parent))
            os.replace(out_dir, trash / "old")
            os.replace(tmp, out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove_partial(file, raw, tmp: str) -> None:
    """Close an unfinished 4D file and remove it (never put in place)."""
    with contextlib.suppress(Exception):
        file.close()
        raw.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)


#: Writers not closed yet.
_OPEN_WRITERS: weakref.WeakSet = weakref.WeakSet()


def abort_open_writers() -> None:
    """Remove the temporary files of every :class:`NiftiFrameWriter` not closed yet (the one-line error handler
    calls it before it ends the process; at a normal exit, and when a writer is garbage-collected, each writer's own
    finalizer does it)."""
    for writer in list(_OPEN_WRITERS):
        writer.abort()


class NiftiFrameWriter:
    """Write a 4D NIfTI ``(X, Y, Z, T)`` one 3D frame at a time, so that memory does not grow with ``T``.

    A NIfTI array is stored with the first axis fastest, so each frame is one contiguous block after the header: the
    frames are streamed, in order, into a hidden temporary file beside ``path``, which :meth:`close` puts in place
    once all ``T`` frames are written (as :func:`save_nifti`: no file of that name at that moment unless
    ``overwrite``). :meth:`abort` (also run at process exit for a writer never closed) removes the temporary file,
    so an interrupted run leaves no partial output. Header fields are those :func:`save_nifti` writes (sform and
    qform, mm, the time step in ``pixdim[4]``, the label intent for label maps).

    Args:
        path: destination ``.nii.gz`` / ``.nii``.
        shape: spatial shape ``(X, Y, Z)`` of every frame.
        num_frames: ``T``.
        affine: voxel-to-world affine of the spatial axes.
        label: a label map (uint8, label intent).
        dtype: storage type of an image (default float32).
        time_step: time between frames (``time_unit``), or None when unknown (``pixdim[4]`` 1, time unit
            "unknown").
        time_unit: ``"msec"`` or ``"sec"``.
        overwrite: replace an existing file.

    Raises:
        InputError: ``path`` exists and ``overwrite`` is False (checked before anything is written).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        shape: Sequence[int],
        num_frames: int,
        affine: np.ndarray,
        label: bool = False,
        dtype=None,
        time_step: float | None = None,
        time_unit: str = "msec",
        overwrite: bool = False,
    ):
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise InputError(f"{self.path}: exists (pass --overwrite True to replace it)")
        self.shape = tuple(int(s) for s in shape)
        self.num_frames = int(num_frames)
        if len(self.shape) != 3 or self.num_frames < 1:
            raise ValueError(f"a 4D writer needs a 3D frame shape and T >= 1, got {self.shape} and {num_frames}")
        self.dtype = np.dtype(np.uint8 if label else (dtype or np.float32))
        self.overwrite = overwrite
        self.frames_written = 0
        affine = np.asarray(affine, dtype=float)
        header = nib.Nifti1Header()
        header.set_data_dtype(self.dtype)
        header.set_data_shape((*self.shape, self.num_frames))
        header.set_sform(affine, code=1)
        header.set_qform(affine, code=1)
        header.set_xyzt_units("mm", time_unit if time_step else "unknown")  # an unknown interval is not 1 ms
        spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
        header.set_zooms((*spacing.tolist(), float(time_step) if time_step else 1.0))
        if label:
            header.set_intent(_INTENT_LABEL)
        header["vox_offset"] = 352
        self.path.parent.mkdir(parents=True, exist_ok=True)
        suffix = ".nii.gz" if self.path.name.endswith(".gz") else ".nii"
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=suffix, dir=self.path.parent)
        raw = os.fdopen(fd, "wb")
        self._file = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) if suffix == ".nii.gz" else raw
        self._raw = raw
        # the temporary file goes with the writer: at abort, at garbage collection, or at process exit
        self._finalizer = weakref.finalize(self, _remove_partial, self._file, raw, self._tmp)
        _OPEN_WRITERS.add(self)
        try:
            self._file.write(header.binaryblock + b"\x00" * 4)  # 348-byte header, empty extension flag, data at 352
        except OSError as err:
            self.abort()
            if is_disk_full(err):
                raise disk_full_error(err, self.path) from err
            raise

    def write(self, frame: np.ndarray) -> None:
        """Append the next frame ``(X, Y, Z)`` (label maps are rounded; images cast to the storage type)."""
        frame = np.asarray(frame)
        if frame.shape != self.shape:
            raise ValueError(f"{self.path}: frame {self.frames_written} has shape {frame.shape}, expected {self.shape}")
        if self.frames_written >= self.num_frames:
            raise ValueError(f"{self.path}: all {self.num_frames} frames are already written")
        if self.dtype == np.uint8:
            frame = np.rint(frame)
        try:
            self._file.write(frame.astype(self.dtype).tobytes(order="F"))
        except OSError as err:
            if is_disk_full(err):
                self.abort()
                raise disk_full_error(err, self.path) from err
            raise
        self.frames_written += 1

    def close(self) -> Path:
        """Finish the file and put it in place.

        Raises:
            ValueError: fewer frames than ``T`` were written (the temporary file is removed).
            InputError: the destination appeared meanwhile and ``overwrite`` is False.
        """
        if self.frames_written != self.num_frames:
            self.abort()
            raise ValueError(f"{self.path}: {self.frames_written} of {self.num_frames} frames written; not saved")
        try:
            self._file.close()
            self._raw.close()
            publish_mode(self._tmp)
            put_in_place(self._tmp, self.path, self.overwrite)
        except BaseException as err:
            self.abort()
            if is_disk_full(err):
                raise disk_full_error(err, self.path) from err
            raise
        self._finalizer.detach()
        _OPEN_WRITERS.discard(self)
        return self.path

    def abort(self) -> None:
        """Stop writing and remove the temporary file (nothing is put in place)."""
        self._finalizer()
        _OPEN_WRITERS.discard(self)
