"""What the training configs call besides the labelled real stacks (those are :mod:`custom_networks.datalists`):
the generated stacks the slice segmenter mixes in, the pretrained weights a run starts from, and their record."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from custom_networks.core.errors import InputError
from custom_networks.datalists.training_stacks import GENERATED_SET

__all__ = ["generated_stacks", "load_pretrained", "weights_record"]

logger = logging.getLogger(__name__)


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


def generated_stacks(dataset_dir: str | os.PathLike | None, split: str = "training", **synth_kwargs: Any) -> list[dict]:
    """The native stacks of a generated dataset with their own label maps, as labelled stacks to train on.

    Args:
        dataset_dir: a generated dataset folder (``python -m custom_networks.data synth``); generated there (seeded)
            when it holds none; None: no generated stacks.
        split: its split to take.
        synth_kwargs: generation settings when the folder is empty (``subjects``, ``domain``, ``seed``...).

    Returns:
        Items ``{"image": lr_image, "label": lr_label, "subject", "case", "set": "generated"}`` (the ``generated``
        argument of :func:`custom_networks.datalists.slice_training_stacks`).
    """
    if dataset_dir is None or str(dataset_dir) == "":
        return []
    from custom_networks.bundle.helpers import load_datalist

    items = load_datalist(dataset_dir, split, **synth_kwargs)
    out = []
    for item in items:
        subject = Path(str(item["subject"])).name  # MONAI's datalist reader makes it a path: it names a folder
        out.append(
            {
                "image": item["lr_image"],
                "label": item["lr_label"],
                "subject": subject,
                "case": f"{subject}_{item['phase']}",
                "set": GENERATED_SET,
            }
        )
    return out


def weights_record(path: str | os.PathLike | None) -> dict | None:
    """What a weights file is (for the record of weights trained from it): its path and its own record
    (``<weights>.json``) when it has one; None for no weights.

    Args:
        path: the weights file, or None.
    """
    if path is None or str(path) == "":
        return None
    record = Path(path).with_suffix(".json")
    info: dict[str, Any] = {"weights": str(path)}
    if record.is_file():
        try:
            info["record"] = json.loads(record.read_text())
        except ValueError as err:
            raise InputError(f"{record}: unreadable training record ({err})") from err
    return info
