"""The UK Biobank-style layout: ``<id>/sa.nii.gz`` with an optional ``<id>/seg_sa.nii.gz`` label, one item per
subject. A subject whose image or label header is unreadable, or whose label shape differs from the image's, is
skipped with the reason (:mod:`custom_networks.datalists.base`)."""

from __future__ import annotations

import os
from pathlib import Path

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

__all__ = ["LAYOUT", "import_ukbb", "is_ukbb_subject"]


def is_ukbb_subject(folder: Path) -> bool:
    """Whether ``folder`` is a UK Biobank-style subject folder (``<id>/sa.nii.gz``)."""
    return nifti_file(folder, "sa") is not None


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
    root = check_root(root)
    folders = [f for f in subject_folders(root) if is_ukbb_subject(f)]
    if not folders:
        raise InputError(f"{root}: no UK Biobank subject folder found (<id>/sa.nii.gz)")
    out = Collector(base_dir)
    for folder in folders:
        image = nifti_file(folder, "sa")
        label = nifti_file(folder, "seg_sa")
        try:
            if label is None:
                header_shape(image)
            else:
                check_pair(image, label)
        except Skip as problem:
            out.skip(folder.name, problem)
            continue
        out.add({"subject": folder.name, "image": image, **({"label": label} if label is not None else {})})
    return out.result()


#: The registry's entry.
LAYOUT = Layout(name="ukbb", importer=import_ukbb, looks_like="<id>/sa.nii.gz", subject_test=is_ukbb_subject)
