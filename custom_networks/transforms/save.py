"""Atomic saving of network outputs as NIfTI in world coordinates, with a log line per case."""

from __future__ import annotations

import csv
import io
import logging
import os
import time
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.transforms import MapTransform

from custom_networks.core.geometry import resample_to_grid, spacing_from_affine
from custom_networks.core.labels import LABEL_NAMES
from custom_networks.core.nifti import nifti_stem, save_nifti, write_text_atomic

__all__ = ["TRAINED_RANGE_KEYS", "SaveNiftid", "output_stem"]

logger = logging.getLogger(__name__)

#: Acquisition measures ``SaveNiftid(trained_range=...)`` checks: the stack's largest in-plane voxel size and its slice
#: spacing (the largest voxel size), in mm.
TRAINED_RANGE_KEYS = ("inplane_spacing_mm", "slice_spacing_mm")


def output_stem(path: str | os.PathLike, frame: int | None = None) -> str:
    """Name of the outputs of an input: the file name without ``.nii(.gz)`` (a DICOM folder: its name), plus
    ``_frame<N>`` when a frame of a cine was chosen."""
    name = nifti_stem(path)
    return name if frame is None else f"{name}_frame{int(frame)}"


def _case_name(meta: Mapping) -> str:
    """Output name of a case from its metadata: the input's name, plus ``_frame<N>`` for a frame of a cine."""
    frame = meta.get("frame")
    return output_stem(str(meta.get("filename_or_obj", "case")), None if frame is None else int(frame))


class SaveNiftid(MapTransform):
    """Write ``<name>_<postfix>.nii.gz`` for each key on the grid of its ``MetaTensor`` affine, atomically
    (temporary file, then rename), so a failure never leaves a half-written output.

    Segmentation keys (``label_keys``) hold class logits ``(C, ...)`` or a label map ``(1, ...)``: they are written
    as a label map (uint8, NIfTI label intent); with ``on_input_grid`` also resampled onto the acquired stack's own
    grid (logits: softmax probabilities, linear, then argmax; label map: nearest neighbour), using the metadata
    ``lr_affine``/``lr_shape`` set by
    :class:`~custom_networks.transforms.ResampleToHRGridd`).

    A label map without any heart class, or without one of them, is still written, with a warning in the log and a
    row in ``<output_dir>/warnings.csv`` (input, what is missing): an empty label map is never silent. So is a stack
    whose voxel size lies outside ``trained_range``: the weights were not trained on it, and the output says so
    rather than being taken on trust.

    Args:
        keys: keys to write.
        output_dir: output folder.
        postfixes: file postfix per key (e.g. ``["seg", "sr"]``).
        label_keys: keys holding segmentation probabilities/logits.
        on_input_grid: also write the segmentation on the input's own grid as ``<name>_<postfix>_input_grid``.
        name_key: item key holding the case ``<name>`` (e.g. ``sub-0005_ED`` for generated cases, whose input
            files all share one file name); without it the name is the input file name without extension (plus
            ``_frame<N>`` for a frame of a cine).
        overwrite: replace existing outputs; when False an existing output is an error (checked at the moment of
            writing, atomically: of two runs writing one name, only one succeeds).
        allow_missing_keys: skip absent keys (e.g. ``sr`` when the network only segments).
        trained_range: acquisition the weights were trained on, ``{"inplane_spacing_mm": [lo, hi],
            "slice_spacing_mm": [lo, hi]}`` (either may be left out); stacks outside get a warning (the stack's grid
            is read from the metadata ``lr_affine`` set by :class:`~custom_networks.transforms.ResampleToHRGridd`).
    """

    def __init__(
        self,
        keys: Sequence[Hashable] | Hashable,
        output_dir: str,
        postfixes: Sequence[str],
        label_keys: Sequence[Hashable] = ("pred",),
        on_input_grid: bool = False,
        name_key: str = "case",
        overwrite: bool = True,
        allow_missing_keys: bool = True,
        trained_range: Mapping[str, Sequence[float]] | None = None,
    ):
        super().__init__(keys, allow_missing_keys)
        unknown = sorted(set(trained_range or {}) - set(TRAINED_RANGE_KEYS))
        if unknown:
            raise ValueError(f"trained_range: unknown key {unknown[0]!r}; use {', '.join(TRAINED_RANGE_KEYS)}")
        self.trained_range = {k: (float(v[0]), float(v[1])) for k, v in (trained_range or {}).items()}
        if len(postfixes) != len(self.keys):
            raise ValueError(f"one postfix per key is needed, got keys {self.keys} and postfixes {postfixes}")
        self.output_dir = Path(str(output_dir))
        self.postfixes = dict(zip(self.keys, postfixes, strict=True))
        self.label_keys = set(label_keys)
        self.on_input_grid = on_input_grid
        self.name_key = name_key
        self.overwrite = overwrite
        self._last = time.perf_counter()
        self._warnings: list[tuple[str, str]] = []

    def _check_heart(self, labels: np.ndarray, source: str) -> None:
        """Say so, in the log and in ``<output_dir>/warnings.csv``, when a label map misses the heart or part of it."""
        present = set(np.unique(labels).tolist())
        missing = [LABEL_NAMES[c] for c in (1, 2, 3) if c not in present]
        if not missing:
            return
        problem = (
            "no heart found: the label map is empty"
            if len(missing) == 3
            else f"no {', no '.join(missing)} found in the label map"
        ) + " (is the stack a short-axis cine within the model's trained range? see the model card)"
        self._warn(source, problem)

    def _check_acquisition(self, meta: Mapping, source: str) -> None:
        """Warn when the stack's voxel size lies outside the range the weights were trained on."""
        if not self.trained_range or "lr_affine" not in meta:
            return
        spacing = spacing_from_affine(np.asarray(meta["lr_affine"], dtype=float))
        axis = int(np.argmax(spacing))
        measured = {
            "inplane_spacing_mm": float(max(np.delete(spacing, axis))),
            "slice_spacing_mm": float(spacing[axis]),
        }
        for key, (low, high) in self.trained_range.items():
            if not low - 1e-6 <= measured[key] <= high + 1e-6:
                what = {"inplane_spacing_mm": "in-plane voxel size", "slice_spacing_mm": "slice spacing"}[key]
                self._warn(
                    source,
                    f"{what} {measured[key]:.2f} mm is outside the range the weights were trained on "
                    f"({low:g}-{high:g} mm): the output is an extrapolation, check it (see the model card)",
                )

    def _warn(self, source: str, problem: str) -> None:
        """One warning: the log and a row of ``<output_dir>/warnings.csv`` (rewritten atomically)."""
        logger.warning("%s: %s", source, problem)
        self._warnings.append((source, problem))
        buffer = io.StringIO()
        csv.writer(buffer).writerows([("input", "warning"), *self._warnings])
        write_text_atomic(self.output_dir / "warnings.csv", buffer.getvalue())

    def __call__(self, data: Mapping) -> dict:
        """Write every key of one case."""
        d = dict(data)
        written = []
        name = d.get(self.name_key)
        for key in self.key_iterator(d):
            img = d[key]
            meta = img.meta
            affine = np.asarray(img.affine, dtype=float)
            array = np.asarray(img.detach().cpu().float())
            if not isinstance(name, str):
                name = _case_name(meta)
            path = self.output_dir / f"{name}_{self.postfixes[key]}.nii.gz"
            if key in self.label_keys:
                is_map = array.shape[0] == 1  # a label map (argmax already taken), else class logits/probabilities
                labels = np.rint(array[0]).astype(np.uint8) if is_map else np.argmax(array, axis=0)
                save_nifti(labels, affine, path, label=True, overwrite=self.overwrite)
                self._check_acquisition(meta, str(meta.get("filename_or_obj", name)))
                for problem in meta.get("pipeline_warnings", ()):
                    self._warn(str(meta.get("filename_or_obj", name)), problem)
                self._check_heart(labels, str(meta.get("filename_or_obj", name)))
                if self.on_input_grid and "lr_affine" in meta:
                    src_affine = np.asarray(meta["lr_affine"], dtype=float)
                    src_shape = tuple(int(s) for s in np.asarray(meta["lr_shape"]))
                    if is_map:
                        back = resample_to_grid(labels, affine, src_shape, src_affine, order=0)
                    else:
                        probs = torch.softmax(torch.as_tensor(array), 0).numpy()
                        back = np.argmax(
                            np.stack([resample_to_grid(p, affine, src_shape, src_affine, order=1) for p in probs]), 0
                        )
                    back_path = self.output_dir / f"{name}_{self.postfixes[key]}_input_grid.nii.gz"
                    save_nifti(back, src_affine, back_path, label=True, overwrite=self.overwrite)
                    written.append(back_path)
            else:
                save_nifti(array[0], affine, path, overwrite=self.overwrite)
            written.append(path)
        now = time.perf_counter()
        logger.info(
            "%s: wrote %s (%.1f s)",
            name if isinstance(name, str) else "case",
            ", ".join(str(p) for p in written),
            now - self._last,
        )
        self._last = now
        return d
