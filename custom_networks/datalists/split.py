"""Seeded training / validation / test splits grouped by subject, optionally stratified, and the check that no subject
crosses splits.

- :func:`split_sizes` / :func:`split_indices`: how many of ``n`` subjects go to each split and which (a seeded
  permutation); the synthetic data engine's :func:`custom_networks.data.dataset.split_subjects` is
  ``split_indices(n, seed, fractions, honour_zero=False)``;
- :func:`split_datalist`: datalist items -> ``{"training", "validation", "test"}``, every item of a subject in one
  split, each stratum split in the given fractions when ``stratify`` names an item key;
- :func:`check_datalist`: per-split counts of a split datalist, refusing a subject in more than one split.
"""

from __future__ import annotations

import json
import logging
import math
import re
import zlib
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from custom_networks.core.errors import InputError

__all__ = [
    "DEFAULT_FRACTIONS",
    "NUM_KEYS",
    "SPLITS",
    "check_datalist",
    "split_datalist",
    "split_indices",
    "split_sizes",
    "validate_fractions",
    "validate_seed",
]

logger = logging.getLogger(__name__)

#: Split names, in the order of the fractions.
SPLITS = ("training", "validation", "test")
#: Split name -> MONAI count key.
NUM_KEYS = {"training": "numTraining", "validation": "numValidation", "test": "numTest"}
#: Default fractions of training, validation and test subjects.
DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)
#: Second word of every split seed (the data engine's, kept so its splits do not change).
_SEED_SALT = 7919
#: Subjects named in an error message at most.
_MAX_NAMED = 10


def validate_fractions(fractions: Sequence[float] | str) -> tuple[float, float, float]:
    """Check the training / validation / test fractions.

    Args:
        fractions: three numbers, or a string of three numbers separated by commas or spaces (``"0.7,0.15,0.15"``).

    Returns:
        The fractions as floats.

    Raises:
        InputError: not three numbers, a negative or non-finite one, or a sum other than 1; the message names
            ``--fractions``.
    """
    values: Any = fractions
    if isinstance(values, str):
        values = [v for v in re.split(r"[,\s]+", values.strip().strip("()[]")) if v]
    try:
        if isinstance(values, (bytes, dict)) or len(values) != 3:
            raise TypeError
        parsed = tuple(float(v) for v in values if not isinstance(v, bool))
        if len(parsed) != 3:
            raise TypeError
    except (TypeError, ValueError):
        raise InputError(
            f"--fractions {fractions!r}: must be three numbers (training, validation, test), e.g. 0.7,0.15,0.15"
        ) from None
    if not all(math.isfinite(v) and v >= 0 for v in parsed):
        raise InputError(f"--fractions {fractions!r}: fractions must be finite and non-negative")
    if abs(sum(parsed) - 1.0) > 1e-6:
        raise InputError(f"--fractions {fractions!r}: fractions must sum to 1 (they sum to {sum(parsed):g})")
    return parsed  # type: ignore[return-value]


def validate_seed(seed: Any) -> int:
    """Check a split seed.

    Args:
        seed: the value given.

    Returns:
        The seed as a non-negative ``int``.

    Raises:
        InputError: naming ``--seed``.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"--seed {seed!r}: must be a non-negative integer")
    return int(seed)


def split_sizes(n: int, fractions: Sequence[float] = DEFAULT_FRACTIONS, honour_zero: bool = True) -> tuple[int, ...]:
    """Numbers of subjects per split.

    From 3 subjects on, validation and test get ``round(fraction * n)`` subjects each, at least 1; of 2 subjects one
    goes to validation; 1 subject goes to training; training gets the rest.

    Args:
        n: number of subjects.
        fractions: training, validation and test fractions (not checked here: see :func:`validate_fractions`).
        honour_zero: a zero fraction gives an empty split (of 2 subjects, the second goes to test when validation's
            fraction is 0), and training keeps at least one subject when its fraction is positive (validation or
            test give one up, the larger first). False: the synthetic data engine's rule, where validation and test
            get their minimum whatever the fractions (kept so that its splits do not change).

    Returns:
        ``(training, validation, test)`` counts, summing to ``n``.
    """
    f_train, f_val, f_test = (float(f) for f in fractions)
    n_val = max(1, int(round(f_val * n))) if n >= 3 else (1 if n == 2 else 0)
    n_test = max(1, int(round(f_test * n))) if n >= 3 else 0
    if honour_zero:
        n_val, n_test = (n_val if f_val > 0 else 0), (n_test if f_test > 0 else 0)
        if n == 2 and f_val == 0 and f_test > 0:
            n_test = 1
        while f_train > 0 and n_val + n_test > max(n - 1, 0):
            if n_val >= n_test:
                n_val -= 1
            else:
                n_test -= 1
    n_val = min(n_val, n)
    n_test = min(n_test, n - n_val)
    return n - n_val - n_test, n_val, n_test


def split_indices(
    n: int,
    seed: int,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    salt: Sequence[int] = (),
    honour_zero: bool = True,
) -> dict[str, list[int]]:
    """Seeded split of the indices ``0 .. n-1``: a permutation drawn from ``(seed, 7919, *salt)``, whose first
    indices go to validation, the next to test and the rest to training (sizes from :func:`split_sizes`).

    Args:
        n: number of subjects.
        seed: non-negative integer.
        fractions: training, validation and test fractions.
        salt: further non-negative integers of the seed (e.g. one per stratum).
        honour_zero: see :func:`split_sizes`.

    Returns:
        ``{"validation", "test", "training"}``: sorted index lists.
    """
    order = np.random.default_rng([seed, _SEED_SALT, *salt]).permutation(n).tolist()
    _, n_val, n_test = split_sizes(n, fractions, honour_zero)
    return {
        "validation": sorted(order[:n_val]),
        "test": sorted(order[n_val : n_val + n_test]),
        "training": sorted(order[n_val + n_test :]),
    }


def _describe(item: Any) -> str:
    text = json.dumps(item, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _sort_key(value: Hashable) -> tuple[str, str]:
    return str(value), type(value).__name__


def _groups(items: Sequence[dict], group_key: str) -> dict[Hashable, list[int]]:
    """Item indices by group (subject), groups in input order.

    Raises:
        InputError: an item is not a dict, lacks ``group_key``, or has an unhashable value there.
    """
    groups: dict[Hashable, list[int]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"item {i} is not an object: {_describe(item)}")
        if group_key not in item:
            raise InputError(f"item {i} has no {group_key!r}: {_describe(item)}")
        value = item[group_key]
        if isinstance(value, (list, dict)) or value is None:
            raise InputError(f"item {i}: {group_key} {value!r} is not a name")
        groups.setdefault(value, []).append(i)
    return groups


def _strata(
    items: Sequence[dict], groups: dict[Hashable, list[int]], stratify: str, group_key: str
) -> dict[str, list[Hashable]]:
    """Subjects by stratum (the JSON text of their ``stratify`` value), strata sorted.

    Raises:
        InputError: an item without ``stratify``, or a subject with several values of it.
    """
    strata: dict[str, list[Hashable]] = {}
    for subject, indices in groups.items():
        values = {}
        for i in indices:
            if stratify not in items[i]:
                raise InputError(f"{group_key} {subject!r}: item {i} has no {stratify!r} (--stratify {stratify})")
            values[json.dumps(items[i][stratify], sort_keys=True, default=str)] = items[i][stratify]
        if len(values) > 1:
            shown = ", ".join(repr(v) for v in values.values())
            raise InputError(
                f"{group_key} {subject!r}: several values of {stratify!r} ({shown}); --stratify needs one value per "
                f"{group_key}"
            )
        strata.setdefault(next(iter(values)), []).append(subject)
    return {k: sorted(strata[k], key=_sort_key) for k in sorted(strata)}


def split_datalist(
    items: Sequence[dict],
    seed: int = 0,
    fractions: Sequence[float] | str = DEFAULT_FRACTIONS,
    group_key: str = "subject",
    stratify: str | None = None,
) -> dict[str, list[dict]]:
    """Split datalist items into training, validation and test, all items of a subject in one split.

    Subjects are sorted by name and split with :func:`split_indices` (so the result depends on the seed and the set
    of subjects, not on the order of the items); with ``stratify``, the subjects of each stratum are split on their
    own (seed salted with the stratum's CRC-32), so every stratum is spread over the splits in the given fractions
    (up to rounding; a stratum of 3 subjects or more has at least one in every split of non-zero fraction).

    Args:
        items: datalist items (dicts); not modified.
        seed: non-negative integer; the same seed and items give the same split.
        fractions: training, validation and test fractions (non-negative, summing to 1), or a string
            ``"0.7,0.15,0.15"``.
        group_key: item key naming the subject.
        stratify: item key to stratify on (e.g. ``"group"``, ``"vendor"``), the same value for all items of a
            subject; None for no stratification.

    Returns:
        ``{"training": [...], "validation": [...], "test": [...]}``, items in their input order.

    Raises:
        InputError: bad ``fractions`` or ``seed`` (naming the option); no item; an item that is not a dict or lacks
            ``group_key`` (or ``stratify``); a subject with several ``stratify`` values (naming the subject).
    """
    fractions = validate_fractions(fractions)
    seed = validate_seed(seed)
    if not items:
        raise InputError("no item to split")
    groups = _groups(items, group_key)
    if stratify is None:
        strata = {"": sorted(groups, key=_sort_key)}
    else:
        strata = _strata(items, groups, str(stratify), group_key)
    split_of: dict[Hashable, str] = {}
    for stratum, subjects in strata.items():
        salt = () if stratify is None else (zlib.crc32(stratum.encode()),)
        for name, indices in split_indices(len(subjects), seed, fractions, salt=salt).items():
            for i in indices:
                split_of[subjects[i]] = name
        if stratify is not None:
            counts = {n: sum(split_of[s] == n for s in subjects) for n in SPLITS}
            logger.info("%s %s: %d subjects, %s", stratify, stratum, len(subjects), counts)
    result: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for item in items:
        result[split_of[item[group_key]]].append(item)
    logger.info(
        "split %d subjects (seed %d, fractions %s): %s",
        len(groups),
        seed,
        ",".join(f"{f:g}" for f in fractions),
        ", ".join(f"{n} {len({i[group_key] for i in result[n]})}" for n in SPLITS),
    )
    return result


def check_datalist(datalist: dict, group_key: str = "subject") -> dict:
    """Check a split datalist (MONAI form: ``training`` / ``validation`` / ``test`` lists) and count it.

    Args:
        datalist: the parsed JSON; absent lists count as empty (at least one must be present).
        group_key: item key naming the subject.

    Returns:
        ``{"splits": {split: {"items", "subjects"}}, "items", "subjects"}``: counts per split and in total.

    Raises:
        InputError: not a dict, no split list, a list that is not a list of objects, items without ``group_key``
            (naming up to 10 as ``split[index]``), a ``numTraining`` / ``numValidation`` / ``numTest`` that does not
            match its list, or subjects in more than one split (naming up to 10 with their splits).
    """
    if not isinstance(datalist, dict):
        raise InputError(f"not a datalist: a JSON object expected, got {type(datalist).__name__}")
    present = [name for name in SPLITS if name in datalist]
    if not present:
        raise InputError(f"no {', '.join(repr(s) for s in SPLITS)} list: not a split datalist")
    where: dict[Hashable, list[str]] = {}
    missing: list[str] = []
    splits: dict[str, dict[str, int]] = {}
    for name in SPLITS:
        items = datalist.get(name, [])
        if not isinstance(items, list):
            raise InputError(f"{name!r} must be a list of items, got {type(items).__name__}")
        subjects = set()
        for i, item in enumerate(items):
            if not isinstance(item, dict) or group_key not in item:
                missing.append(f"{name}[{i}]")
                continue
            subject = item[group_key]
            if isinstance(subject, (list, dict)):
                subject = json.dumps(subject, sort_keys=True)
            subjects.add(subject)
            if name not in where.setdefault(subject, []):
                where[subject].append(name)
        splits[name] = {"items": len(items), "subjects": len(subjects)}
        num = datalist.get(NUM_KEYS[name])
        if num is not None and num != len(items):
            raise InputError(f"{NUM_KEYS[name]} is {num!r} but the {name} list holds {len(items)} items")
    if missing:
        shown = ", ".join(missing[:_MAX_NAMED]) + (" ..." if len(missing) > _MAX_NAMED else "")
        raise InputError(f"{len(missing)} item(s) without {group_key!r}: {shown}")
    crossing = {s: names for s, names in where.items() if len(names) > 1}
    if crossing:
        ordered = sorted(crossing, key=_sort_key)
        shown = ", ".join(f"{s} ({' + '.join(crossing[s])})" for s in ordered[:_MAX_NAMED])
        more = f" and {len(ordered) - _MAX_NAMED} more" if len(ordered) > _MAX_NAMED else ""
        raise InputError(f"{len(crossing)} {group_key}(s) in more than one split: {shown}{more}")
    return {
        "splits": splits,
        "items": sum(s["items"] for s in splits.values()),
        "subjects": len(where),
    }
