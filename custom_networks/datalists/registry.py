"""The one registry of datasets: layout name -> the module of its importer, and real labelled set name -> what it is
(citation, licence, label mapping); :func:`get_layout` and :func:`detect_layout`.

A new dataset layout is one module in this package defining ``LAYOUT`` (a :class:`~custom_networks.datalists.base.
Layout`: its importer and how its folders are recognised) plus one entry in :data:`LAYOUTS`; the command line
(``--layout``), :func:`~custom_networks.datalists.build.build_datalist` and :func:`detect_layout` then know it. A new
set of the real labelled folder (``real_labelled/<set>/``, in the flat layout) is one entry in :data:`REAL_SETS`.
The importer modules are imported when their layout is used, not by importing this registry.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from custom_networks.core.errors import InputError
from custom_networks.datalists.base import Layout, RealSet, check_root, subject_folders

__all__ = ["DETECT_FOLDERS", "LAYOUTS", "REAL_SETS", "detect_layout", "get_layout"]

#: Layout name -> the module defining its ``LAYOUT`` (full module path), in the order they are listed and detected.
LAYOUTS: dict[str, str] = {
    "acdc": "custom_networks.datalists.acdc",
    "mnms": "custom_networks.datalists.mnms",
    "ukbb": "custom_networks.datalists.ukbb",
    "dicom": "custom_networks.datalists.dicom",
    "flat": "custom_networks.datalists.flat",
}

#: Real labelled set (folder name in ``real_labelled``) -> citation, licence and label mapping (none needed: the
#: sets were converted to the project's convention, see ``real_labelled/README.md``).
REAL_SETS: dict[str, RealSet] = {
    "acdc": RealSet("acdc", "Bernard et al., IEEE TMI 37(11), 2018", "CC BY-NC-SA 4.0 (non-commercial)"),
    "mnms": RealSet("mnms", "Campello et al., IEEE TMI 40(12), 2021", "M&Ms terms (non-commercial)"),
    "sunnybrook": RealSet("sunnybrook", "Radau et al., MIDAS Journal, 2009", "CC0 1.0"),
}

#: Sub-folders :func:`detect_layout` looks at (enough to recognise a layout, cheap on a cohort of thousands).
DETECT_FOLDERS = 50


def get_layout(name: str) -> Layout:
    """The registry's entry of a layout.

    Args:
        name: a :data:`LAYOUTS` name.

    Raises:
        InputError: unknown name (the known ones listed).
    """
    if name not in LAYOUTS:
        raise InputError(f"--layout {name!r}: unknown layout; choose {', '.join(LAYOUTS)}")
    return importlib.import_module(LAYOUTS[name]).LAYOUT


def detect_layout(root: str | os.PathLike) -> str:
    """The layout of a folder: from the folder itself, then from its first :data:`DETECT_FOLDERS` sub-folders; a
    layout recognised by walking the tree (DICOM) is tried only when no other matches.

    Args:
        root: the folder.

    Returns:
        A :data:`LAYOUTS` name.

    Raises:
        InputError: ``root`` is missing, matches no layout, or matches several (choose one with ``--layout``).
    """
    path = check_root(root)
    layouts = [get_layout(name) for name in LAYOUTS]
    folders: list[Path] | None = None
    found = [layout.name for layout in layouts if layout.root_test is not None and layout.root_test(path)]
    for layout in layouts:
        if layout.subject_test is not None:
            folders = subject_folders(path, DETECT_FOLDERS) if folders is None else folders
            if any(layout.subject_test(f) for f in folders):
                found.append(layout.name)
    if len(found) > 1:
        raise InputError(f"{root}: looks like several layouts ({', '.join(found)}); choose one with --layout")
    if found:
        return found[0]
    for layout in layouts:
        if layout.tree_test is not None and layout.tree_test(path):
            return layout.name
    hints = [f"{x.name}: {x.looks_like}" for x in layouts if x.tree_test is None]
    hints += [f"{x.name}: {x.looks_like}" for x in layouts if x.tree_test is not None]
    raise InputError(f"{root}: no known layout ({'; '.join(hints)})")
