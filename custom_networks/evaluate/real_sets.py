"""The expert-labelled real short-axis sets (``shared/data/real_labelled``): finding their cases, reading them and
what each manual label map annotates.

Layout (one folder per set): ``<set>/<case>_image.nii.gz`` + ``<case>_gt.nii.gz`` on the same native grid, case
names ``<subject>_ED`` / ``<subject>_ES``, labels 0 background, 1 LV blood pool, 2 LV myocardium, 3 RV. A case may
carry ``<case>_labelled_slices.json`` (Sunnybrook): only the slices listed per label were contoured; elsewhere the
label is unknown, and a label missing from the lists was never contoured. Without that file every class is
labelled on every slice (ACDC, M&Ms).

Set names: ``acdc`` (Bernard et al., IEEE TMI 2018; CC BY-NC-SA 4.0; nominal voxel size), ``mnms`` (Campello et al.,
IEEE TMI 2021; non-commercial), ``sunnybrook`` (Radau et al., MIDAS Journal 2009; CC0).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from custom_networks.core.geometry import slice_axis_of
from custom_networks.core.label_maps import Annotation, load_label, read_annotation
from custom_networks.core.nifti import InputError, load_nifti
from custom_networks.evaluate.cases import phase_of

__all__ = ["REAL_SETS", "RealCase", "find_real_cases", "load_real_case"]

#: Known sets: name -> (citation, licence).
REAL_SETS: dict[str, tuple[str, str]] = {
    "acdc": ("Bernard et al., IEEE TMI 37(11), 2018", "CC BY-NC-SA 4.0 (non-commercial)"),
    "mnms": ("Campello et al., IEEE TMI 40(12), 2021", "M&Ms terms (non-commercial)"),
    "sunnybrook": ("Radau et al., MIDAS Journal, 2009", "CC0 1.0"),
}


@dataclass(frozen=True)
class RealCase:
    """One labelled real stack.

    Args:
        set: set name (folder name).
        name: case name, e.g. ``patient001_ED``.
        image: the stack (NIfTI).
        label: its manual label map (same grid).
        slices_json: ``<case>_labelled_slices.json`` when the labels are partial, else None.
    """

    set: str
    name: str
    image: Path
    label: Path
    slices_json: Path | None = None

    @property
    def subject(self) -> str:
        """Subject name (the case name without ``_ED`` / ``_ES``)."""
        return phase_of(self.name)[0]

    @property
    def phase(self) -> str | None:
        """``"ED"``, ``"ES"`` or None."""
        return phase_of(self.name)[1]


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
            cases.append(
                RealCase(folder.name, name, images[name], labels[name], sidecar if sidecar.is_file() else None)
            )
    if not cases:
        raise InputError(f"{data}: no <case>_image.nii.gz + <case>_gt.nii.gz pair found")
    return cases, skipped


def load_real_case(case: RealCase) -> tuple[np.ndarray, np.ndarray, np.ndarray, Annotation]:
    """Read a case and check it: ``(image, label, affine, annotation)``.

    Raises:
        InputError: unreadable files, label values outside 0-3, label grid different from the image's, an empty
            manual label, or a labelled-slices file that does not fit the stack.
    """
    image, affine = load_nifti(case.image)
    label, label_affine = load_label(case.label)
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
