"""Helpers called from the bundle configs: locating the bundle, the resume checkpoint and the datalist."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monai.data import load_decathlon_datalist

from custom_networks.core.errors import InputError

__all__ = ["default_bundle_root", "existing_file", "latest_checkpoint", "load_datalist", "without_none"]

logger = logging.getLogger(__name__)


def default_bundle_root(name: str) -> str:
    """Root folder of bundle ``name`` when ``--bundle_root`` is not given.

    Works from inside the bundle folder (the Model Zoo convention, ``bundle_root = "."``), from the folder that
    holds it (this repository's README commands), and, for a packaged bundle (this code vendored in its
    ``scripts/``), from anywhere.
    """
    cwd = Path.cwd()
    if cwd.name == name or (cwd / "configs" / "metadata.json").is_file() and not (cwd / name).is_dir():
        return "."
    vendored = Path(__file__).resolve().parents[2]  # <bundle>/scripts when packaged
    if vendored.name == "scripts" and (vendored.parent / "configs" / "metadata.json").is_file():
        return str(vendored.parent)
    return str(Path(name))


def existing_file(path: str | os.PathLike, what: str = "model weights") -> str:
    """``path`` as a string when it is a file; otherwise an error that says what is missing and the likely cause.

    Raises:
        InputError: ``path`` is missing (a bundle run from outside the repository root without ``--bundle_root``,
            or weights not trained yet).
    """
    if not Path(path).is_file():
        raise InputError(
            f"{path}: {what} not found (run from the repository root or the bundle folder, or pass --bundle_root "
            "<bundle folder>; untrained weights: see the model card's training command)"
        )
    return str(path)


def latest_checkpoint(folder: str | os.PathLike, prefix: str = "resume") -> str | None:
    """Path of the newest ``<prefix>_*epoch=N.pt`` checkpoint in ``folder`` (largest N), or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    best, best_epoch = None, -1
    for path in folder.glob(f"{prefix}*.pt"):
        match = re.search(r"=(\d+)\.pt$", path.name)
        epoch = int(match.group(1)) if match else 0
        if epoch > best_epoch:
            best, best_epoch = path, epoch
    return str(best) if best else None


def load_datalist(dataset_dir: str | os.PathLike, split: str, **synth_kwargs: Any) -> list[dict]:
    """Datalist ``split`` of a dataset folder, generating a small seeded dataset there first if it is empty
    (the bundles' embedded default).

    Args:
        dataset_dir: dataset folder (holding ``dataset.json``, or empty / missing).
        split: ``"training"``, ``"validation"`` or ``"test"``.
        synth_kwargs: arguments of :func:`custom_networks.data.ensure_dataset` used when generating.
    """
    from custom_networks.data.dataset import ensure_dataset  # training / evaluation only: the data engine

    folder = ensure_dataset(dataset_dir, **synth_kwargs)
    items = load_decathlon_datalist(Path(folder) / "dataset.json", data_list_key=split, base_dir=folder)
    if not items:
        raise ValueError(f"{folder}/dataset.json: split '{split}' is empty")
    return items


def without_none(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of ``mapping`` without its None values (e.g. a checkpoint ``save_dict`` without a discriminator)."""
    return {k: v for k, v in mapping.items() if v is not None}
