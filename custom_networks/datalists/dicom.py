"""The DICOM study-tree layout: one item per folder holding DICOM files (per series when a folder holds several);
the subject is the first path component under the root. Only the DICOM headers are read; ITK is imported when a
DICOM tree is looked at, not before."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from custom_networks.core.errors import InputError
from custom_networks.datalists.base import Collector, Layout, Skip, check_root

__all__ = ["LAYOUT", "dicom_folders", "import_dicom"]


def dicom_folders(root: Path, first_only: bool = False) -> list[Path]:
    """Folders under ``root`` (itself included, hidden ones excluded) that hold DICOM files, in walk order.

    Args:
        root: the top folder.
        first_only: stop at the first one found (enough to recognise the layout).
    """
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

    root = check_root(root)
    folders = dicom_folders(root)
    if not folders:
        raise InputError(f"{root}: no folder holding DICOM files found")
    out = Collector(base_dir)
    for folder in folders:
        parts = folder.relative_to(root).parts
        subject = parts[0] if parts else root.name
        try:
            series = list_dicom_series(folder)
        except InputError as err:
            out.skip(subject, Skip(folder, str(err)))
            continue
        for entry in series:
            item: dict[str, Any] = {"subject": subject, "image": folder}
            if len(series) > 1:
                item["series"] = entry["uid"]
            if entry["description"]:
                item["series_description"] = entry["description"]
            out.add(item)
    return out.result()


def _has_dicom(root: Path) -> bool:
    return bool(dicom_folders(root, first_only=True))


#: The registry's entry (recognised by walking the tree: tried after every other layout).
LAYOUT = Layout(name="dicom", importer=import_dicom, looks_like="folders of DICOM files", tree_test=_has_dicom)
