"""What every importer shares: the :class:`Layout` and :class:`RealSet` records the registry holds, the collection
of items and skipped subjects with their datalist paths, and the header-only checks of NIfTI files.

An importer is a function ``(root, base_dir=None, **options) -> (items, skipped)``. Items are dicts with at least
``subject`` and ``image``; paths are written relative to ``base_dir`` (the folder of the datalist file, so that
``monai.data.load_decathlon_datalist`` resolves them) or absolute when ``base_dir`` is None. A subject (or one phase
of it) that cannot be used is left out with a logged warning and listed in ``skipped`` as ``{"subject", "path",
"reason"}`` (plus ``"phase"`` when only that phase is left out); ``reason`` starts with the file or folder concerned.
Only headers are read (never voxels), so importing a large cohort is fast.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib

from custom_networks.core.errors import InputError

__all__ = [
    "NIFTI_SUFFIXES",
    "PATH_KEYS",
    "RELATIVE_NOTE",
    "Collector",
    "Importer",
    "Layout",
    "RealSet",
    "Skip",
    "check_pair",
    "check_root",
    "header_shape",
    "nifti_file",
    "subject_folders",
]

logger = logging.getLogger(__name__)

#: Item keys whose values are files or folders (written relative to the datalist's folder).
PATH_KEYS = ("image", "label", "cine", "labelled_slices")
#: How the datalist files say where their paths start.
RELATIVE_NOTE = "paths are relative to this file's folder"
#: File name endings of NIfTI files, in the order they are looked for.
NIFTI_SUFFIXES = (".nii.gz", ".nii")

#: An importer: ``(root, base_dir=None, ...) -> (items, skipped)``.
Importer = Callable[..., tuple[list[dict], list[dict]]]


@dataclass(frozen=True)
class Layout:
    """A dataset layout as the registry knows it: its importer, and how a folder in the layout is recognised.

    Args:
        name: the layout's name (``--layout NAME``).
        importer: ``(root, base_dir=None, **options) -> (items, skipped)``.
        looks_like: what a folder of the layout holds, said when no layout matches (e.g. ``patientNNN/Info.cfg``).
        root_test: recognises the folder itself (``root -> bool``), or None.
        subject_test: recognises one of its subject folders (``folder -> bool``), or None.
        tree_test: recognises the folder by walking its tree (costly: tried only when no other layout matches), or
            None.
        options: keyword options the importer takes besides ``root`` and ``base_dir`` (e.g. ``("info_csv",)``).
    """

    name: str
    importer: Importer
    looks_like: str
    root_test: Callable[[Path], bool] | None = None
    subject_test: Callable[[Path], bool] | None = None
    tree_test: Callable[[Path], bool] | None = None
    options: tuple[str, ...] = ()

    def __call__(
        self, root: str | os.PathLike, base_dir: str | os.PathLike | None = None, **options: object
    ) -> tuple[list[dict], list[dict]]:
        """Import ``root``: see :attr:`importer`."""
        return self.importer(root, base_dir=base_dir, **options)


@dataclass(frozen=True)
class RealSet:
    """A named set of expert-labelled real stacks (one folder of ``real_labelled``, in the flat layout).

    Args:
        name: the set's folder name.
        citation: what to cite when reporting on it.
        licence: its licence (non-commercial sets say so).
        label_map: source label value -> project class, applied when its label maps are read; empty when the
            files are in the project's convention already (0 background, 1 LV blood pool, 2 LV myocardium, 3 RV).
    """

    name: str
    citation: str
    licence: str
    label_map: Mapping[int, int] = field(default_factory=dict)


class Skip(Exception):
    """A subject (or phase) that cannot be used: ``path`` is the file or folder concerned, ``reason`` says why."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(reason)
        self.path = Path(path)
        self.reason = reason


class Collector:
    """Items and skipped subjects of one import, with paths made relative to ``base_dir`` (absolute when None).

    Args:
        base_dir: the folder the datalist's paths start from, or None for absolute paths.
    """

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

    def skip(self, subject: str, problem: Skip, phase: str | None = None) -> None:
        """Record (and log) a subject or phase left out."""
        entry = {"subject": subject, "path": self.path(problem.path), "reason": problem.reason}
        if phase is not None:
            entry["phase"] = phase
        logger.warning("skipped %s%s: %s", subject, f" {phase}" if phase else "", problem.reason)
        self.skipped.append(entry)

    def result(self) -> tuple[list[dict], list[dict]]:
        """``(items, skipped)``."""
        return self.items, self.skipped


def check_root(root: str | os.PathLike) -> Path:
    """Absolute ``root`` (symbolic links kept), checked to be a folder.

    Args:
        root: the folder given to an importer.

    Raises:
        InputError: missing, or not a folder; the message starts with the path.
    """
    path = Path(os.path.abspath(root))
    if not path.exists():
        raise InputError(f"{root}: folder not found")
    if not path.is_dir():
        raise InputError(f"{root}: not a folder")
    return path


def subject_folders(root: Path, limit: int | None = None) -> list[Path]:
    """Sub-folders of ``root`` (not hidden), sorted by name; the first ``limit`` only when given.

    Args:
        root: the folder.
        limit: how many to return at most (None: all).
    """
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return folders if limit is None else folders[:limit]


def nifti_file(folder: Path, stem: str) -> Path | None:
    """``folder/stem.nii.gz`` or ``folder/stem.nii``, whichever exists.

    Args:
        folder: where to look.
        stem: the file name without its NIfTI ending.
    """
    for suffix in NIFTI_SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def header_shape(path: Path) -> tuple[int, ...]:
    """Array shape from the NIfTI header (voxels are not read), trailing singleton axes dropped.

    Args:
        path: a NIfTI file.

    Raises:
        Skip: the header cannot be read (missing, empty, corrupt or not NIfTI).
    """
    try:
        shape = tuple(int(n) for n in nib.load(str(path)).header.get_data_shape())
    except Exception as err:  # nibabel raises many types for a corrupt file (ImageFileError, EOFError, zlib ...)
        raise Skip(path, f"{path}: unreadable NIfTI header ({type(err).__name__}: {err})") from err
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    return shape


def check_pair(image: Path, label: Path) -> tuple[int, ...]:
    """Shape of ``image``, checked to be readable and to match its label's (headers only).

    Args:
        image: the image file.
        label: its label map.

    Raises:
        Skip: a header is unreadable or the shapes differ.
    """
    image_shape = header_shape(image)
    label_shape = header_shape(label)
    if label_shape != image_shape:
        raise Skip(label, f"{label}: shape {label_shape} differs from its image's {image_shape} ({image.name})")
    return image_shape
