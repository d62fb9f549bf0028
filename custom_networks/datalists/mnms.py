"""The M&Ms layout (Campello et al., IEEE TMI 2021): ``<id>/<id>_sa.nii.gz`` (4D cine) + ``<id>/<id>_sa_gt.nii.gz``
(4D labels, labelled at ED and ES only), with an optional M&Ms information CSV giving the 0-based ED/ES frames: one
item per phase with its ``frame`` when the CSV is given, one item per subject (the 4D files) otherwise.

A subject whose label is missing or unreadable, whose label shape differs from the image's, or whose CSV row is
missing or names frames outside the cine is skipped with the reason (:mod:`custom_networks.datalists.base`). The
labels are in the project's convention already (1 LV blood pool, 2 LV myocardium, 3 RV).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from custom_networks.core.cases import PHASES
from custom_networks.core.errors import InputError
from custom_networks.datalists.base import Collector, Layout, Skip, check_pair, check_root, nifti_file, subject_folders

__all__ = ["LAYOUT", "MNMS_COLUMNS", "MNMS_OPTIONAL_COLUMNS", "import_mnms", "is_mnms_subject"]

#: Columns the M&Ms information CSV must have, and optional column -> item key.
MNMS_COLUMNS = ("External code", "ED", "ES")
MNMS_OPTIONAL_COLUMNS = {"Vendor": "vendor", "VendorName": "vendor_name", "Centre": "centre", "Pathology": "pathology"}


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


def is_mnms_subject(folder: Path) -> bool:
    """Whether ``folder`` is an M&Ms subject folder (``<id>/<id>_sa.nii.gz``)."""
    return nifti_file(folder, f"{folder.name}_sa") is not None


def _mnms_subject(folder: Path, info: dict[str, dict[str, str]] | None, info_csv: Path | None, out: Collector) -> None:
    """Add the item(s) of one M&Ms subject folder.

    Raises:
        Skip: no or unreadable label, no CSV row, frames that are not in the cine.
    """
    subject = folder.name
    image = nifti_file(folder, f"{subject}_sa")
    label = nifti_file(folder, f"{subject}_sa_gt")
    if label is None:
        raise Skip(image, f"{image}: no label {subject}_sa_gt.nii.gz")
    shape = check_pair(image, label)
    if info is None:
        out.add({"subject": subject, "image": image, "label": label})
        return
    row = info.get(subject)
    if row is None:
        raise Skip(info_csv, f"{info_csv}: no row for subject {subject} (its ED and ES frames are unknown)")
    if len(shape) != 4:
        raise Skip(image, f"{image}: not a 4D cine (shape {shape})")
    frames = {}
    for phase in PHASES:
        try:
            value = float(row[phase])
        except ValueError:
            value = -1.0
        if not value.is_integer() or value < 0:
            raise Skip(info_csv, f"{info_csv}: {subject}: {phase} {row[phase]!r} is not a 0-based frame number")
        frames[phase] = int(value)
        if frames[phase] >= shape[3]:
            raise Skip(info_csv, f"{info_csv}: {subject}: {phase} frame {frames[phase]} beyond the {shape[3]} frames")
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
    root = check_root(root)
    folders = [f for f in subject_folders(root) if is_mnms_subject(f)]
    if not folders:
        raise InputError(f"{root}: no M&Ms subject folder found (<id>/<id>_sa.nii.gz)")
    info = None if info_csv is None else _read_mnms_info(info_csv)
    out = Collector(base_dir)
    for folder in folders:
        try:
            _mnms_subject(folder, info, None if info_csv is None else Path(info_csv), out)
        except Skip as problem:
            out.skip(folder.name, problem)
    return out.result()


#: The registry's entry (``info_csv``: the M&Ms information CSV).
LAYOUT = Layout(
    name="mnms",
    importer=import_mnms,
    looks_like="<id>/<id>_sa.nii.gz",
    subject_test=is_mnms_subject,
    options=("info_csv",),
)
