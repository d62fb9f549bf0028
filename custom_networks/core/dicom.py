"""Reading a short-axis cine series from a folder of DICOM files (one file per slice and phase, as scanners export
it) into a 4D array ``(X, Y, Z, T)`` with a NIfTI (RAS) affine, and writing it as NIfTI.

DICOM headers and pixel data are read with ITK's GDCM I/O (``itk.GDCMImageIO``); the grouping of files into
slices and phases is done here because ITK's series reader builds one 3D volume per series and has no notion of
cardiac phases. Geometry comes from the headers only, never from file names:

- **orientation** from ImageOrientationPatient (row direction = direction of increasing column index, column
  direction = of increasing row index); array axes are ``X`` = image column, ``Y`` = image row, ``Z`` = slice,
  ``T`` = phase;
- **slice order** by the position (ImagePositionPatient) projected onto the slice normal ``row x column``, so
  ``k = 0`` is the slice with the smallest such position; the slice spacing is the distance between these
  positions (not SliceThickness / SpacingBetweenSlices, which scanners fill inconsistently);
- **phases** grouped per slice position and ordered by TriggerTime (then InstanceNumber); the frame interval is
  the mean difference of consecutive trigger times, averaged over slices;
- the affine maps ``(i, j, k)`` to LPS millimetres and is converted to RAS (the NIfTI convention).

What would give a silently wrong geometry is refused with an :class:`~custom_networks.core.errors.InputError` naming the
folder and the problem: several series in one folder (choose one with ``series``), files of different orientation
(e.g. a localiser) or matrix size, slice positions offset in-plane (gantry tilt, sheared stack), non-uniform slice
spacing (a missing slice), slices with different numbers of phases, two files at one position and trigger time,
unreadable or non-image files.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from custom_networks.core.errors import InputError
from custom_networks.core.itk_bridge import RAS_TO_LPS
from custom_networks.core.nifti import save_nifti

__all__ = [
    "DicomSeries",
    "check_output_file",
    "dicom_files",
    "is_dicom_file",
    "is_dicom_folder",
    "list_dicom_series",
    "read_dicom_series",
    "read_dicom_series_cached",
    "save_cine",
]

logger = logging.getLogger(__name__)

#: DICOM tags read from every file (group|element, lower case as ITK reports them).
TAGS = {
    "series_uid": "0020|000e",
    "series_number": "0020|0011",
    "description": "0008|103e",
    "instance": "0020|0013",
    "position": "0020|0032",
    "orientation": "0020|0037",
    "pixel_spacing": "0028|0030",
    "rows": "0028|0010",
    "columns": "0028|0011",
    "trigger_time": "0018|1060",
    "gantry_tilt": "0018|1120",
}
#: LPS (DICOM) -> RAS (NIfTI) world coordinates (the flip is its own inverse).
LPS_TO_RAS = RAS_TO_LPS
#: Relative tolerance on the slice spacing (a deviation beyond it is non-uniform spacing).
SPACING_TOLERANCE = 0.01
#: Tolerance (mm) on an in-plane offset between slice positions and on orientation cosines (unit-less).
POSITION_TOLERANCE_MM = 0.05
ORIENTATION_TOLERANCE = 1e-3


@dataclass
class _Header:
    path: Path
    series_uid: str
    series_number: str
    description: str
    instance: int | None
    position: np.ndarray
    orientation: np.ndarray
    pixel_spacing: np.ndarray
    rows: int
    columns: int
    trigger_time: float | None
    gantry_tilt: float


@dataclass
class DicomSeries:
    """A cine (or single-phase) short-axis series read from DICOM files.

    Args:
        array: voxels ``(X, Y, Z, T)`` (X = image column, Y = image row, Z = slice along the normal, T = phase), float32
            with the files' rescale slope / intercept applied.
        affine: voxel-to-world affine in RAS millimetres (NIfTI convention) of the ``(X, Y, Z)`` axes.
        frame_interval_ms: mean time between consecutive phases (ms); None for a single phase or without TriggerTime.
        trigger_times_ms: TriggerTime per slice and phase ``(Z, T)`` (NaN where absent).
        files: file of every slice and phase, ``files[k][t]``.
        folder: the folder read.
        series_uid: SeriesInstanceUID.
        description: SeriesDescription (may be empty).
        integer_valued: every voxel is an integer (the file can be written as int16 without loss when in range).
        notes: what was noticed and handled while reading (logged too).
    """

    array: np.ndarray
    affine: np.ndarray
    frame_interval_ms: float | None
    trigger_times_ms: np.ndarray
    files: list[list[Path]]
    folder: Path
    series_uid: str
    description: str = ""
    integer_valued: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        """Number of phases ``T``."""
        return int(self.array.shape[3])

    @property
    def spacing(self) -> np.ndarray:
        """Voxel size (mm) of the ``X``, ``Y``, ``Z`` axes."""
        return np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))

    def frame(self, index: int) -> np.ndarray:
        """The 3D stack ``(X, Y, Z)`` of phase ``index`` (0-based).

        Raises:
            InputError: ``index`` out of range.
        """
        if not 0 <= index < self.num_frames:
            raise InputError(f"{self.folder}: frame {index} out of range (the series has {self.num_frames} frames)")
        return self.array[..., index]


def _itk():
    import itk

    return itk


def _floats(text: str, n: int, path: Path, name: str) -> np.ndarray:
    try:
        values = np.asarray([float(v) for v in text.replace(" ", "").split("\\") if v != ""], dtype=float)
    except ValueError as err:
        raise InputError(f"{path}: unreadable {name} {text!r}") from err
    if values.size != n or not np.all(np.isfinite(values)):
        raise InputError(f"{path}: {name} must hold {n} numbers, got {text!r}")
    return values


def _check_readable(path: Path) -> None:
    """Refuse a file this process may not read, before ITK (which only says it cannot read it as DICOM) sees it.

    Raises:
        InputError: ``<path>: permission denied``, or the operating system's reason for another read error.
    """
    try:
        with open(path, "rb") as f:
            f.read(1)
    except PermissionError as err:
        raise InputError(f"{path}: permission denied (the file cannot be read; check its permissions)") from err
    except OSError as err:
        raise InputError(f"{path}: cannot be read ({err.strerror or err})") from err


def _read_header(path: Path) -> _Header | None:
    """Header of one file, or None when ITK cannot read it as DICOM.

    Raises:
        InputError: the file cannot be read (permission denied, I/O error) or is a corrupt DICOM file.
    """
    _check_readable(path)
    itk = _itk()
    io = itk.GDCMImageIO.New()
    if not io.CanReadFile(str(path)):
        return None
    io.SetFileName(str(path))
    try:
        io.ReadImageInformation()
    except RuntimeError as err:
        raise InputError(f"{path}: corrupt DICOM file ({str(err).strip().splitlines()[-1]})") from err
    tags = {}
    for key, tag in TAGS.items():
        found, value = io.GetValueFromTag(tag, "")
        tags[key] = value.strip() if found else ""
    for key, name in (("position", "ImagePositionPatient"), ("orientation", "ImageOrientationPatient")):
        if not tags[key]:
            raise InputError(f"{path}: no {name} in the header (not an image slice with a known geometry)")
    orientation = _floats(tags["orientation"], 6, path, "ImageOrientationPatient")
    spacing = _floats(tags["pixel_spacing"], 2, path, "PixelSpacing") if tags["pixel_spacing"] else None
    if spacing is None or np.any(spacing <= 0):
        raise InputError(f"{path}: no usable PixelSpacing in the header ({tags['pixel_spacing']!r})")

    def _number(key: str, cast=float):
        try:
            return cast(float(tags[key])) if tags[key] else None
        except ValueError:
            return None

    return _Header(
        path=path,
        series_uid=tags["series_uid"],
        series_number=tags["series_number"],
        description=tags["description"],
        instance=_number("instance", int),
        position=_floats(tags["position"], 3, path, "ImagePositionPatient"),
        orientation=orientation,
        pixel_spacing=spacing,
        rows=int(io.GetDimensions(1)),
        columns=int(io.GetDimensions(0)),
        trigger_time=_number("trigger_time"),
        gantry_tilt=_number("gantry_tilt") or 0.0,
    )


def dicom_files(folder: str | os.PathLike) -> list[Path]:
    """Files of ``folder`` (not recursive) that may be DICOM: regular, not hidden, not NIfTI / JSON / text."""
    folder = Path(folder)
    skip = (".nii", ".nii.gz", ".json", ".txt", ".csv", ".md", ".png", ".jpg", ".xml")
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and not p.name.lower().endswith(skip)
    )


def is_dicom_file(path: str | os.PathLike) -> bool:
    """Whether ITK reads ``path`` (a file) as DICOM."""
    return Path(path).is_file() and bool(_itk().GDCMImageIO.New().CanReadFile(str(path)))


def is_dicom_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder whose first candidate file ITK reads as DICOM (cheap: one header check)."""
    path = Path(path)
    if not path.is_dir():
        return False
    itk = _itk()
    for candidate in dicom_files(path)[:5]:
        if itk.GDCMImageIO.New().CanReadFile(str(candidate)):
            return True
    return False


def _check_folder(folder: Path) -> None:
    """Refuse a DICOM folder argument that is not a folder, saying what it is.

    Raises:
        InputError: a single DICOM file (the series is the folder), another file, or nothing at that path.
    """
    if folder.is_dir():
        return
    if folder.is_file():
        if is_dicom_file(folder):
            raise InputError(f"{folder}: a single DICOM file; pass the folder holding the whole series")
        raise InputError(f"{folder}: a file, not a folder; pass the folder holding the DICOM series")
    raise InputError(f"{folder}: DICOM folder not found")


def _headers(folder: Path, progress: bool = False) -> list[_Header]:
    _check_folder(folder)
    try:
        files = dicom_files(folder)
    except PermissionError as err:
        raise InputError(f"{folder}: permission denied (the folder cannot be listed; check its permissions)") from err
    if not files:
        raise InputError(f"{folder}: folder holds no file")
    iterator = files
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(files, desc=f"reading DICOM headers in {folder.name}", leave=False)
    headers, foreign = [], []
    for path in iterator:
        header = _read_header(path)
        (foreign if header is None else headers).append(header or path)
    if not headers:
        raise InputError(f"{folder}: no DICOM file found ({len(files)} files, none readable as DICOM)")
    if foreign:
        names = ", ".join(p.name for p in foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise InputError(
            f"{folder}: {len(foreign)} of {len(files)} files are not readable DICOM ({names}): corrupt, or not DICOM"
        )
    return headers


def list_dicom_series(folder: str | os.PathLike) -> list[dict]:
    """The series in a DICOM folder: ``[{"uid", "number", "description", "files"}, ...]`` by series number."""
    series: dict[str, dict] = {}
    for h in _headers(Path(folder)):
        entry = series.setdefault(
            h.series_uid, {"uid": h.series_uid, "number": h.series_number, "description": h.description, "files": 0}
        )
        entry["files"] += 1
    return sorted(series.values(), key=lambda s: (s["number"], s["uid"]))


def _choose_series(folder: Path, headers: list[_Header], series: str | None) -> list[_Header]:
    uids = list(dict.fromkeys(h.series_uid for h in headers))
    if series is not None:
        chosen = [h for h in headers if series in (h.series_uid, h.series_number)]
        if not chosen:
            raise InputError(f"{folder}: no series {series!r} (series here: {_describe(headers)})")
        return chosen
    if len(uids) > 1:
        raise InputError(
            f"{folder}: {len(uids)} series in one folder ({_describe(headers)}); choose one with --series "
            "(its SeriesInstanceUID or number)"
        )
    return headers


def _describe(headers: list[_Header]) -> str:
    parts = []
    for uid in dict.fromkeys(h.series_uid for h in headers):
        mine = [h for h in headers if h.series_uid == uid]
        desc = f" {mine[0].description!r}" if mine[0].description else ""
        parts.append(f"#{mine[0].series_number or '?'}{desc} {uid} ({len(mine)} files)")
    return "; ".join(parts)


def _check_same(folder: Path, headers: list[_Header]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Common orientation (row, column directions), pixel spacing and matrix size of the files."""
    first = headers[0]
    for h in headers[1:]:
        if np.abs(h.orientation - first.orientation).max() > ORIENTATION_TOLERANCE:
            raise InputError(
                f"{folder}: files of different orientation in one series ({first.path.name} vs {h.path.name}; "
                "a localiser or another view mixed in?): move them out or choose the series with --series"
            )
        if (h.rows, h.columns) != (first.rows, first.columns):
            raise InputError(
                f"{folder}: files of different matrix size ({first.path.name} {first.rows}x{first.columns}, "
                f"{h.path.name} {h.rows}x{h.columns})"
            )
        if np.abs(h.pixel_spacing - first.pixel_spacing).max() > 1e-4:
            raise InputError(f"{folder}: files of different PixelSpacing ({first.path.name} vs {h.path.name})")
    if abs(first.gantry_tilt) > 1e-3:
        raise InputError(f"{folder}: gantry tilt of {first.gantry_tilt:g} degrees (a sheared stack is not supported)")
    row, col = first.orientation[:3], first.orientation[3:]
    if abs(np.linalg.norm(row) - 1) > 1e-2 or abs(np.linalg.norm(col) - 1) > 1e-2 or abs(row @ col) > 1e-2:
        raise InputError(f"{folder}: ImageOrientationPatient is not two orthonormal directions ({first.orientation})")
    row, col = row / np.linalg.norm(row), col / np.linalg.norm(col)
    return row, col, first.pixel_spacing


def _group_slices(folder: Path, headers: list[_Header], normal: np.ndarray, row: np.ndarray, col: np.ndarray):
    """Files grouped by slice position (sorted along ``normal``) and the slice spacing."""
    heights = np.array([h.position @ normal for h in headers])
    order = np.argsort(heights, kind="stable")
    groups: list[list[_Header]] = []
    last = None
    for i in order:
        if last is None or heights[i] - last > POSITION_TOLERANCE_MM:
            groups.append([])
        groups[-1].append(headers[i])
        last = heights[i]
    positions = np.array([g[0].position @ normal for g in groups])
    # in-plane offset of every slice's position from the first one's line along the normal (gantry tilt / shear)
    origin = groups[0][0].position
    for g in groups:
        for h in g:
            offset = h.position - origin
            inplane = np.hypot(offset @ row, offset @ col)
            if inplane > POSITION_TOLERANCE_MM:
                raise InputError(
                    f"{folder}: slice positions are offset in-plane by {inplane:.2f} mm ({h.path.name} vs "
                    f"{groups[0][0].path.name}): gantry tilt or a sheared stack, not supported"
                )
    if len(groups) < 2:
        return groups, None
    gaps = np.diff(positions)
    spacing = float(np.median(gaps))
    bad = np.flatnonzero(np.abs(gaps - spacing) > SPACING_TOLERANCE * spacing)
    if bad.size:
        k = int(bad[0])
        hint = " (a missing slice?)" if gaps[k] > 1.5 * spacing else ""
        raise InputError(
            f"{folder}: non-uniform slice spacing: {gaps[k]:.3f} mm between slices {k} and {k + 1} "
            f"({groups[k][0].path.name}, {groups[k + 1][0].path.name}) against {spacing:.3f} mm elsewhere{hint}"
        )
    return groups, spacing


def read_dicom_series(folder: str | os.PathLike, series: str | None = None, progress: bool = True) -> DicomSeries:
    """Read one short-axis (cine) series from a folder of DICOM files.

    Args:
        folder: folder holding the files (one per slice and phase; file names are ignored).
        series: SeriesInstanceUID or SeriesNumber to read when the folder holds several series.
        progress: show progress bars.

    Returns:
        The series as a 4D array with its RAS affine (``T = 1`` for a single phase).

    Raises:
        InputError: see the module docstring; the message names the folder (and file) and the problem.
    """
    folder = Path(folder)
    headers = _choose_series(folder, _headers(folder, progress), series)
    row, col, pixel_spacing = _check_same(folder, headers)
    normal = np.cross(row, col)
    groups, slice_spacing = _group_slices(folder, headers, normal, row, col)
    if slice_spacing is None:
        raise InputError(f"{folder}: a single slice position (a 2D image); a stack of at least 2 slices is needed")
    counts = [len(g) for g in groups]
    if len(set(counts)) > 1:
        common = max(set(counts), key=counts.count)
        k = next(i for i, c in enumerate(counts) if c != common)
        raise InputError(
            f"{folder}: slice {k} ({groups[k][0].path.name}) has {counts[k]} phases, other slices {common} "
            "(missing or extra files?)"
        )
    frames = counts[0]
    ordered: list[list[_Header]] = []
    for k, g in enumerate(groups):
        g = sorted(g, key=lambda h: (np.inf if h.trigger_time is None else h.trigger_time, h.instance or 0))
        times = [h.trigger_time for h in g]
        if frames > 1 and any(t is None for t in times):
            g = sorted(g, key=lambda h: h.instance or 0)
            if any(h.instance is None for h in g):
                raise InputError(f"{folder}: slice {k} has several files but neither TriggerTime nor InstanceNumber")
        elif frames > 1 and len(set(times)) < len(times):
            dup = next(t for t in times if times.count(t) > 1)
            names = [h.path.name for h in g if h.trigger_time == dup][:2]
            raise InputError(
                f"{folder}: two files at one slice position and trigger time {dup:g} ms ({', '.join(names)}): "
                "a repeated acquisition or two series mixed; keep one"
            )
        ordered.append(g)
    trigger = np.array([[np.nan if h.trigger_time is None else h.trigger_time for h in g] for g in ordered])
    interval = None
    if frames > 1 and np.all(np.isfinite(trigger)):
        interval = float(np.mean(np.diff(trigger, axis=1)))
    array = _read_pixels(folder, ordered, progress)
    lps = np.eye(4)
    lps[:3, 0] = row * pixel_spacing[1]  # X = column index: along the row direction, column spacing
    lps[:3, 1] = col * pixel_spacing[0]  # Y = row index: along the column direction, row spacing
    lps[:3, 2] = normal * slice_spacing
    lps[:3, 3] = ordered[0][0].position
    affine = LPS_TO_RAS @ lps
    notes = []
    if frames > 1 and interval is None:
        notes.append("no TriggerTime: phases ordered by InstanceNumber, frame interval unknown")
    for note in notes:
        logger.warning("%s: %s", folder, note)
    logger.info(
        "%s: %d slices x %d phases, %s x %.4g mm%s",
        folder,
        len(ordered),
        frames,
        " x ".join(f"{s:.4g}" for s in pixel_spacing[::-1]),
        slice_spacing,
        f", frame interval {interval:.2f} ms" if interval is not None else "",
    )
    return DicomSeries(
        array=array,
        affine=affine,
        frame_interval_ms=interval,
        trigger_times_ms=trigger,
        files=[[h.path for h in g] for g in ordered],
        folder=folder,
        series_uid=headers[0].series_uid,
        description=headers[0].description,
        integer_valued=bool(np.all(np.mod(array, 1) == 0)),
        notes=notes,
    )


@functools.lru_cache(maxsize=1)
def _series_of_state(folder: str, state: tuple[int, int], series: str | None) -> DicomSeries:
    return read_dicom_series(folder, series=series, progress=False)


def read_dicom_series_cached(folder: str | os.PathLike, series: str | None = None) -> DicomSeries:
    """:func:`read_dicom_series` of a folder, keeping the last series read in memory: the frames of a DICOM cine are
    loaded one by one (one inference item per frame) but read from disk once. A folder whose entries changed (their
    number or latest modification time) is read again.

    Args:
        folder: the DICOM folder.
        series: SeriesInstanceUID or SeriesNumber to read when the folder holds several series.
    """
    folder = Path(folder).resolve()
    _check_folder(folder)
    try:
        entries = list(os.scandir(folder))
    except PermissionError as err:
        raise InputError(f"{folder}: permission denied (the folder cannot be listed; check its permissions)") from err
    state = (len(entries), max([folder.stat().st_mtime_ns] + [e.stat().st_mtime_ns for e in entries]))
    return _series_of_state(str(folder), state, None if series is None else str(series))


def _read_pixels(folder: Path, ordered: Sequence[Sequence[_Header]], progress: bool) -> np.ndarray:
    itk = _itk()
    first = ordered[0][0]
    array = np.zeros((first.columns, first.rows, len(ordered), len(ordered[0])), np.float32)
    items = [(k, t, h) for k, g in enumerate(ordered) for t, h in enumerate(g)]
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc=f"reading DICOM pixels in {folder.name}", leave=False)
    for k, t, h in items:
        try:
            image = itk.imread(str(h.path), itk.F)
        except RuntimeError as err:
            raise InputError(f"{h.path}: corrupt DICOM pixel data ({str(err).strip().splitlines()[-1]})") from err
        pixels = itk.array_view_from_image(image)
        pixels = pixels.reshape(pixels.shape[-2:])  # (rows, columns)
        if pixels.shape != (first.rows, first.columns):
            raise InputError(f"{h.path}: pixel data {pixels.shape} does not match the header ({first.rows}, ...)")
        array[:, :, k, t] = pixels.T
    if not np.all(np.isfinite(array)):
        raise InputError(f"{folder}: non-finite pixel values")
    return array


def check_output_file(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Check, before any work, that a NIfTI file may be written at ``path``.

    Raises:
        InputError: not a ``.nii`` / ``.nii.gz`` name, exists (without ``overwrite``), a folder is in the way, or
            the parent folder is not writable.
    """
    path = Path(path)
    if not path.name.endswith((".nii", ".nii.gz")):
        raise InputError(f"{path}: output must be a .nii or .nii.gz file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder")
    if path.exists() and not overwrite:
        raise InputError(f"{path}: exists (pass --overwrite to replace it)")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not os.access(parent, os.W_OK):
        raise InputError(f"{path}: folder {parent} is not writable")
    return path


def save_cine(series: DicomSeries, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write a series as a 4D NIfTI ``(X, Y, Z, T)`` with its affine (sform and qform) and the frame interval in
    ``pixdim[4]`` (ms; units mm / ms), int16 when the voxels are integers that fit, float32 otherwise; atomically.

    Raises:
        InputError: ``path`` exists (without ``overwrite``) or is not a ``.nii`` / ``.nii.gz`` name, or the disk is
            full (``<path>: no space left on the device``; the temporary file is removed, ``path`` untouched).
    """
    path = check_output_file(path, overwrite)
    fits = series.integer_valued and series.array.min() >= -32768 and series.array.max() <= 32767
    dtype = np.int16 if fits else np.float32
    try:
        return save_nifti(
            series.array.astype(dtype),
            series.affine,
            path,
            dtype=dtype,
            time_step=series.frame_interval_ms or 0.0,
            time_unit="msec",
            overwrite=overwrite,
        )
    except OSError as err:  # save_nifti has removed its temporary file
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InputError(f"{path}: no space left on the device") from err
        raise
