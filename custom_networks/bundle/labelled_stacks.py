"""The labelled real stacks a fine-tuning config trains on: from a folder (any layout the datalist importers read)
or a datalist file, split by subject; and the pretrained weights it starts from."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from custom_networks.core.nifti import InputError

__all__ = ["LABELLED_SPLITS", "labelled_stacks", "load_pretrained"]

logger = logging.getLogger(__name__)

#: Splits :func:`labelled_stacks` returns.
LABELLED_SPLITS = ("training", "validation")

_ITEM_KEYS = ("image", "label", "labelled_slices")


def _items_of(source: Path) -> tuple[list[dict], dict[str, list[dict]] | None]:
    """Items of a folder or a datalist file, and its own splits when the file has them."""
    from custom_networks.datalists import build_datalist, read_datalist

    if source.is_dir():
        return build_datalist(source)["items"], None
    data = read_datalist(source)
    base = source.parent

    def absolute(items: Any, key: str) -> list[dict]:
        if not isinstance(items, list) or not all(isinstance(i, dict) and "image" in i and "label" in i for i in items):
            raise InputError(f"{source}: {key!r} must be a list of items with 'image' and 'label'")
        return [
            {k: str(base / v) if k in _ITEM_KEYS and v and not os.path.isabs(str(v)) else v for k, v in i.items()}
            for i in items
        ]

    if "items" in data:
        return absolute(data["items"], "items"), None
    if "training" in data:
        return [], {s: absolute(data.get(s, []), s) for s in LABELLED_SPLITS}
    raise InputError(f"{source}: no 'items' (datalists build) nor 'training' (decathlon datalist) list")


def labelled_stacks(
    source: str | os.PathLike | Sequence[str | os.PathLike] | None,
    split: str,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> list[dict]:
    """Items ``{"image", "label"[, "labelled_slices"]}`` of one split of the labelled real stacks.

    Several sources (a list) are split one by one, with the same fraction and seed, and their items concatenated.

    A folder or a ``datalists build`` file is split by subject (:func:`custom_networks.datalists.split_datalist`,
    seeded, the ED and ES of a subject together); a decathlon-style file with ``training`` / ``validation`` lists
    is used as split. With a single subject, or when the validation split would be empty, validation uses the
    training stacks (logged): then it measures fit, not generalisation.

    Args:
        source: the folder or datalist file, or a list of them.
        split: ``"training"`` or ``"validation"``.
        val_fraction: fraction of the subjects for validation (0 <= f < 1).
        seed: seed of the split.

    Raises:
        InputError: no source given, a missing source, an unknown split or fraction, or no labelled stack.
    """
    if source is None or str(source) == "" or (isinstance(source, (list, tuple)) and not source):
        raise InputError("real_data: give the labelled stacks (--real_data FOLDER_OR_DATALIST)")
    if isinstance(source, (list, tuple)):
        return [item for one in source for item in labelled_stacks(one, split, val_fraction, seed)]
    if split not in LABELLED_SPLITS:
        raise InputError(f"split {split!r}: choose one of {', '.join(LABELLED_SPLITS)}")
    if not 0.0 <= float(val_fraction) < 1.0:
        raise InputError(f"real_val_fraction {val_fraction}: must be in [0, 1)")
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: labelled stacks not found")
    items, splits = _items_of(path)
    if splits is None:
        from custom_networks.datalists import split_datalist

        for item in items:
            item.setdefault("subject", item.get("case", item["image"]))
        splits = split_datalist(items, seed=seed, fractions=(1.0 - val_fraction, val_fraction, 0.0))
    if not splits["training"]:
        raise InputError(f"{path}: no labelled stack for training")
    if split == "validation" and not splits["validation"]:
        logger.warning("%s: no stack left for validation; validating on the training stacks", path)
        return splits["training"]
    logger.info("%s: %d %s stacks", path, len(splits[split]), split)
    return splits[split]


def load_pretrained(
    network: nn.Module, path: str | os.PathLike | None, device: str | torch.device = "cpu"
) -> nn.Module:
    """Load the weights fine-tuning starts from (a bundle's ``model.pt``: a state dict, or ``{"model": state}``).

    Args:
        network: the network (``DistributedDataParallel`` unwrapped here).
        path: the weights; None trains from the network's initialisation.
        device: where to map them.

    Raises:
        InputError: a missing or unreadable file, or weights of another network.
    """
    if path is None:
        logger.info("no pretrained weights: fine-tuning from the initialisation")
        return network
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (OSError, RuntimeError, ValueError) as err:
        raise InputError(f"{path}: pretrained weights unreadable ({err})") from err
    if isinstance(state, dict) and set(state) == {"model"}:
        state = state["model"]
    module = network.module if hasattr(network, "module") else network
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        raise InputError(f"{path}: weights of another network ({str(err).splitlines()[0]})") from err
    logger.info("fine-tuning from %s", path)
    return network
