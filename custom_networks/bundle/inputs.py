"""Inference inputs of the bundles: user files/folders, or the generated test split (embedded default)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from custom_networks.data.dataset import case_name, ensure_dataset
from custom_networks.utils.dicom import is_dicom_folder
from custom_networks.utils.nifti import InputError

__all__ = ["inference_inputs"]


def inference_inputs(
    input_path: str | os.PathLike | None, dataset_dir: str | os.PathLike, key: str = "lr_image", **synth_kwargs: Any
) -> list[dict[str, str]]:
    """Datalist ``[{"image": path}, ...]`` for inference (generated test cases also carry their ``"case"`` name,
    ``<subject>_<phase>``, which names their output files).

    Args:
        input_path: a NIfTI file, a folder holding one DICOM series (one case, named after the folder), a folder of
            NIfTI files and / or DICOM series folders (one case each), or None for the native stacks (``key``) of
            the test split of ``dataset_dir`` (generated there first when it holds no dataset).
        dataset_dir: dataset folder used when ``input_path`` is None.
        key: datalist key of the generated dataset to use as input (``lr_image``: native stacks).
        synth_kwargs: arguments of :func:`custom_networks.data.ensure_dataset`.

    Raises:
        InputError: the path does not exist or holds neither NIfTI files nor DICOM series.
    """
    if input_path is None:
        import json

        folder = ensure_dataset(dataset_dir, **synth_kwargs)
        test = json.loads((Path(folder) / "dataset.json").read_text())["test"]
        return [{"image": str(Path(folder) / item[key]), "case": case_name(item)} for item in test]
    path = Path(input_path)
    if path.is_file():
        return [{"image": str(path)}]
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name.endswith((".nii", ".nii.gz"))
        )
        series = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".") and is_dicom_folder(p))
        if not files and not series and is_dicom_folder(path):
            return [{"image": str(path)}]
        if not files and not series:
            raise InputError(f"{path}: folder holds no .nii/.nii.gz file and no DICOM series")
        return [{"image": str(p)} for p in sorted(files + series)]
    raise InputError(f"{path}: input file or folder not found")
