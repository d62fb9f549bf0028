"""The one reader of label maps, and what a manual label map annotates: which classes, on which slices.

Reading (:func:`load_label`) follows stated rules, the same for every caller:

- values must be integers; integers stored as floats are accepted (within 1e-3), anything else is refused
  (an image or a resampled probability map is not a label map): nothing is rounded silently;
- values are remapped only as the caller says, with ``label_map`` (e.g. ``{4: 3}`` for label maps using 4 for the
  RV), declared by the importer of the set that needs it; a map that would merge a remapped value into a class
  the file also holds unmapped (``{4: 3}`` on a file holding both 3 and 4) is refused;
- after mapping, values must be the project's classes (0 background, 1 LV blood pool, 2 LV myocardium, 3 RV);
- classes the caller needs (``required``) must be present.

Every refusal is a :class:`LabelValueError` naming the file.

Real short-axis stacks are often labelled on some slices only and for some classes only (Sunnybrook: the LV, on
the slices the experts contoured); a ``<case>_labelled_slices.json`` sidecar says so (``labelled_slices_by_label``:
class -> slice indices along the slice axis, optional ``slice_axis``). Without it every class is labelled on every
slice (ACDC, M&Ms). An unlabelled class or slice is *unknown*, never background.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from custom_networks.core.errors import InputError
from custom_networks.core.labels import FOREGROUND_LABELS, LABEL_NAMES, NUM_CLASSES
from custom_networks.core.nifti import load_nifti

__all__ = ["Annotation", "LabelValueError", "load_label", "read_annotation"]


class LabelValueError(InputError):
    """A label map whose values break the reading rules of :func:`load_label` (the file named, the rule said)."""


def load_label(
    path: str | os.PathLike,
    label_map: Mapping[int, int] | None = None,
    required: Sequence[int] = (),
    frame: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read a label map by the rules of this module: integer values, remapped only as given, classes 0-3.

    Args:
        path: NIfTI label map.
        label_map: value -> project class, applied to all values at once (e.g. ``{4: 3}`` for files using 4 for
            the RV); values not in it are kept. None: the file is in the project's convention already.
        required: classes that must be present after mapping (e.g. ``(1, 2)``: LV blood pool and myocardium).
        frame: the frame to read from a 4D label map (e.g. M&Ms, which labels ED and ES in one file).

    Returns:
        ``(label, affine)``: a ``uint8`` array and its voxel-to-world affine.

    Raises:
        LabelValueError: non-integer values; a mapped value whose class the file also holds unmapped; values outside
            0-3 after mapping (named, with the hint to map RV = 4); a required class absent.
        InputError: the file is missing or unreadable.
    """
    data, affine = load_nifti(path, dtype=np.float32, frame=frame, ndim=(3,) if frame is None else (3, 4))
    label = np.rint(data).astype(np.int64)
    off = np.abs(data - label) > 1e-3
    if off.any():
        raise LabelValueError(
            f"{path}: non-integer label values (e.g. {float(data[off].flat[0]):g} in {int(off.sum())} voxels): "
            "not a label map (an image or a resampled probability map?)"
        )
    if label_map:
        values = set(np.unique(label).tolist())
        mapping = {int(src): int(dst) for src, dst in label_map.items()}
        for src, dst in mapping.items():
            if src in values and src != dst and dst in values and dst not in mapping:
                raise LabelValueError(
                    f"{path}: holds both {src} and {dst}, which the label map {mapping} both makes {dst}: "
                    f"cannot tell which one is the {LABEL_NAMES.get(dst, f'class {dst}')}"
                )
        mapped = label.copy()
        for src, dst in mapping.items():
            mapped[label == src] = dst
        label = mapped
    present = set(np.unique(label).tolist())
    bad = sorted(present - set(range(NUM_CLASSES)))
    if bad:
        hint = " (files using 4 for RV: pass --label_map '{4: 3}')" if bad == [4] else ""
        raise LabelValueError(f"{path}: label values {bad} outside 0-{NUM_CLASSES - 1}{hint}")
    missing = [int(c) for c in required if int(c) not in present]
    if missing:
        names = " and ".join(f"{LABEL_NAMES.get(c, 'class')} ({c})" for c in missing)
        raise LabelValueError(f"{path}: no {names} label found")
    return label.astype(np.uint8), affine


@dataclass(frozen=True)
class Annotation:
    """Which classes were labelled, and on which slices, in one manual label map.

    Args:
        slices: class -> indices of the slices (along the slice axis) on which that class was labelled; a class
            absent from the mapping was not labelled at all.
        num_slices: number of slices of the stack.
    """

    slices: Mapping[int, tuple[int, ...]]
    num_slices: int

    @classmethod
    def full(cls, num_slices: int, classes: Sequence[int] = FOREGROUND_LABELS) -> Annotation:
        """Every class labelled on every slice (ACDC, M&Ms)."""
        return cls({int(c): tuple(range(num_slices)) for c in classes}, num_slices)

    def labelled(self, c: int) -> bool:
        """Whether class ``c`` was labelled on at least one slice."""
        return bool(self.slices.get(int(c)))

    def slice_mask(self, c: int) -> np.ndarray:
        """Boolean ``(num_slices,)``: the slices on which class ``c`` was labelled."""
        mask = np.zeros(self.num_slices, bool)
        mask[list(self.slices.get(int(c), ()))] = True
        return mask

    def fully_labelled_slices(self) -> np.ndarray:
        """Boolean ``(num_slices,)``: the slices on which every labelled class was labelled."""
        masks = [self.slice_mask(c) for c in self.slices if self.labelled(c)]
        return np.logical_and.reduce(masks) if masks else np.zeros(self.num_slices, bool)


def read_annotation(path: str | os.PathLike | None, slice_axis: int, num_slices: int) -> Annotation:
    """The annotation of a label map: from its labelled-slices sidecar, or every class on every slice without one.

    Args:
        path: ``<case>_labelled_slices.json``, or None (fully labelled).
        slice_axis: the label map's slice axis (checked against the file's ``slice_axis`` when it states one).
        num_slices: number of slices along it.

    Raises:
        InputError: unreadable file, another slice axis, or a slice outside the stack.
    """
    if path is None:
        return Annotation.full(num_slices)
    try:
        spec = json.loads(Path(path).read_text())
        by_label = {int(c): tuple(int(k) for k in ks) for c, ks in spec["labelled_slices_by_label"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise InputError(f"{path}: unreadable labelled-slices file ({err})") from err
    if int(spec.get("slice_axis", slice_axis)) != slice_axis:
        raise InputError(f"{path}: slice axis {spec['slice_axis']} but the image's is {slice_axis}")
    bad = [k for ks in by_label.values() for k in ks if not 0 <= k < num_slices]
    if bad:
        raise InputError(f"{path}: slice {bad[0]} outside the stack's {num_slices} slices")
    unknown = sorted(set(by_label) - set(FOREGROUND_LABELS))
    if unknown:
        raise InputError(f"{path}: labelled_slices_by_label names class {unknown[0]}, not one of {FOREGROUND_LABELS}")
    return Annotation(by_label, num_slices)
