"""Inference inputs of the bundles: user files / folders (checked up front, one bad case never stops the others), or
the generated test split (embedded default); output names, the output folder and the failures report."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from custom_networks.core.dicom import is_dicom_folder
from custom_networks.core.errors import InputError
from custom_networks.core.nifti import check_output_folder, write_text_atomic
from custom_networks.transforms.save import output_stem

__all__ = ["CaseList", "cine_inputs", "inference_inputs", "report_failures", "target_inference_inputs"]

logger = logging.getLogger(__name__)

_SUFFIXES = (".nii.gz", ".nii")


class CaseList(list):
    """A datalist (``[{"image": ..., ...}, ...]``) that also remembers the inputs refused while it was built.

    Args:
        items: the good cases.
        failed: ``(input, reason)`` of the refused ones.
    """

    def __init__(self, items: Sequence[dict] = (), failed: Sequence[tuple[str, str]] = ()):
        super().__init__(items)
        self.failed = list(failed)


def _user_inputs(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        visible = [p for p in sorted(path.iterdir()) if not p.name.startswith(".")]  # never a hidden / temp file
        files = [p for p in visible if p.is_file() and p.name.endswith(_SUFFIXES)]
        series = [p for p in visible if p.is_dir() and is_dicom_folder(p)]
        if not files and not series and is_dicom_folder(path):
            return [path]
        if not files and not series:
            raise InputError(f"{path}: folder holds no .nii/.nii.gz file and no DICOM series")
        return sorted(files + series)
    raise InputError(f"{path}: input file or folder not found")


def _own_outputs(paths: list[Path], postfixes: Sequence[str], frame: int | None) -> dict[Path, Path]:
    """The files among ``paths`` named as this command's outputs of another of them (``<name>_seg.nii.gz`` beside
    ``<name>.nii.gz``: a folder that is both input and output folder), each with the input it belongs to."""
    names: dict[str, Path] = {}
    for path in paths:
        names[output_stem(path)] = path
        if frame is not None:
            names[output_stem(path, frame)] = path
    own = {}
    for path in paths:
        stem = output_stem(path)
        for postfix in postfixes:
            source = names.get(stem[: -len(postfix) - 1]) if stem.endswith(f"_{postfix}") else None
            if source is not None and source != path:
                own[path] = source
    return own


def inference_inputs(
    input_path: str | os.PathLike | None,
    dataset_dir: str | os.PathLike,
    key: str = "lr_image",
    frame: int | None = None,
    output_dir: str | os.PathLike | None = None,
    postfixes: Sequence[str] = ("seg", "sr"),
    overwrite: bool = True,
    series: str | int | None = None,
    **synth_kwargs: Any,
) -> CaseList:
    """Datalist ``[{"image": path, "case": output name}, ...]`` for inference, checked before any computation.

    Output names are :func:`~custom_networks.transforms.output_stem` of the inputs.

    User inputs are loaded once here (:class:`~custom_networks.transforms.LoadStackd`, with ``frame``): an input that
    cannot be used is left out and remembered in ``failed`` (the run goes on; :func:`report_failures` reports it at
    the end). Output names are :func:`output_stem`; two inputs with one output name, or outputs that already exist
    (without ``overwrite``), are refused up front; the output folder is created and checked for writing first.

    Args:
        input_path: a NIfTI file, a folder holding one DICOM series (one case, named after the folder), a folder of
            NIfTI files and / or DICOM series folders (one case each; hidden files are never inputs), or None for the
            native stacks (``key``) of the test split of ``dataset_dir`` (generated there first when it holds no
            dataset).
        dataset_dir: dataset folder used when ``input_path`` is None.
        key: datalist key of the generated dataset to use as input (``lr_image``: native stacks).
        frame: frame of a 4D cine (part of the output names).
        output_dir: the output folder (None: not checked).
        postfixes: output file postfixes per case (``<name>_<postfix>.nii.gz``), for the existing-output check; a
            file of a folder named as the output of another input of that folder (``a_seg.nii.gz`` beside
            ``a.nii.gz``) is not an input (said in the log), so a folder can be its own output folder and re-run.
        overwrite: allow replacing existing outputs.
        series: the series to read from DICOM folders holding several (SeriesInstanceUID or SeriesNumber).
        synth_kwargs: arguments of :func:`custom_networks.data.ensure_dataset`.

    Raises:
        InputError: the path does not exist or holds no input, no input is usable, two inputs share an output name,
            outputs exist (without ``overwrite``), or the output folder cannot be written.
    """
    paths = None if input_path is None else _user_inputs(Path(str(input_path)))  # str(): '2024' may be an int
    if paths is not None and len(paths) > 1:
        own = _own_outputs(paths, postfixes, frame)
        for path, source in own.items():
            logger.info("not an input: %s (the output of %s)", path, source.name)
        paths = [p for p in paths if p not in own]
    if output_dir is not None:  # after the inputs are found (a missing input creates no output folder)
        output_dir = check_output_folder(Path(str(output_dir)))
    if input_path is None:
        from custom_networks.data.dataset import case_name, ensure_dataset  # the embedded default only: the engine

        folder = ensure_dataset(dataset_dir, **synth_kwargs)
        test = json.loads((Path(folder) / "dataset.json").read_text())["test"]
        items = [{"image": str(Path(folder) / item[key]), "case": case_name(item)} for item in test]
        failed: list[tuple[str, str]] = []
    else:
        from custom_networks.transforms.stack_io import LoadStackd

        loader = LoadStackd("image", frame=frame, series=series)
        items, failed = [], []
        for path in paths:
            try:
                loaded = loader({"image": str(path)})["image"]
            except InputError as err:
                logger.error("skipped: %s", err)
                failed.append((str(path), str(err)))
                continue
            items.append({"image": str(path), "case": output_stem(path, loaded.meta.get("frame"))})
    names: dict[str, str] = {}
    for item in items:
        other = names.setdefault(item["case"], item["image"])
        if other != item["image"]:
            raise InputError(
                f"{item['image']}: would write the same outputs ({item['case']}_*) as {other}; rename one of them"
            )
    if output_dir is not None and not overwrite:
        for item in items:
            for postfix in postfixes:
                target = Path(output_dir) / f"{item['case']}_{postfix}.nii.gz"
                if target.exists():
                    raise InputError(f"{target}: exists (pass --overwrite True to replace it)")
    if not items:
        first = failed[0][1] if failed else "nothing to process"
        raise InputError(first if len(failed) == 1 else f"none of {len(failed)} inputs is usable; first: {first}")
    return CaseList(items, failed)


def cine_inputs(
    input_path: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    postfixes: Sequence[str] = ("seg", "sr"),
    overwrite: bool = False,
    name: str | None = None,
    frame_interval_ms: float | None = None,
    series: str | int | None = None,
) -> CaseList:
    """Datalist of a 4D cine run: one item per frame, in frame order, checked before any computation.

    Every item holds ``image`` (the file or folder holding the frame), ``frame`` (its index within that file, when the
    file holds several), ``case`` (the output name, :func:`~custom_networks.transforms.output_stem` of the cine),
    ``frame_index``, ``num_frames`` and ``frame_interval_ms`` (NaN when unknown), which
    :class:`~custom_networks.transforms.SaveCineFramed` uses to assemble the 4D outputs. The first frame is loaded
    here with every check of :class:`~custom_networks.transforms.LoadStackd`.

    Args:
        input_path: a 4D NIfTI, a folder of per-frame 3D NIfTI files, or a DICOM cine folder
            (:func:`~custom_networks.core.cine_source.open_cine`).
        output_dir: output folder (created and checked for writing; None: not checked).
        postfixes: output postfixes (``<name>_<postfix>.nii.gz``), for the existing-output check.
        overwrite: allow replacing existing outputs.
        name: output name (default: the cine's, e.g. ``sa`` for ``sa.nii.gz``).
        frame_interval_ms: time between frames when the input does not say it (a folder of frames), or to correct it.
        series: the series of a DICOM folder holding several (SeriesInstanceUID or SeriesNumber).

    Raises:
        InputError: see :func:`~custom_networks.core.cine_source.open_cine`; the first frame is unusable; outputs
            exist (without ``overwrite``); the output folder cannot be written.
    """
    from custom_networks.core.cine_source import open_cine
    from custom_networks.transforms.stack_io import LoadStackd

    if input_path is None:
        raise InputError("input_path: a cine is needed (a 4D NIfTI, a folder of frames or a DICOM cine folder)")
    source = open_cine(input_path, series)
    name = str(name) if name else source.name
    if output_dir is not None:
        output_dir = check_output_folder(Path(str(output_dir)))
        if not overwrite:
            for postfix in postfixes:
                target = Path(output_dir) / f"{name}_{postfix}.nii.gz"
                if target.exists():
                    raise InputError(f"{target}: exists (pass --overwrite True to replace it)")
    LoadStackd("image", series=series)(source.frame_item(0))
    if frame_interval_ms is not None:
        if not float(frame_interval_ms) > 0:
            raise InputError(f"frame_interval_ms must be a positive number of ms, got {frame_interval_ms!r}")
        source.frame_interval_ms = float(frame_interval_ms)
    interval = float("nan") if source.frame_interval_ms is None else float(source.frame_interval_ms)
    logger.info(
        "%s: %d frame(s) of %s, frame interval %s",
        source.path,
        source.num_frames,
        "x".join(str(s) for s in source.shape),
        "unknown" if source.frame_interval_ms is None else f"{interval:.2f} ms",
    )
    items = [
        {
            **source.frame_item(t),
            "case": name,
            "frame_index": t,
            "num_frames": source.num_frames,
            "frame_interval_ms": interval,
        }
        for t in range(source.num_frames)
    ]
    return CaseList(items)


def report_failures(datalist: Sequence[dict], output_dir: str | os.PathLike) -> bool:
    """End of a run: write ``failed.csv`` (input, reason) in ``output_dir`` when inputs were refused, then raise.

    Returns:
        True when every input was processed.

    Raises:
        InputError: some inputs were refused (the message gives the count and the report's path).
    """
    failed = getattr(datalist, "failed", [])
    if not failed:
        return True
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["input", "reason"])
    writer.writerows(failed)
    report = write_text_atomic(Path(output_dir) / "failed.csv", buffer.getvalue())
    total = len(datalist) + len(failed)
    raise InputError(
        f"{report}: {len(failed)} of {total} inputs failed and were skipped (the others were written); "
        f"first: {failed[0][1]}"
    )


def target_inference_inputs(
    input_path: str | os.PathLike | None, dataset_dir: str | os.PathLike, **kwargs: Any
) -> list[dict[str, str]]:
    """Datalist of the V-AMA inference: the user's target-domain stacks, or the target test stacks of the paired
    dataset (every target test case, also those whose pairing registration was rejected: translation needs no
    source image).

    Args:
        input_path: a NIfTI file, a folder of NIfTI files, or None for the generated target test split.
        dataset_dir: paired dataset folder used when ``input_path`` is None (generated first when it holds no
            ``pairs.json``).
        kwargs: arguments of :func:`~custom_networks.pairs.ensure_paired_dataset`; ``frame``, ``output_dir``,
            ``postfixes``, ``overwrite`` and ``series`` are the input / output checks of :func:`inference_inputs`.

    Returns:
        ``[{"image": path[, "case": name]}, ...]`` (native target stacks, ``lr_image``).

    Raises:
        InputError: the path does not exist or holds no NIfTI file.
    """
    from custom_networks.pairs.domain_pairs import load_pairs  # the V-AMA bundle's default input only

    check = {k: kwargs.pop(k) for k in ("frame", "output_dir", "postfixes", "overwrite", "series") if k in kwargs}
    if input_path is not None:
        return inference_inputs(input_path, dataset_dir, **check)
    items = load_pairs(dataset_dir, "test", include_rejected=True, **kwargs)
    out = [{"image": item["target_lr_image"], "case": item["case"]} for item in items]
    if check.get("output_dir") is not None:
        check_output_folder(check["output_dir"])
        if not check.get("overwrite", True):
            for item in out:
                for postfix in check.get("postfixes", ()):
                    target = Path(check["output_dir"]) / f"{item['case']}_{postfix}.nii.gz"
                    if target.exists():
                        raise InputError(f"{target}: exists (pass --overwrite True to replace it)")
    return out
