"""Finding the cases to score: reference cases, each method's predictions, and matching them by name (case names
and their phases: :mod:`custom_networks.core.cases`).

Reference folders:

- a generated dataset (a folder with ``dataset.json``): the items of one split, named ``<subject>_<phase>``
  (:func:`custom_networks.data.case_name`), reference label ``hr_label``, reference image ``hr_image``, native stack
  ``lr_image``;
- any other folder of NIfTI files named ``<case>_label.nii.gz`` (or ``<case>_seg.nii.gz``) and/or
  ``<case>_image.nii.gz`` (or ``<case>_sr.nii.gz``), optionally ``<case>_lr.nii.gz`` (the acquired stack, for the
  figures).

Prediction folders hold ``<case>_seg.nii.gz`` and/or ``<case>_sr.nii.gz`` (what the bundles' inference and the
classic baselines write). ``--pred`` is one such folder (one method, named after the folder), a folder whose
sub-folders are such folders (one method each), or a mapping ``{method: folder}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from custom_networks.core.errors import InputError
from custom_networks.data.dataset import case_name

__all__ = ["PredictionCase", "ReferenceCase", "find_methods", "find_predictions", "find_references"]

_SUFFIXES = (".nii.gz", ".nii")


@dataclass
class ReferenceCase:
    """One reference case.

    Args:
        name: case name.
        label: reference label map (HR), if any.
        image: reference grey volume (HR), if any.
        stack: the acquired low-resolution stack, if known (only used by the figures).
    """

    name: str
    label: Path | None = None
    image: Path | None = None
    stack: Path | None = None


@dataclass
class PredictionCase:
    """One method's outputs for a case.

    Args:
        name: case name.
        seg: predicted label map, if any.
        sr: super-resolved grey volume, if any.
    """

    name: str
    seg: Path | None = None
    sr: Path | None = None


def _stem(path: Path) -> str:
    for suffix in _SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name


def _nifti_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(_SUFFIXES))


def find_references(ref_dir: str | os.PathLike, split: str = "test") -> dict[str, ReferenceCase]:
    """Reference cases of a generated dataset (one split, or ``"all"``) or of a folder of named files.

    Args:
        ref_dir: the reference folder.
        split: dataset split to use when ``ref_dir`` holds a ``dataset.json``.

    Raises:
        InputError: the folder does not exist, the split is unknown, or no reference file is found.
    """
    ref_dir = Path(ref_dir)
    if not ref_dir.is_dir():
        raise InputError(f"{ref_dir}: reference folder not found")
    if (ref_dir / "dataset.json").is_file():
        spec = json.loads((ref_dir / "dataset.json").read_text())
        splits = [s for s in ("training", "validation", "test") if s in spec] if split == "all" else [split]
        unknown = [s for s in splits if s not in spec]
        if unknown:
            raise InputError(f"{ref_dir / 'dataset.json'}: no split {unknown[0]!r} (use training/validation/test/all)")
        return {
            case_name(item): ReferenceCase(
                name=case_name(item),
                label=ref_dir / item["label"],
                image=ref_dir / item["hr_image"] if "hr_image" in item else None,
                stack=ref_dir / item["lr_image"] if "lr_image" in item else None,
            )
            for s in splits
            for item in spec[s]
        }
    cases: dict[str, ReferenceCase] = {}
    roles = {"label": "label", "seg": "label", "image": "image", "sr": "image", "hr": "image", "lr": "stack"}
    for path in _nifti_files(ref_dir):
        name, _, role = _stem(path).rpartition("_")
        if not name or role not in roles:
            continue
        case = cases.setdefault(name, ReferenceCase(name=name))
        if getattr(case, roles[role]) is None:
            setattr(case, roles[role], path)
    cases = {k: v for k, v in cases.items() if v.label is not None or v.image is not None}
    if not cases:
        raise InputError(
            f"{ref_dir}: no reference found (expected a dataset.json, or files named <case>_label.nii.gz / "
            "<case>_image.nii.gz)"
        )
    return cases


def find_predictions(pred_dir: str | os.PathLike) -> dict[str, PredictionCase]:
    """One method's outputs: ``<case>_seg.nii.gz`` / ``<case>_sr.nii.gz`` (``*_input_grid`` files are ignored)."""
    cases: dict[str, PredictionCase] = {}
    for path in _nifti_files(Path(pred_dir)):
        name, _, role = _stem(path).rpartition("_")
        if name and role in ("seg", "sr"):
            setattr(cases.setdefault(name, PredictionCase(name=name)), role, path)
    return cases


def find_methods(pred: str | os.PathLike | Mapping[str, str | os.PathLike]) -> dict[str, Path]:
    """Methods to score: ``{method name: prediction folder}``.

    Args:
        pred: a prediction folder (one method, named after the folder), a folder of such folders (one method per
            sub-folder holding predictions), or a mapping ``{method: folder}``.

    Raises:
        InputError: a folder does not exist or holds no prediction.
    """
    if isinstance(pred, Mapping):
        methods = {str(k): Path(v) for k, v in pred.items()}
    else:
        folder = Path(pred)
        if not folder.is_dir():
            raise InputError(f"{folder}: prediction folder not found")
        if find_predictions(folder):
            methods = {folder.name: folder}
        else:
            methods = {p.name: p for p in sorted(folder.iterdir()) if p.is_dir() and find_predictions(p)}
            if not methods:
                raise InputError(
                    f"{folder}: no prediction found (expected <case>_seg.nii.gz / <case>_sr.nii.gz files, here or "
                    "in one sub-folder per method)"
                )
    for name, folder in methods.items():
        if not folder.is_dir():
            raise InputError(f"{folder}: prediction folder of method {name!r} not found")
        if not find_predictions(folder):
            raise InputError(f"{folder}: holds no <case>_seg.nii.gz / <case>_sr.nii.gz file (method {name!r})")
    return methods
