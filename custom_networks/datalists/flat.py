"""The flat layout of the real labelled sets (``shared/data/real_labelled/<set>/``): ``<case>_image.nii.gz`` +
``<case>_gt.nii.gz`` on the same native grid, case names ``<subject>_ED`` / ``<subject>_ES``, labels 0 background, 1 LV
blood pool, 2 LV myocardium, 3 RV (a set whose files use other values declares its ``label_map`` in
:data:`~custom_networks.datalists.registry.REAL_SETS`). A case may carry ``<case>_labelled_slices.json`` (Sunnybrook):
only the slices listed per label were contoured; elsewhere the label is unknown, and a label missing from the lists was
never contoured. Without that file every class is labelled on every slice (ACDC, M&Ms). A subject may have its 4D cine
beside its cases, ``<subject>_cine.nii.gz`` (Sunnybrook).

- :func:`find_real_cases`: the cases of one or more sets (:class:`RealCase`), and the unpaired files;
- :func:`load_real_case`: one case read and checked (image, label, affine, what is annotated);
- :func:`import_flat`: the datalist items of one set folder (headers only).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from custom_networks.core.cases import phase_of
from custom_networks.core.errors import InputError
from custom_networks.core.geometry import slice_axis_of
from custom_networks.core.label_maps import Annotation, load_label, read_annotation
from custom_networks.core.nifti import load_nifti
from custom_networks.datalists.base import NIFTI_SUFFIXES, Collector, Layout, Skip, check_pair, check_root
from custom_networks.datalists.registry import REAL_SETS

__all__ = ["LAYOUT", "RealCase", "find_real_cases", "import_flat", "is_flat", "load_real_case"]


@dataclass(frozen=True)
class RealCase:
    """One labelled real stack.

    Args:
        set: set name (folder name).
        name: case name, e.g. ``patient001_ED``.
        image: the stack (NIfTI).
        label: its manual label map (same grid).
        slices_json: ``<case>_labelled_slices.json`` when the labels are partial, else None.
        cine: the subject's 4D cine beside the case (``<subject>_cine.nii.gz``), else None.
    """

    set: str
    name: str
    image: Path
    label: Path
    slices_json: Path | None = None
    cine: Path | None = None

    @property
    def subject(self) -> str:
        """Subject name (the case name without ``_ED`` / ``_ES``)."""
        return phase_of(self.name)[0]

    @property
    def phase(self) -> str | None:
        """``"ED"``, ``"ES"`` or None."""
        return phase_of(self.name)[1]

    @property
    def label_map(self) -> Mapping[int, int]:
        """Label value -> project class that its set declares (:data:`~custom_networks.datalists.registry.REAL_SETS`);
        empty when the set is in the project's convention, or not registered."""
        known = REAL_SETS.get(self.set)
        return known.label_map if known is not None else {}


def _cine_of(folder: Path, subject: str) -> Path | None:
    for suffix in NIFTI_SUFFIXES:
        path = folder / f"{subject}_cine{suffix}"
        if path.is_file():
            return path
    return None


def find_real_cases(data: str | os.PathLike, sets: Sequence[str] | None = None) -> tuple[list[RealCase], list[dict]]:
    """Cases of the real labelled sets.

    Args:
        data: the ``real_labelled`` folder.
        sets: set folders to use (default: every sub-folder holding ``*_image`` / ``*_gt`` pairs).

    Returns:
        ``(cases, skipped)``: the cases sorted by set and name; ``skipped`` rows ``{"set", "case", "reason"}`` for
        images without a label (and labels without an image).

    Raises:
        InputError: ``data`` or a requested set folder is missing, or no case is found.
    """
    data = Path(data)
    if not data.is_dir():
        raise InputError(f"{data}: folder not found (expected the real_labelled folder with one sub-folder per set)")
    if sets is None:
        folders = sorted(p for p in data.iterdir() if p.is_dir() and any(p.glob("*_gt.nii*")))
    else:
        folders = []
        for name in sets:
            folder = data / name
            if not folder.is_dir():
                known = ", ".join(sorted(p.name for p in data.iterdir() if p.is_dir()))
                raise InputError(f"{folder}: set folder not found (sets here: {known})")
            folders.append(folder)
    cases, skipped = [], []
    for folder in folders:
        images = {p.name.split("_image.nii")[0]: p for p in folder.glob("*_image.nii*") if not p.name.startswith(".")}
        labels = {p.name.split("_gt.nii")[0]: p for p in folder.glob("*_gt.nii*") if not p.name.startswith(".")}
        for name in sorted(set(images) | set(labels)):
            if name not in labels:
                skipped.append({"set": folder.name, "case": name, "reason": f"{images[name]}: no manual label (_gt)"})
                continue
            if name not in images:
                skipped.append({"set": folder.name, "case": name, "reason": f"{labels[name]}: no image (_image)"})
                continue
            sidecar = folder / f"{name}_labelled_slices.json"
            cine = _cine_of(folder, phase_of(name)[0])
            cases.append(
                RealCase(folder.name, name, images[name], labels[name], sidecar if sidecar.is_file() else None, cine)
            )
    if not cases:
        raise InputError(f"{data}: no <case>_image.nii.gz + <case>_gt.nii.gz pair found")
    return cases, skipped


def load_real_case(case: RealCase) -> tuple[np.ndarray, np.ndarray, np.ndarray, Annotation]:
    """Read a case and check it; its label map is read with its set's declared ``label_map``.

    Args:
        case: a case of :func:`find_real_cases`.

    Returns:
        ``(image, label, affine, annotation)``.

    Raises:
        InputError: unreadable files, label values outside 0-3, label grid different from the image's, an empty
            manual label, or a labelled-slices file that does not fit the stack.
    """
    image, affine = load_nifti(case.image)
    label, label_affine = load_label(case.label, case.label_map)
    if label.shape != image.shape or not np.allclose(label_affine, affine, atol=1e-3):
        raise InputError(
            f"{case.label}: grid {label.shape} differs from its image's {image.shape} "
            f"(max affine difference {np.abs(label_affine - affine).max():.3g} mm)"
        )
    annotation = read_annotation(case.slices_json, slice_axis_of(affine), image.shape[slice_axis_of(affine)])
    labelled = [c for c in (1, 2, 3) if annotation.labelled(c)]
    if not any((label == c).any() for c in labelled):
        raise InputError(f"{case.label}: manual label is empty (no labelled structure present)")
    return image, label, affine, annotation


def is_flat(root: Path) -> bool:
    """Whether ``root`` holds ``<case>_image`` and ``<case>_gt`` NIfTI files.

    Args:
        root: the folder.
    """
    return any(root.glob("*_image.nii*")) and any(root.glob("*_gt.nii*"))


def import_flat(root: str | os.PathLike, base_dir: str | os.PathLike | None = None) -> tuple[list[dict], list[dict]]:
    """Items of a flat folder of ``<case>_image.nii.gz`` + ``<case>_gt.nii.gz`` pairs (the real labelled sets' form).

    The pairs are found by :func:`find_real_cases`, subject and phase by the case name's ``_ED`` / ``_ES`` suffix
    (:func:`custom_networks.core.cases.phase_of`).

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
    root = check_root(root)
    try:
        cases, unpaired = find_real_cases(root.parent, [root.name])
    except InputError as err:
        raise InputError(f"{root}: no <case>_image.nii.gz + <case>_gt.nii.gz pair found") from err
    out = Collector(base_dir)
    for row in unpaired:
        subject, phase = phase_of(row["case"])
        files = sorted(root.glob(f"{glob.escape(row['case'])}_*.nii*"))
        out.skip(subject, Skip(files[0] if files else root, row["reason"]), phase)
    for case in cases:
        try:
            check_pair(case.image, case.label)
        except Skip as problem:
            out.skip(case.subject, problem, case.phase)
            continue
        item: dict[str, Any] = {"subject": case.subject}
        if case.phase is not None:
            item["phase"] = case.phase
        item.update(case=case.name, image=case.image, label=case.label)
        if case.slices_json is not None:
            item["labelled_slices"] = case.slices_json
        if case.label_map:  # a set whose files use other label values (its REAL_SETS entry): the readers apply it
            item["label_map"] = {str(k): int(v) for k, v in case.label_map.items()}
        out.add(item)
    return out.result()


#: The registry's entry.
LAYOUT = Layout(
    name="flat",
    importer=import_flat,
    looks_like="<case>_image.nii.gz + <case>_gt.nii.gz",
    root_test=is_flat,
)
