"""The whole datalist of a folder: its layout (given or detected), its importer's items and skipped subjects, and
what they came from; the content of the file ``python -m custom_networks.datalists build`` writes."""

from __future__ import annotations

import logging
import os

from custom_networks.core.errors import InputError
from custom_networks.datalists.base import PATH_KEYS, RELATIVE_NOTE, Collector, check_root
from custom_networks.datalists.registry import LAYOUTS, detect_layout, get_layout

__all__ = ["build_datalist"]

logger = logging.getLogger(__name__)


def _path_like_values(items: list[dict], base_dir: str | os.PathLike) -> list[tuple[str, str]]:
    """``(key, value)`` of non-path item values that name an existing path relative to ``base_dir``:
    ``monai.data.load_decathlon_datalist`` would turn them into paths."""
    clashes = []
    for item in items:
        for key, value in item.items():
            if (
                key not in PATH_KEYS
                and isinstance(value, str)
                and value
                and os.path.exists(os.path.join(base_dir, value))
            ):
                clashes.append((key, value))
    return clashes


def build_datalist(
    root: str | os.PathLike,
    layout: str = "auto",
    base_dir: str | os.PathLike | None = None,
    info_csv: str | os.PathLike | None = None,
) -> dict:
    """The datalist of a folder (the content of the file ``python -m custom_networks.datalists build`` writes).

    Args:
        root: the folder.
        layout: a :data:`~custom_networks.datalists.registry.LAYOUTS` name, or ``"auto"``
            (:func:`~custom_networks.datalists.registry.detect_layout`).
        base_dir: folder the paths are written relative to (the folder of the datalist file); absolute paths when
            None.
        info_csv: M&Ms information CSV (the layouts that take it: ``mnms``).

    Returns:
        ``{"name", "description", "layout", "root", "numSubjects", "numItems", "numSkipped", "items", "skipped"}``:
        ``name`` the folder's name, ``root`` the folder (relative to ``base_dir`` like the items), ``items`` and
        ``skipped`` from the layout's importer.

    Raises:
        InputError: unknown layout, ``info_csv`` with a layout that does not read it, the importer's errors, or no
            usable item (every subject skipped).
    """
    if layout not in ("auto", *LAYOUTS):
        raise InputError(f"--layout {layout!r}: unknown layout; choose auto, {', '.join(LAYOUTS)}")
    path = check_root(root)
    if layout == "auto":
        layout = detect_layout(path)
        logger.info("%s: %s layout", path, layout)
    importer = get_layout(layout)
    if info_csv is not None and "info_csv" not in importer.options:
        readers = " and ".join(name for name in LAYOUTS if "info_csv" in get_layout(name).options)
        raise InputError(f"--info_csv {info_csv}: only the {readers} layout reads an info CSV (layout here: {layout})")
    options = {"info_csv": info_csv} if "info_csv" in importer.options else {}
    items, skipped = importer(path, base_dir=base_dir, **options)
    if not items:
        first = f" (first: {skipped[0]['reason']})" if skipped else ""
        raise InputError(f"{root}: no usable item: all {len(skipped)} subjects or phases skipped{first}")
    collector = Collector(base_dir)
    subjects = list(dict.fromkeys(item["subject"] for item in items))
    if base_dir is not None:
        clashes = _path_like_values(items, base_dir)
        if clashes:
            key, value = clashes[0]
            logger.warning(
                "%d item value(s) (e.g. %s %r) name existing paths relative to %s: monai.data.load_decathlon_datalist "
                "would turn them into paths; write the datalist outside the image folders to keep them as they are",
                len(clashes),
                key,
                value,
                base_dir,
            )
    logger.info("%s: %d items of %d subjects, %d skipped", path, len(items), len(subjects), len(skipped))
    return {
        "name": path.name,
        "description": f"{layout} datalist of {path.name}" + ("" if base_dir is None else f"; {RELATIVE_NOTE}"),
        "layout": layout,
        "root": collector.path(path),
        "numSubjects": len(subjects),
        "numItems": len(items),
        "numSkipped": len(skipped),
        "items": items,
        "skipped": skipped,
    }
