"""Command line of the dataset tools (python-fire) and the reading and writing of their datalist files:
``python -m custom_networks.datalists {build,split,check}``.

Files (JSON, written atomically; every path in them is relative to the file's own folder, so that
``monai.data.load_decathlon_datalist(file, data_list_key=...)`` resolves them without ``base_dir``):

- ``build`` writes ``{"name", "description", "layout", "root", "numSubjects", "numItems", "numSkipped", "items":
  [...], "skipped": [...]}`` (load with ``data_list_key="items"``; see
  :func:`custom_networks.datalists.build.build_datalist`);
- ``split`` writes the MONAI form: the source's metadata (``name``, ``description``, ``layout``, ``root``, ...),
  ``"source"`` (the datalist it split), ``"seed"``, ``"fractions"``, ``"stratify"``, ``"group_key"``,
  ``"numTraining"``, ``"numValidation"``, ``"numTest"`` and the ``"training"``, ``"validation"``, ``"test"`` lists.
  It reads a ``build`` file (its ``items``) or an already split file (the union of its three lists: a re-split);
  the ``skipped`` list stays in the source;
- ``check`` reads a split file (also the synthetic engine's ``dataset.json``) and prints its counts, or ends with one
  line ``error: <file>: ...`` and exit status 2 when a subject is in more than one split.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from custom_networks.core.cli import literal_paths, run_cli
from custom_networks.core.errors import InputError
from custom_networks.core.nifti import write_text_atomic
from custom_networks.datalists.base import RELATIVE_NOTE
from custom_networks.datalists.build import build_datalist
from custom_networks.datalists.split import (
    DEFAULT_FRACTIONS,
    NUM_KEYS,
    SPLITS,
    check_datalist,
    split_datalist,
    validate_fractions,
    validate_seed,
)

__all__ = [
    "PATH_OPTIONS",
    "DatalistCLI",
    "build_file",
    "check_file",
    "main",
    "read_datalist",
    "split_file",
    "write_datalist",
]

#: Options whose values are paths, kept as typed (python-fire would turn ``2024`` into a number).
PATH_OPTIONS = ("--root", "--out", "--info_csv", "--datalist", "--dataset")
#: Top-level keys of a source datalist that ``split`` does not carry over (lists, counts, the previous split).
_NOT_CARRIED = (
    "items",
    "skipped",
    "numItems",
    "numSkipped",
    "numSubjects",
    "source",
    "seed",
    "fractions",
    "stratify",
    "group_key",
    *SPLITS,
    *NUM_KEYS.values(),
)


def read_datalist(path: str | os.PathLike) -> dict:
    """Read a datalist JSON file.

    Args:
        path: the file.

    Returns:
        The parsed JSON object.

    Raises:
        InputError: missing, a folder, unreadable, not JSON, or not a JSON object; the message starts with the path.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a datalist JSON file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: unreadable ({err})") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not JSON ({err.msg} at line {err.lineno}, column {err.colno})") from err
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a datalist (a JSON object expected, got {type(data).__name__})")
    return data


def _check_output(out: str | os.PathLike, overwrite: Any) -> Path:
    """Check, before any work, that a datalist may be written at ``out``.

    Raises:
        InputError: ``overwrite`` is not a boolean; ``out`` is not a ``.json`` name, is a folder, or exists without
            ``overwrite``.
    """
    if not isinstance(overwrite, bool):
        raise InputError(f"--overwrite {overwrite!r}: must be True or False")
    path = Path(out)
    if path.suffix.lower() != ".json":
        raise InputError(f"{path}: output must be a .json file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder")
    if path.exists() and not overwrite:
        raise InputError(f"{path}: exists (pass --overwrite True to replace it)")
    return path


def write_datalist(datalist: dict, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write a datalist as JSON, atomically (a temporary file renamed into place).

    Args:
        datalist: the content.
        path: a ``.json`` file.
        overwrite: replace an existing file.

    Returns:
        ``path``.

    Raises:
        InputError: see :func:`_check_output`; the folder cannot be written.
    """
    path = _check_output(path, overwrite)
    try:
        return write_text_atomic(path, json.dumps(datalist, indent=1) + "\n")
    except OSError as err:
        raise InputError(f"{path}: cannot write ({err.strerror or err})") from err


def build_file(
    root: str | os.PathLike,
    out: str | os.PathLike,
    layout: str = "auto",
    info_csv: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> tuple[Path, dict]:
    """Build the datalist of a folder and write it (paths relative to ``out``'s folder).

    Args:
        root: the image folder.
        out: the ``.json`` file to write.
        layout: a layout name or ``"auto"`` (see :data:`custom_networks.datalists.registry.LAYOUTS`).
        info_csv: M&Ms information CSV (``mnms`` layout).
        overwrite: replace an existing ``out``.

    Returns:
        ``(out, datalist)``.

    Raises:
        InputError: ``out`` exists (without ``overwrite``) or is not a ``.json`` name (checked first), and the
            errors of :func:`~custom_networks.datalists.build.build_datalist`.
    """
    path = _check_output(out, overwrite)
    datalist = build_datalist(root, layout, base_dir=os.path.abspath(path.parent), info_csv=info_csv)
    return write_datalist(datalist, path, overwrite), datalist


def _items_of(data: dict, path: Path) -> list[dict]:
    """The items to split: a built datalist's ``items``, or the union of a split datalist's lists.

    Raises:
        InputError: no such list, not a list of objects, or no item; naming ``path``.
    """
    if "items" in data:
        lists = {"items": data["items"]}
    elif any(name in data for name in SPLITS):
        lists = {name: data.get(name, []) for name in SPLITS}
    else:
        raise InputError(
            f"{path}: no 'items' list (nor 'training' / 'validation' / 'test' lists): not a datalist of "
            "python -m custom_networks.datalists build"
        )
    items = []
    for key, value in lists.items():
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise InputError(f"{path}: {key!r} must be a list of objects")
        items += value
    if not items:
        raise InputError(f"{path}: the datalist holds no item")
    return items


def _rebase(value: Any, source: str, target: str, always: bool) -> Any:
    """A path value of an item written relative to ``source``, rewritten relative to ``target``: ``image`` and
    ``label`` always (``always``), other strings when they name an existing path relative to ``source`` (the rule of
    ``monai.data.load_decathlon_datalist``, so that both files resolve to the same paths)."""
    if isinstance(value, list):
        return [_rebase(v, source, target, always) for v in value]
    if not isinstance(value, str) or not value or os.path.isabs(value):
        return value
    full = os.path.normpath(os.path.join(source, value))
    if not always and not os.path.exists(full):
        return value
    return os.path.relpath(full, target)


def _rebase_items(items: list[dict], source: str, target: str, keep: tuple[str, ...]) -> list[dict]:
    """Items with their paths rewritten relative to ``target`` (unchanged when both folders are the same); keys in
    ``keep`` (the subject and stratum keys) are never rewritten."""
    if os.path.normpath(source) == os.path.normpath(target):
        return items
    return [
        {k: v if k in keep else _rebase(v, source, target, always=k in ("image", "label")) for k, v in item.items()}
        for item in items
    ]


def split_file(
    datalist: str | os.PathLike,
    out: str | os.PathLike,
    seed: int = 0,
    fractions: Any = DEFAULT_FRACTIONS,
    stratify: str | None = None,
    overwrite: bool = False,
    group_key: str = "subject",
) -> tuple[Path, dict]:
    """Split a datalist file into training / validation / test and write the MONAI form.

    Args:
        datalist: a file of ``build`` (or an already split file, re-split).
        out: the ``.json`` file to write; paths are rewritten relative to its folder when it is another folder.
        seed: non-negative integer.
        fractions: training, validation and test fractions (three numbers or ``"0.7,0.15,0.15"``).
        stratify: item key to stratify on (e.g. ``group``, ``vendor``), or None.
        overwrite: replace an existing ``out``.
        group_key: item key naming the subject.

    Returns:
        ``(out, split datalist)``.

    Raises:
        InputError: bad options (naming them), ``out`` exists without ``overwrite``, the datalist is missing, not
            JSON or of the wrong structure, or :func:`~custom_networks.datalists.split.split_datalist` refuses its
            items (the message then starts with the datalist's path).
    """
    fractions = validate_fractions(fractions)
    seed = validate_seed(seed)
    if stratify is not None and (isinstance(stratify, bool) or not isinstance(stratify, (str, int))):
        raise InputError(f"--stratify {stratify!r}: must name an item key, e.g. --stratify group")
    stratify = None if stratify is None else str(stratify)
    source = Path(datalist)
    data = read_datalist(source)
    items = _items_of(data, source)
    path = _check_output(out, overwrite)
    try:
        parts = split_datalist(items, seed, fractions, group_key=group_key, stratify=stratify)
    except InputError as err:
        raise InputError(f"{source}: {err}") from err
    source_dir, target_dir = os.path.abspath(source.parent), os.path.abspath(path.parent)
    keep = (group_key,) if stratify is None else (group_key, stratify)
    result = {k: v for k, v in data.items() if k not in _NOT_CARRIED}
    if isinstance(result.get("root"), str):
        result["root"] = _rebase(result["root"], source_dir, target_dir, always=True)
    if isinstance(result.get("description"), str) and RELATIVE_NOTE not in result["description"]:
        result["description"] += f"; {RELATIVE_NOTE}"
    result.update(
        source=os.path.relpath(os.path.abspath(source), target_dir),
        seed=seed,
        fractions=list(fractions),
        stratify=stratify,
        group_key=group_key,
    )
    result.update({NUM_KEYS[name]: len(parts[name]) for name in SPLITS})
    result.update({name: _rebase_items(parts[name], source_dir, target_dir, keep) for name in SPLITS})
    check_datalist(result, group_key)
    return write_datalist(result, path, overwrite), result


def check_file(path: str | os.PathLike, group_key: str = "subject") -> dict:
    """Check a split datalist file: see :func:`~custom_networks.datalists.split.check_datalist`.

    Args:
        path: the file.
        group_key: item key naming the subject.

    Returns:
        The counts.

    Raises:
        InputError: the file's problems, the message starting with its path.
    """
    data = read_datalist(path)
    try:
        return check_datalist(data, group_key)
    except InputError as err:
        raise InputError(f"{path}: {err}") from err


def _table(counts: dict) -> str:
    rows = [f"{'split':<12}{'items':>7}{'subjects':>10}"]
    rows += [f"{name:<12}{c['items']:>7}{c['subjects']:>10}" for name, c in counts["splits"].items()]
    rows.append(f"{'total':<12}{counts['items']:>7}{counts['subjects']:>10}")
    return "\n".join(rows)


class DatalistCLI:
    """Dataset tools: MONAI datalists from cardiac MR folder layouts, subject-grouped splits and their check."""

    def build(
        self,
        root: str,
        out: str,
        layout: str = "auto",
        info_csv: str | None = None,
        overwrite: bool = False,
    ) -> str:
        """Write the datalist of an image folder (``items`` and ``skipped``, paths relative to ``out``'s folder).

        Args:
            root: image folder.
            out: ``.json`` file to write.
            layout: auto, acdc, mnms, ukbb, dicom or flat.
            info_csv: M&Ms information CSV (ED/ES frames, vendor, centre, pathology; mnms layout).
            overwrite: replace an existing ``out``.

        Returns:
            A summary line (file, items, subjects, layout, skipped).
        """
        path, datalist = build_file(root, out, layout, info_csv, overwrite)
        skipped = f"; {datalist['numSkipped']} skipped (see 'skipped')" if datalist["numSkipped"] else ""
        return (
            f"{path}: {datalist['numItems']} items of {datalist['numSubjects']} subjects "
            f"({datalist['layout']} layout){skipped}"
        )

    def split(
        self,
        datalist: str,
        out: str,
        seed: int = 0,
        fractions: Any = "0.7,0.15,0.15",
        stratify: str | None = None,
        overwrite: bool = False,
    ) -> str:
        """Split a datalist into training / validation / test, every subject in one split (MONAI form).

        Args:
            datalist: a file of ``build`` (or a split file, re-split).
            out: ``.json`` file to write.
            seed: non-negative integer.
            fractions: training, validation and test fractions, e.g. 0.7,0.15,0.15.
            stratify: item key whose values are spread over the splits in the fractions (e.g. group, vendor).
            overwrite: replace an existing ``out``.

        Returns:
            The file and its counts per split.
        """
        path, result = split_file(datalist, out, seed, fractions, stratify, overwrite)
        return f"{path}:\n{_table(check_datalist(result))}"

    def check(self, dataset: str) -> str:
        """Print the items and subjects per split; exit status 2 when a subject is in more than one split.

        Args:
            dataset: a split datalist file.

        Returns:
            The counts per split (an overlap is an error: one line, exit status 2).
        """
        counts = check_file(dataset)
        return f"{dataset}: no subject in more than one split\n{_table(counts)}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad input prints one ``error: ...`` line and gives exit status 2.

    Args:
        argv: arguments (default ``sys.argv[1:]``): the command, then its arguments; the path arguments (the first
            positional one and :data:`PATH_OPTIONS`) are kept as typed, not parsed by python-fire.

    Returns:
        The exit status.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-"):
        argv = [argv[0], *literal_paths(argv[1:], PATH_OPTIONS)]
    return run_cli(DatalistCLI, argv, name="python -m custom_networks.datalists")
