"""Importers that turn common cardiac MR folder layouts into MONAI datalist items, one function per layout, the
:data:`LAYOUTS` table (name -> importer), :func:`detect_layout` and :func:`build_datalist` (the whole datalist of a
folder: items, skipped subjects and what they came from).

Layouts (``root`` is the folder given to the importer):

- ``acdc``: ``patientNNN/patientNNN_frameXX.nii.gz`` + ``patientNNN_frameXX_gt.nii.gz`` and ``patientNNN/Info.cfg``
  (``ED: 1``, ``ES: 12``, ``Group: DCM``, ``Height: 184.0``, ``NbFrame: 30``, ``Weight: 95.0``; ED/ES are 1-based
  frame numbers of ``patientNNN_4d.nii.gz``). One item per subject and phase.
- ``mnms``: ``<id>/<id>_sa.nii.gz`` (4D cine) + ``<id>/<id>_sa_gt.nii.gz`` (4D labels, labelled at ED and ES only),
  with an optional M&Ms information CSV giving the 0-based ED/ES frames: one item per phase with its ``frame`` when
  the CSV is given, one item per subject (the 4D files) otherwise.
- ``ukbb``: ``<id>/sa.nii.gz`` with an optional ``<id>/seg_sa.nii.gz`` label.
- ``dicom``: a DICOM study tree: one item per folder holding DICOM files (per series when a folder holds several);
  the subject is the first path component under ``root``.
- ``flat``: the ``<case>_image.nii.gz`` + ``<case>_gt.nii.gz`` form of the real labelled sets (files found by
  :func:`custom_networks.evaluate.real_sets.find_real_cases`); subject = case name without ``_ED`` / ``_ES``.

Every importer returns ``(items, skipped)``. Items are dicts with at least ``subject`` and ``image``; paths are
written relative to ``base_dir`` (the folder of the datalist file, so that ``monai.data.load_decathlon_datalist``
resolves them) or absolute when ``base_dir`` is None. A subject (or one phase of it) whose image has a missing or
unreadable companion (label, ``Info.cfg``, 4D cine, CSV row), or whose files disagree (label shape different from the
image's, frame outside the cine) is left out with a logged warning and listed in ``skipped`` as
``{"subject", "path", "reason"}`` (plus ``"phase"`` when only that phase is left out); ``reason`` starts with the
file or folder concerned. Only NIfTI headers are read (never voxels), and DICOM headers for the ``dicom`` layout,
so importing a large cohort is fast.

A missing ``root``, or one without any subject of the layout, raises :class:`~custom_networks.utils.InputError`
whose message starts with the path.
"""

from __future__ import annotations

import csv
import glob
import io
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib

from custom_networks.core.nifti import InputError

__all__ = [
    "ACDC_INFO_KEYS",
    "DETECT_FOLDERS",
    "LAYOUTS",
    "MNMS_COLUMNS",
    "MNMS_OPTIONAL_COLUMNS",
    "PATH_KEYS",
    "RELATIVE_NOTE",
    "Importer",
    "build_datalist",
    "detect_layout",
    "import_acdc",
    "import_dicom",
    "import_flat",
    "import_mnms",
    "import_ukbb",
]

logger = logging.getLogger(__name__)

#: Item keys whose values are files or folders (written relative to the datalist's folder).
PATH_KEYS = ("image", "label", "cine", "labelled_slices")
#: ``Info.cfg`` key -> item key of the ACDC subject metadata copied into every item (with its type).
ACDC_INFO_KEYS: dict[str, tuple[str, type]] = {
    "Group": ("group", str),
    "Height": ("height_cm", float),
    "Weight": ("weight_kg", float),
}
#: Columns the M&Ms information CSV must have, and optional column -> item key.
MNMS_COLUMNS = ("External code", "ED", "ES")
MNMS_OPTIONAL_COLUMNS = {"Vendor": "vendor", "VendorName": "vendor_name", "Centre": "centre", "Pathology": "pathology"}
#: How the datalist files say where their paths start.
RELATIVE_NOTE = "paths are relative to this file's folder"
#: Cardiac phases, in item order.
_PHASES = ("ED", "ES")
#: Sub-folders :func:`detect_layout` looks at (enough to recognise a layout, cheap on a cohort of thousands).
DETECT_FOLDERS = 50

_NIFTI_SUFFIXES = (".nii.gz", ".nii")
_ACDC_FRAME = re.compile(r"^(?P<stem>.+)_frame(?P<number>\d+)(?P<gt>_gt)?\.nii(\.gz)?$")

#: An importer: ``(root, base_dir=None, ...) -> (items, skipped)``.
Importer = Callable[..., tuple[list[dict], list[dict]]]


class _Skip(Exception):
    """A subject (or phase) that cannot be used: ``path`` is the file or folder concerned, ``reason`` says why."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(reason)
        self.path = Path(path)
        self.reason = reason


class _Collector:
    """Items and skipped subjects of one import, with paths made relative to ``base_dir`` (absolute when None)."""

    def __init__(self, base_dir: str | os.PathLike | None) -> None:
        self.base = None if base_dir is None else os.path.abspath(base_dir)
        self.items: list[dict] = []
        self.skipped: list[dict] = []

    def path(self, path: str | os.PathLike) -> str:
        """``path`` as written in the datalist."""
        path = os.path.abspath(path)
        return path if self.base is None else os.path.relpath(path, self.base)

    def add(self, item: dict) -> None:
        """Append an item, writing its :data:`PATH_KEYS` values as datalist paths."""
        self.items.append({k: self.path(v) if k in PATH_KEYS else v for k, v in item.items()})

    def skip(self, subject: str, problem: _Skip, phase: str | None = None) -> None:
        """Record (and log) a subject or phase left out."""
        entry = {"subject": subject, "path": self.path(problem.path), "reason": problem.reason}
        if phase is not None:
            entry["phase"] = phase
        logger.warning("skipped %s%s: %s", subject, f" {phase}" if phase else "", problem.reason)
        self.skipped.append(entry)

    def result(self) -> tuple[list[dict], list[dict]]:
        """``(items, skipped)``."""
        return self.items, self.skipped


def _check_root(root: str | os.PathLike) -> Path:
    """Absolute ``root`` (symbolic links kept), checked to be a folder."""
    path = Path(os.path.abspath(root))
    if not path.exists():
        raise InputError(f"{root}: folder not found")
    if not path.is_dir():
        raise InputError(f"{root}: not a folder")
    return path


def _subject_folders(root: Path, limit: int | None = None) -> list[Path]:
    """Sub-folders of ``root`` (not hidden), sorted by name; the first ``limit`` only when given."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return folders if limit is None else folders[:limit]


def _nifti_file(folder: Path, stem: str) -> Path | None:
    """``folder/stem.nii.gz`` or ``folder/stem.nii``, whichever exists."""
    for suffix in _NIFTI_SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def _shape(path: Path) -> tuple[int, ...]:
    """Array shape from the NIfTI header (voxels are not read), trailing singleton axes dropped.

    Raises:
        _Skip: the header cannot be read (missing, empty, corrupt or not NIfTI).
    """
    try:
        shape = tuple(int(n) for n in nib.load(str(path)).header.get_data_shape())
    except Exception as err:  # nibabel raises many types for a corrupt file (ImageFileError, EOFError, zlib ...)
        raise _Skip(path, f"{path}: unreadable NIfTI header ({type(err).__name__}: {err})") from err
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    return shape


def _check_pair(image: Path, label: Path) -> tuple[int, ...]:
    """Shape of ``image``, checked to be readable and to match its label's (headers only).

    Raises:
        _Skip: a header is unreadable or the shapes differ.
    """
    image_shape = _shape(image)
    label_shape = _shape(label)
    if label_shape != image_shape:
        raise _Skip(label, f"{label}: shape {label_shape} differs from its image's {image_shape} ({image.name})")
    return image_shape


# ---------------------------------------------------------------------------------------------------------- ACDC


def _acdc_frames(folder: Path) -> tuple[dict[int, Path], dict[int, Path]]:
    """``({frame number: image}, {frame number: label})`` of an ACDC subject folder (1-based numbers)."""
    images: dict[int, Path] = {}
    labels: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        match = _ACDC_FRAME.match(path.name)
        if match is None or match["stem"] != folder.name or not path.is_file():
            continue
        (labels if match["gt"] else images).setdefault(int(match["number"]), path)
    return images, labels


def _is_acdc_subject(folder: Path) -> bool:
    if (folder / "Info.cfg").is_file() or _nifti_file(folder, f"{folder.name}_4d") is not None:
        return True
    return any(_ACDC_FRAME.match(p.name) for p in folder.iterdir())


def _read_info_cfg(path: Path) -> dict[str, str]:
    """``Key: value`` lines of an ACDC ``Info.cfg``.

    Raises:
        _Skip: unreadable file.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise _Skip(path, f"{path}: unreadable ({err.strerror or err})") from err
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            info[key.strip()] = value.strip()
    return info


def _frame_number(info: dict[str, str], key: str, path: Path) -> int:
    """A 1-based frame number of ``Info.cfg``.

    Raises:
        _Skip: absent, or not a positive integer.
    """
    if key not in info:
        raise _Skip(path, f"{path}: no '{key}:' line (ACDC Info.cfg gives the ED and ES frame numbers)")
    try:
        number = int(info[key])
    except ValueError:
        number = 0
    if number < 1:
        raise _Skip(path, f"{path}: {key} {info[key]!r} is not a frame number (1, 2, ...)")
    return number


def _acdc_subject(folder: Path, out: _Collector) -> None:
    """Add the ED and ES items of one ACDC subject folder.

    Raises:
        _Skip: the whole subject is unusable (no or unreadable Info.cfg, unreadable 4D cine).
    """
    subject = folder.name
    cfg = folder / "Info.cfg"
    if not cfg.is_file():
        raise _Skip(folder, f"{folder}: no Info.cfg (the ED and ES frames are unknown)")
    info = _read_info_cfg(cfg)
    numbers = {phase: _frame_number(info, phase, cfg) for phase in _PHASES}
    meta: dict[str, Any] = {}
    for cfg_key, (item_key, kind) in ACDC_INFO_KEYS.items():
        if cfg_key in info and info[cfg_key] != "":
            try:
                meta[item_key] = kind(info[cfg_key])
            except ValueError:
                logger.warning("%s: %s %r is not a number; left out of the items", cfg, cfg_key, info[cfg_key])
    cine = _nifti_file(folder, f"{subject}_4d")
    num_frames = None
    if cine is not None:
        shape = _shape(cine)
        if len(shape) != 4:
            raise _Skip(cine, f"{cine}: not a 4D cine (shape {shape})")
        num_frames = shape[3]
    elif info.get("NbFrame", "").isdigit():
        num_frames = int(info["NbFrame"])
    images, labels = _acdc_frames(folder)
    for phase, number in numbers.items():
        try:
            if num_frames is not None and number > num_frames:
                raise _Skip(cfg, f"{cfg}: {phase} frame {number} beyond the cine's {num_frames} frames")
            image, label = images.get(number), labels.get(number)
            if image is None:
                raise _Skip(folder, f"{folder}: no {subject}_frame{number:02d}.nii.gz ({phase} image, Info.cfg)")
            if label is None:
                raise _Skip(image, f"{image}: no label {subject}_frame{number:02d}_gt.nii.gz")
            _check_pair(image, label)
        except _Skip as problem:
            out.skip(subject, problem, phase)
            continue
        item = {"subject": subject, "phase": phase, "image": image, "label": label, "frame": number - 1}
        if cine is not None:
            item["cine"] = cine
        out.add({**item, **meta})


def import_acdc(root: str | os.PathLike, base_dir: str | os.PathLike | None = None) -> tuple[list[dict], list[dict]]:
    """Items of an ACDC-style folder (``patientNNN/`` sub-folders).

    Args:
        root: folder holding the ``patientNNN`` folders (e.g. ACDC's ``training``).
        base_dir: folder the item paths are written relative to (absolute paths when None).

    Returns:
        ``(items, skipped)``: items ``{"subject", "phase": "ED"|"ES", "image", "label", "frame", "cine", "group",
        "height_cm", "weight_kg"}`` per subject and phase (``frame`` the 0-based frame of the 4D cine, i.e.
        ``Info.cfg``'s number - 1; ``cine`` only when ``patientNNN_4d.nii.gz`` exists; the metadata only when
        ``Info.cfg`` gives it), sorted by subject then phase; ``skipped`` as described in the module docstring.

    Raises:
        InputError: ``root`` is missing or holds no ACDC subject folder.
    """
    root = _check_root(root)
    folders = [f for f in _subject_folders(root) if _is_acdc_subject(f)]
    if not folders:
        raise InputError(
            f"{root}: no ACDC subject folder found (patientNNN/ with Info.cfg and patientNNN_frameXX.nii.gz)"
        )
    out = _Collector(base_dir)
    for folder in folders:
        try:
            _acdc_subject(folder, out)
        except _Skip as problem:
            out.skip(folder.name, problem)
    return out.result()


# ---------------------------------------------------------------------------------------------------------- M&Ms


def _read_mnms_info(info_csv: str | os.PathLike) -> dict[str, dict[str, str]]:
    """Rows of an M&Ms information CSV by ``External code``.

    Raises:
        InputError: missing or unreadable file, missing columns, a code listed twice.
    """
    path = Path(info_csv)
    if not path.is_file():
        raise InputError(f"{path}: info CSV not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: unreadable info CSV ({err})") from err
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in MNMS_COLUMNS if c not in columns]
    if missing:
        raise InputError(
            f"{path}: no column {', '.join(repr(c) for c in missing)} (an M&Ms info CSV has "
            f"{', '.join(MNMS_COLUMNS)} and optionally {', '.join(MNMS_OPTIONAL_COLUMNS)})"
        )
    rows: dict[str, dict[str, str]] = {}
    for raw in reader:
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
        code = row.get("External code", "")
        if not code:
            continue
        if code in rows and rows[code] != row:
            raise InputError(f"{path}: subject {code!r} listed twice with different values")
        rows[code] = row
    return rows


def _is_mnms_subject(folder: Path) -> bool:
    return _nifti_file(folder, f"{folder.name}_sa") is not None


def _mnms_subject(folder: Path, info: dict[str, dict[str, str]] | None, info_csv: Path | None, out: _Collector) -> None:
    """Add the item(s) of one M&Ms subject folder.

    Raises:
        _Skip: no or unreadable label, no CSV row, frames that are not in the cine.
    """
    subject = folder.name
    image = _nifti_file(folder, f"{subject}_sa")
    label = _nifti_file(folder, f"{subject}_sa_gt")
    if label is None:
        raise _Skip(image, f"{image}: no label {subject}_sa_gt.nii.gz")
    shape = _check_pair(image, label)
    if info is None:
        out.add({"subject": subject, "image": image, "label": label})
        return
    row = info.get(subject)
    if row is None:
        raise _Skip(info_csv, f"{info_csv}: no row for subject {subject} (its ED and ES frames are unknown)")
    if len(shape) != 4:
        raise _Skip(image, f"{image}: not a 4D cine (shape {shape})")
    frames = {}
    for phase in _PHASES:
        try:
            value = float(row[phase])
        except ValueError:
            value = -1.0
        if not value.is_integer() or value < 0:
            raise _Skip(info_csv, f"{info_csv}: {subject}: {phase} {row[phase]!r} is not a 0-based frame number")
        frames[phase] = int(value)
        if frames[phase] >= shape[3]:
            raise _Skip(info_csv, f"{info_csv}: {subject}: {phase} frame {frames[phase]} beyond the {shape[3]} frames")
    meta = {key: row[column] for column, key in MNMS_OPTIONAL_COLUMNS.items() if row.get(column)}
    for phase, frame in frames.items():
        out.add({"subject": subject, "phase": phase, "image": image, "label": label, "frame": frame, **meta})


def import_mnms(
    root: str | os.PathLike, info_csv: str | os.PathLike | None = None, base_dir: str | os.PathLike | None = None
) -> tuple[list[dict], list[dict]]:
    """Items of an M&Ms-style folder (``<id>/<id>_sa.nii.gz`` + ``<id>/<id>_sa_gt.nii.gz``).

    Args:
        root: folder holding the subject folders (e.g. M&Ms ``Training/Labeled``).
        info_csv: M&Ms information CSV (columns ``External code``, ``ED``, ``ES`` with 0-based frames, optionally
            ``Vendor``, ``VendorName``, ``Centre``, ``Pathology``).
        base_dir: folder the item paths are written relative to (absolute paths when None).

    Returns:
        ``(items, skipped)``. With ``info_csv``: items ``{"subject", "phase", "image", "label", "frame", "vendor",
        "vendor_name", "centre", "pathology"}`` per subject and phase (``image`` / ``label`` the 4D files, ``frame``
        the 0-based frame to take; metadata only where the CSV has it); subjects without a CSV row are skipped.
        Without: items ``{"subject", "image", "label"}``, one per subject. Subjects without a label (M&Ms
        ``Unlabeled``) are skipped with the reason.

    Raises:
        InputError: ``root`` is missing or holds no M&Ms subject folder; ``info_csv`` is missing, unreadable or
            lacks a required column.
    """
    root = _check_root(root)
    folders = [f for f in _subject_folders(root) if _is_mnms_subject(f)]
    if not folders:
        raise InputError(f"{root}: no M&Ms subject folder found (<id>/<id>_sa.nii.gz)")
    info = None if info_csv is None else _read_mnms_info(info_csv)
    out = _Collector(base_dir)
    for folder in folders:
        try:
            _mnms_subject(folder, info, None if info_csv is None else Path(info_csv), out)
        except _Skip as problem:
            out.skip(folder.name, problem)
    return out.result()


# ---------------------------------------------------------------------------------------------------------- UKBB


def _is_ukbb_subject(folder: Path) -> bool:
    return _nifti_file(folder, "sa") is not None


def import_ukbb(root: str | os.PathLike, base_dir: str | os.PathLike | None = None) -> tuple[list[dict], list[dict]]:
    """Items of a UK Biobank-style folder (``<id>/sa.nii.gz`` with an optional ``<id>/seg_sa.nii.gz``).

    Args:
        root: folder holding the subject folders.
        base_dir: folder the item paths are written relative to (absolute paths when None).

    Returns:
        ``(items, skipped)``: items ``{"subject", "image", "label"}``, one per subject, without ``label`` when
        ``seg_sa`` is absent; subjects whose image or label header is unreadable, or whose label shape differs from
        the image's, are skipped.

    Raises:
        InputError: ``root`` is missing or holds no ``<id>/sa.nii.gz``.
    """
    root = _check_root(root)
    folders = [f for f in _subject_folders(root) if _is_ukbb_subject(f)]
    if not folders:
        raise InputError(f"{root}: no UK Biobank subject folder found (<id>/sa.nii.gz)")
    out = _Collector(base_dir)
    for folder in folders:
        image = _nifti_file(folder, "sa")
        label = _nifti_file(folder, "seg_sa")
        try:
            if label is None:
                _shape(image)
            else:
                _check_pair(image, label)
        except _Skip as problem:
            out.skip(folder.name, problem)
            continue
        out.add({"subject": folder.name, "image": image, **({"label": label} if label is not None else {})})
    return out.result()


# ---------------------------------------------------------------------------------------------------------- DICOM


def _dicom_folders(root: Path, first_only: bool = False) -> list[Path]:
    """Folders under ``root`` (itself included, hidden ones excluded) that hold DICOM files, in walk order."""
    from custom_networks.core.dicom import is_dicom_folder  # imports ITK (seconds): only when DICOM is looked for

    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if filenames and is_dicom_folder(dirpath):
            found.append(Path(dirpath))
            if first_only:
                break
    return found


def import_dicom(root: str | os.PathLike, base_dir: str | os.PathLike | None = None) -> tuple[list[dict], list[dict]]:
    """Items of a DICOM study tree: every folder under ``root`` holding DICOM files.

    Args:
        root: top folder (one sub-folder per subject, at any depth below it).
        base_dir: folder the item paths are written relative to (absolute paths when None).

    Returns:
        ``(items, skipped)``: items ``{"subject", "image", "series", "series_description"}`` (``image`` the folder,
        ``subject`` the first path component under ``root``, or ``root``'s name for files directly in it; one item
        per series with ``series`` its SeriesInstanceUID when the folder holds several, else no ``series``;
        ``series_description`` when the headers give one), in walk order. Folders whose files are not all readable
        DICOM are skipped with the reason.

    Raises:
        InputError: ``root`` is missing or no folder under it holds DICOM files.
    """
    from custom_networks.core.dicom import list_dicom_series

    root = _check_root(root)
    folders = _dicom_folders(root)
    if not folders:
        raise InputError(f"{root}: no folder holding DICOM files found")
    out = _Collector(base_dir)
    for folder in folders:
        parts = folder.relative_to(root).parts
        subject = parts[0] if parts else root.name
        try:
            series = list_dicom_series(folder)
        except InputError as err:
            out.skip(subject, _Skip(folder, str(err)))
            continue
        for entry in series:
            item: dict[str, Any] = {"subject": subject, "image": folder}
            if len(series) > 1:
                item["series"] = entry["uid"]
            if entry["description"]:
                item["series_description"] = entry["description"]
            out.add(item)
    return out.result()


# ---------------------------------------------------------------------------------------------------------- flat


def _is_flat(root: Path) -> bool:
    return any(root.glob("*_image.nii*")) and any(root.glob("*_gt.nii*"))


def import_flat(root: str | os.PathLike, base_dir: str | os.PathLike | None = None) -> tuple[list[dict], list[dict]]:
    """Items of a flat folder of ``<case>_image.nii.gz`` + ``<case>_gt.nii.gz`` pairs (the real labelled sets' form).

    The pairs are found by :func:`custom_networks.evaluate.real_sets.find_real_cases` (its one home), subject and
    phase by the case name's ``_ED`` / ``_ES`` suffix (:func:`custom_networks.evaluate.cases.phase_of`).

    Args:
        root: the folder holding the pairs (e.g. ``real_labelled/acdc``).
        base_dir: folder the item paths are written relative to (absolute paths when None).

    Returns:
        ``(items, skipped)``: items ``{"subject", "phase", "case", "image", "label", "labelled_slices"}`` sorted by
        case (``phase`` only for a case name ending in ``_ED`` / ``_ES``; ``labelled_slices`` only when the case has
        a ``<case>_labelled_slices.json``, i.e. partial labels); images without a label, labels without an image
        and pairs with unreadable headers or different shapes are skipped.

    Raises:
        InputError: ``root`` is missing or holds no pair.
    """
    # imported here: the evaluation package pulls in torch / MONAI (seconds), which the other layouts do not need
    from custom_networks.evaluate.cases import phase_of
    from custom_networks.evaluate.real_sets import find_real_cases

    root = _check_root(root)
    try:
        cases, unpaired = find_real_cases(root.parent, [root.name])
    except InputError as err:
        raise InputError(f"{root}: no <case>_image.nii.gz + <case>_gt.nii.gz pair found") from err
    out = _Collector(base_dir)
    for row in unpaired:
        subject, phase = phase_of(row["case"])
        files = sorted(root.glob(f"{glob.escape(row['case'])}_*.nii*"))
        out.skip(subject, _Skip(files[0] if files else root, row["reason"]), phase)
    for case in cases:
        try:
            _check_pair(case.image, case.label)
        except _Skip as problem:
            out.skip(case.subject, problem, case.phase)
            continue
        item: dict[str, Any] = {"subject": case.subject}
        if case.phase is not None:
            item["phase"] = case.phase
        item.update(case=case.name, image=case.image, label=case.label)
        if case.slices_json is not None:
            item["labelled_slices"] = case.slices_json
        out.add(item)
    return out.result()


# ---------------------------------------------------------------------------------------------------------- all

#: Layout name -> importer (``mnms`` also takes ``info_csv``).
LAYOUTS: dict[str, Importer] = {
    "acdc": import_acdc,
    "mnms": import_mnms,
    "ukbb": import_ukbb,
    "dicom": import_dicom,
    "flat": import_flat,
}

_SUBJECT_TESTS: dict[str, Callable[[Path], bool]] = {
    "acdc": _is_acdc_subject,
    "mnms": _is_mnms_subject,
    "ukbb": _is_ukbb_subject,
}


def detect_layout(root: str | os.PathLike) -> str:
    """The layout of a folder, from its files and its first :data:`DETECT_FOLDERS` sub-folders (the DICOM tree is
    walked only when no NIfTI layout matches).

    Args:
        root: the folder.

    Returns:
        A :data:`LAYOUTS` name.

    Raises:
        InputError: ``root`` is missing, matches no layout, or matches several (choose one with ``--layout``).
    """
    path = _check_root(root)
    found = ["flat"] if _is_flat(path) else []
    folders = _subject_folders(path, DETECT_FOLDERS)
    found += [name for name, test in _SUBJECT_TESTS.items() if any(test(f) for f in folders)]
    if len(found) > 1:
        raise InputError(f"{root}: looks like several layouts ({', '.join(found)}); choose one with --layout")
    if found:
        return found[0]
    if _dicom_folders(path, first_only=True):
        return "dicom"
    raise InputError(
        f"{root}: no known layout (acdc: patientNNN/Info.cfg; mnms: <id>/<id>_sa.nii.gz; ukbb: <id>/sa.nii.gz; "
        "flat: <case>_image.nii.gz + <case>_gt.nii.gz; dicom: folders of DICOM files)"
    )


def _path_like_values(items: list[dict], base_dir: str | os.PathLike) -> list[tuple[str, str]]:
    """``(key, value)`` of non-path item values that name an existing path relative to ``base_dir``:
    ``monai.data.load_decathlon_datalist`` would turn them into paths."""
    clashes = []
    for item in items:
        for key, value in item.items():
            if (
                key not in PATH_KEYS
                and isinstance(value, str)
                and value
                and os.path.exists(os.path.join(base_dir, value))
            ):
                clashes.append((key, value))
    return clashes


def build_datalist(
    root: str | os.PathLike,
    layout: str = "auto",
    base_dir: str | os.PathLike | None = None,
    info_csv: str | os.PathLike | None = None,
) -> dict:
    """The datalist of a folder (the content of the file ``python -m custom_networks.datalists build`` writes).

    Args:
        root: the folder.
        layout: a :data:`LAYOUTS` name, or ``"auto"`` (:func:`detect_layout`).
        base_dir: folder the paths are written relative to (the folder of the datalist file); absolute paths when
            None.
        info_csv: M&Ms information CSV (``mnms`` layout only).

    Returns:
        ``{"name", "description", "layout", "root", "numSubjects", "numItems", "numSkipped", "items", "skipped"}``:
        ``name`` the folder's name, ``root`` the folder (relative to ``base_dir`` like the items), ``items`` and
        ``skipped`` from the layout's importer.

    Raises:
        InputError: unknown layout, ``info_csv`` with another layout than ``mnms``, the importer's errors, or no
            usable item (every subject skipped).
    """
    if layout not in ("auto", *LAYOUTS):
        raise InputError(f"--layout {layout!r}: unknown layout; choose auto, {', '.join(LAYOUTS)}")
    path = _check_root(root)
    if layout == "auto":
        layout = detect_layout(path)
        logger.info("%s: %s layout", path, layout)
    if info_csv is not None and layout != "mnms":
        raise InputError(f"--info_csv {info_csv}: only the mnms layout reads an info CSV (layout here: {layout})")
    options = {"info_csv": info_csv} if layout == "mnms" else {}
    items, skipped = LAYOUTS[layout](path, base_dir=base_dir, **options)
    if not items:
        first = f" (first: {skipped[0]['reason']})" if skipped else ""
        raise InputError(f"{root}: no usable item: all {len(skipped)} subjects or phases skipped{first}")
    collector = _Collector(base_dir)
    subjects = list(dict.fromkeys(item["subject"] for item in items))
    if base_dir is not None:
        clashes = _path_like_values(items, base_dir)
        if clashes:
            key, value = clashes[0]
            logger.warning(
                "%d item value(s) (e.g. %s %r) name existing paths relative to %s: monai.data.load_decathlon_datalist "
                "would turn them into paths; write the datalist outside the image folders to keep them as they are",
                len(clashes),
                key,
                value,
                base_dir,
            )
    logger.info("%s: %d items of %d subjects, %d skipped", path, len(items), len(subjects), len(skipped))
    return {
        "name": path.name,
        "description": f"{layout} datalist of {path.name}" + ("" if base_dir is None else f"; {RELATIVE_NOTE}"),
        "layout": layout,
        "root": collector.path(path),
        "numSubjects": len(subjects),
        "numItems": len(items),
        "numSkipped": len(skipped),
        "items": items,
        "skipped": skipped,
    }
