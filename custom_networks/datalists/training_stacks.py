"""The labelled stacks a training run reads: real ones from a folder (any layout of the registry) or a datalist file,
split by subject (fine-tuning, ``finetune_real.json``; the slice segmenter, ``train_slices.json``), generated ones
mixed in at a given rate, and the record of what a run trained on.

Generated stacks come from the data engine's datasets (:func:`custom_networks.bundle.generated_stacks` lists a
generated dataset's native stacks, making the dataset when its folder is empty); here they are items with
``set == "generated"`` (:data:`GENERATED_SET`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from custom_networks.core.errors import InputError
from custom_networks.datalists.base import PATH_KEYS
from custom_networks.datalists.build import build_datalist
from custom_networks.datalists.cli import read_datalist
from custom_networks.datalists.split import split_datalist

__all__ = [
    "GENERATED_SET",
    "LABELLED_SPLITS",
    "labelled_stacks",
    "mixing_weights",
    "slice_training_stacks",
    "trained_on",
]

logger = logging.getLogger(__name__)

#: Splits :func:`labelled_stacks` returns.
LABELLED_SPLITS = ("training", "validation")
#: The ``set`` of generated stacks in a training list.
GENERATED_SET = "generated"


def _items_of(source: Path) -> tuple[list[dict], dict[str, list[dict]] | None]:
    """Items of a folder or a datalist file, and its own splits when the file has them."""
    if source.is_dir():
        return build_datalist(source)["items"], None
    data = read_datalist(source)
    base = source.parent

    def absolute(items: Any, key: str) -> list[dict]:
        if not isinstance(items, list) or not all(isinstance(i, dict) and "image" in i and "label" in i for i in items):
            raise InputError(f"{source}: {key!r} must be a list of items with 'image' and 'label'")
        return [
            {k: str(base / v) if k in PATH_KEYS and v and not os.path.isabs(str(v)) else v for k, v in i.items()}
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


def slice_training_stacks(
    real_data: str | os.PathLike | Sequence[str | os.PathLike] | None,
    generated: Sequence[dict] | None,
    split: str,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> list[dict]:
    """The stacks the slice segmenter trains (or validates) on: labelled real stacks, generated ones, or both.

    Generated stacks join the training split only; validation is on real stacks whenever there are any (give the
    generated dataset's validation stacks for ``split="validation"``: they are used only without real stacks).

    Args:
        real_data: folders or datalist files of labelled real stacks (see :func:`labelled_stacks`).
        generated: the generated stacks of this split (items with ``set == "generated"``, e.g.
            ``custom_networks.bundle.generated_stacks(dataset, split)``), or None / empty for none.
        split: ``"training"`` or ``"validation"``.
        val_fraction: fraction of the real subjects for validation.
        seed: seed of the split.

    Raises:
        InputError: neither real nor generated stacks given.
    """
    has_real = real_data not in (None, "", [], ())
    if not has_real and not generated:
        raise InputError("no training data: give --real_data FOLDERS and/or --generated_data DATASET")
    real = labelled_stacks(real_data, split, val_fraction, seed) if has_real else []
    if split == "validation" and real:
        return real
    return real + list(generated or [])


def mixing_weights(items: Sequence[dict], generated_fraction: float = 0.25) -> list[float]:
    """Sampling weights that draw generated stacks ``generated_fraction`` of the time, real stacks the rest.

    Args:
        items: the training items (generated ones have ``set == "generated"``).
        generated_fraction: the share of generated samples (ignored when only one kind is there).

    Raises:
        InputError: a fraction outside [0, 1).
    """
    if not 0.0 <= float(generated_fraction) < 1.0:
        raise InputError(f"generated_fraction {generated_fraction}: must be in [0, 1)")
    generated = [item.get("set") == GENERATED_SET for item in items]
    n_gen = sum(generated)
    n_real = len(items) - n_gen
    if n_gen == 0 or n_real == 0:
        return [1.0] * len(items)
    return [float(generated_fraction) / n_gen if g else (1.0 - float(generated_fraction)) / n_real for g in generated]


def trained_on(items: Sequence[dict]) -> dict[str, list[str]]:
    """What a run trains on, for its weights' record: set (the stacks' folder name) -> sorted subjects.

    ``benchmarks/real_scans.py`` reads it back to tell the cases the weights were trained on from held-out ones.

    Args:
        items: the training items (``image`` and ``subject``, or ``case``).
    """
    sets: dict[str, set[str]] = {}
    for item in items:
        subject = str(item.get("subject") or item.get("case") or Path(str(item["image"])).name)
        sets.setdefault(str(item.get("set") or Path(str(item["image"])).parent.name), set()).add(subject)
    return {name: sorted(subjects) for name, subjects in sorted(sets.items())}
