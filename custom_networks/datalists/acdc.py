"""The ACDC layout (Bernard et al., IEEE TMI 2018): ``patientNNN/patientNNN_frameXX.nii.gz`` +
``patientNNN_frameXX_gt.nii.gz`` and ``patientNNN/Info.cfg`` (``ED: 1``, ``ES: 12``, ``Group: DCM``, ``Height: 184.0``,
``NbFrame: 30``, ``Weight: 95.0``; ED/ES are 1-based frame numbers of ``patientNNN_4d.nii.gz``). One item per subject
and phase.

A subject (or one phase of it) whose image has a missing or unreadable companion (label, ``Info.cfg``, 4D cine), or
whose files disagree (label shape different from the image's, frame outside the cine) is skipped with the reason
(:mod:`custom_networks.datalists.base`).

ACDC's label values are 1 RV, 2 LV myocardium, 3 LV blood pool: the importer lists files and reads no label map, and
every item carries ``label_map`` (:data:`ACDC_LABEL_MAP`: 1 -> 3, 3 -> 1), which the label readers apply.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from custom_networks.core.cases import PHASES
from custom_networks.core.errors import InputError
from custom_networks.datalists.base import (
    Collector,
    Layout,
    Skip,
    check_pair,
    check_root,
    header_shape,
    nifti_file,
    subject_folders,
)

__all__ = ["ACDC_INFO_KEYS", "ACDC_LABEL_MAP", "LAYOUT", "import_acdc", "is_acdc_subject"]

logger = logging.getLogger(__name__)

#: ACDC's label values (1 RV, 2 LV myocardium, 3 LV blood pool) -> the project's (1 LV blood pool, 2 myo, 3 RV).
ACDC_LABEL_MAP: dict[int, int] = {1: 3, 3: 1}
#: ``Info.cfg`` key -> item key of the ACDC subject metadata copied into every item (with its type).
ACDC_INFO_KEYS: dict[str, tuple[str, type]] = {
    "Group": ("group", str),
    "Height": ("height_cm", float),
    "Weight": ("weight_kg", float),
}

_ACDC_FRAME = re.compile(r"^(?P<stem>.+)_frame(?P<number>\d+)(?P<gt>_gt)?\.nii(\.gz)?$")


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


def is_acdc_subject(folder: Path) -> bool:
    """Whether ``folder`` is an ACDC subject folder (``Info.cfg``, a ``<name>_4d`` cine or ``<name>_frameXX`` files)."""
    if (folder / "Info.cfg").is_file() or nifti_file(folder, f"{folder.name}_4d") is not None:
        return True
    return any(_ACDC_FRAME.match(p.name) for p in folder.iterdir())


def _read_info_cfg(path: Path) -> dict[str, str]:
    """``Key: value`` lines of an ACDC ``Info.cfg``.

    Raises:
        Skip: unreadable file.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise Skip(path, f"{path}: unreadable ({err.strerror or err})") from err
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            info[key.strip()] = value.strip()
    return info


def _frame_number(info: dict[str, str], key: str, path: Path) -> int:
    """A 1-based frame number of ``Info.cfg``.

    Raises:
        Skip: absent, or not a positive integer.
    """
    if key not in info:
        raise Skip(path, f"{path}: no '{key}:' line (ACDC Info.cfg gives the ED and ES frame numbers)")
    try:
        number = int(info[key])
    except ValueError:
        number = 0
    if number < 1:
        raise Skip(path, f"{path}: {key} {info[key]!r} is not a frame number (1, 2, ...)")
    return number


def _acdc_subject(folder: Path, out: Collector) -> None:
    """Add the ED and ES items of one ACDC subject folder.

    Raises:
        Skip: the whole subject is unusable (no or unreadable Info.cfg, unreadable 4D cine).
    """
    subject = folder.name
    cfg = folder / "Info.cfg"
    if not cfg.is_file():
        raise Skip(folder, f"{folder}: no Info.cfg (the ED and ES frames are unknown)")
    info = _read_info_cfg(cfg)
    numbers = {phase: _frame_number(info, phase, cfg) for phase in PHASES}
    meta: dict[str, Any] = {}
    for cfg_key, (item_key, kind) in ACDC_INFO_KEYS.items():
        if cfg_key in info and info[cfg_key] != "":
            try:
                meta[item_key] = kind(info[cfg_key])
            except ValueError:
                logger.warning("%s: %s %r is not a number; left out of the items", cfg, cfg_key, info[cfg_key])
    cine = nifti_file(folder, f"{subject}_4d")
    num_frames = None
    if cine is not None:
        shape = header_shape(cine)
        if len(shape) != 4:
            raise Skip(cine, f"{cine}: not a 4D cine (shape {shape})")
        num_frames = shape[3]
    elif info.get("NbFrame", "").isdigit():
        num_frames = int(info["NbFrame"])
    images, labels = _acdc_frames(folder)
    for phase, number in numbers.items():
        try:
            if num_frames is not None and number > num_frames:
                raise Skip(cfg, f"{cfg}: {phase} frame {number} beyond the cine's {num_frames} frames")
            image, label = images.get(number), labels.get(number)
            if image is None:
                raise Skip(folder, f"{folder}: no {subject}_frame{number:02d}.nii.gz ({phase} image, Info.cfg)")
            if label is None:
                raise Skip(image, f"{image}: no label {subject}_frame{number:02d}_gt.nii.gz")
            check_pair(image, label)
        except Skip as problem:
            out.skip(subject, problem, phase)
            continue
        item = {"subject": subject, "phase": phase, "image": image, "label": label, "frame": number - 1}
        item["label_map"] = {str(k): v for k, v in ACDC_LABEL_MAP.items()}  # JSON keys are strings
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
    root = check_root(root)
    folders = [f for f in subject_folders(root) if is_acdc_subject(f)]
    if not folders:
        raise InputError(
            f"{root}: no ACDC subject folder found (patientNNN/ with Info.cfg and patientNNN_frameXX.nii.gz)"
        )
    out = Collector(base_dir)
    for folder in folders:
        try:
            _acdc_subject(folder, out)
        except Skip as problem:
            out.skip(folder.name, problem)
    return out.result()


#: The registry's entry.
LAYOUT = Layout(
    name="acdc",
    importer=import_acdc,
    looks_like="patientNNN/Info.cfg",
    subject_test=is_acdc_subject,
)
