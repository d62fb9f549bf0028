"""The ``cine_sax`` folder of real cine stacks without manual labels (``<source>/sax_*.nii.gz`` with a
``*_pseudolabel.nii.gz`` beside each): the held-out-slice super-resolution test and agreement checks read it."""

from __future__ import annotations

import os
from pathlib import Path

from custom_networks.core.errors import InputError

__all__ = ["cine_stacks"]


def cine_stacks(cine: str | os.PathLike) -> list[tuple[str, Path, Path]]:
    """``(name, stack, pseudo-label)`` for every ``sax_*.nii*`` stack with its ``*_pseudolabel.nii*`` under
    ``cine/<source>/`` (the layout of ``shared/data/cine_sax``); names are ``<source>_<stack>``, e.g. ``acdc_ed``.

    Args:
        cine: the ``cine_sax`` folder.

    Raises:
        InputError: the folder is missing or holds no stack with a pseudo-label.
    """
    cine = Path(cine)
    if not cine.is_dir():
        raise InputError(f"{cine}: no such folder (expected <data>/cine_sax/<source>/sax_*.nii.gz)")
    stacks = []
    for source in sorted(p for p in cine.iterdir() if p.is_dir()):
        for image in sorted(source.glob("sax_*.nii*")):
            label = image.with_name(image.name.replace(".nii", "_pseudolabel.nii"))
            if "pseudolabel" not in image.name and label.is_file():
                stacks.append((f"{source.name}_{image.name.split('.nii')[0].removeprefix('sax_')}", image, label))
    if not stacks:
        raise InputError(f"{cine}: no sax_*.nii.gz stack with its *_pseudolabel.nii.gz found")
    return stacks
