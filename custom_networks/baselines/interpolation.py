"""Classic super-resolution baselines: interpolation of a short-axis stack onto the HR grid with ITK.

Every resampling here goes through world coordinates. Arrays are indexed ``[i, j, k]`` with a NIfTI affine (RAS,
as nibabel gives it) mapping voxel indices to world millimetres; ITK works in LPS, so the affine is converted by
flipping the sign of its first two rows before the origin, spacing and direction cosines are taken from it. The
ITK image's buffer is the array transposed (ITK's numpy view is indexed ``[k, j, i]``). The output grid is
defined by its own ``(shape, affine)`` and the transform is the identity: a voxel of the output grid takes the
value of the input at the same world position, whatever the two grids' orientations, axis orders or flips.

Field-of-view edges (ITK behaviour, checked in the tests): ITK treats a point as inside the input when its
continuous index lies in ``[-0.5, n - 0.5)`` along every axis, i.e. within half a voxel of the outermost voxel
centres (the voxels' outer faces). Points further out get ``default_value``. In the half-voxel border itself
``linear`` repeats the edge voxel (constant extrapolation), ``nearest`` takes the edge voxel, and ``bspline``
mirrors the image about the edge voxel centre. The HR grid of :func:`~custom_networks.core.geometry.hr_grid_for`
covers the stack's field of view (its outermost voxel centres lie inside the stack's outer faces), so every HR
voxel is inside, except a fraction of a voxel of rounding where the field of view is not a multiple of the HR
voxel size.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import HR_SPACING, hr_grid_for
from custom_networks.core.itk_bridge import array_from_image, image_from_array, lps_geometry
from custom_networks.core.labels import NUM_CLASSES
from custom_networks.core.nifti import load_nifti, save_nifti
from custom_networks.data.dataset import case_name

__all__ = [
    "LABEL_METHODS",
    "METHODS",
    "interpolate_dataset",
    "interpolate_stack",
    "resample_image",
    "resample_labels",
]

logger = logging.getLogger(__name__)

#: Image interpolation methods (ITK interpolate image functions).
METHODS = ("linear", "nearest", "bspline")
#: Label-map interpolation methods.
LABEL_METHODS = ("nearest", "onehot_linear")


def _itk():
    """Import ITK lazily (its modules take a while to load, and only the baselines need it)."""
    import itk

    return itk


def resample_image(
    array: np.ndarray,
    affine: np.ndarray,
    out_shape: Sequence[int],
    out_affine: np.ndarray,
    method: str = "linear",
    default_value: float = 0.0,
) -> np.ndarray:
    """Resample a 3D image onto another grid in world coordinates with ITK's ``ResampleImageFilter``.

    The transform is the identity; the interpolator is ``LinearInterpolateImageFunction``,
    ``NearestNeighborInterpolateImageFunction`` or ``BSplineInterpolateImageFunction`` (cubic, order 3, with
    ITK's mirror boundary condition). At the field-of-view edges ITK counts points within half a voxel of the
    outermost voxel centres as inside (see the module docstring); points further out get ``default_value``.

    Args:
        array: 3D image, indexed ``[i, j, k]``.
        affine: RAS voxel-to-world affine of ``array`` (as nibabel gives it).
        out_shape: shape of the output grid.
        out_affine: RAS voxel-to-world affine of the output grid.
        method: ``"linear"``, ``"nearest"`` or ``"bspline"``.
        default_value: value of output voxels outside the input's field of view.

    Returns:
        The resampled image, float32, of shape ``out_shape``.

    Raises:
        InputError: unknown method, not a 3D array, bad output shape or singular affine.
    """
    if method not in METHODS:
        raise InputError(f"unknown interpolation method {method!r} (choose from {', '.join(METHODS)})")
    array = np.asarray(array)
    if array.ndim != 3:
        raise InputError(f"expected a 3D image, got shape {array.shape}")
    size = [int(s) for s in out_shape]
    if len(size) != 3 or min(size) < 1:
        raise InputError(f"expected a 3D output shape of positive sizes, got {tuple(out_shape)}")
    itk = _itk()
    image = image_from_array(array, affine)
    image_type = type(image)
    if method == "linear":
        interpolator = itk.LinearInterpolateImageFunction[image_type, itk.D].New()
    elif method == "nearest":
        interpolator = itk.NearestNeighborInterpolateImageFunction[image_type, itk.D].New()
    else:
        interpolator = itk.BSplineInterpolateImageFunction[image_type, itk.D, itk.F].New()
        interpolator.SetSplineOrder(3)
    spacing, origin, direction = lps_geometry(out_affine)
    resampler = itk.ResampleImageFilter[image_type, image_type].New()
    resampler.SetInput(image)
    resampler.SetInterpolator(interpolator)
    resampler.SetSize(size)
    resampler.SetOutputSpacing(spacing)
    resampler.SetOutputOrigin(origin)
    resampler.SetOutputDirection(itk.matrix_from_array(direction))
    resampler.SetDefaultPixelValue(float(default_value))
    resampler.Update()
    return array_from_image(resampler.GetOutput())


def _check_labels(label: np.ndarray, num_classes: int, where: str) -> np.ndarray:
    """Integer label map with values in ``0..num_classes-1``, else :class:`InputError` naming ``where``."""
    label = np.asarray(label)
    values = np.unique(label)
    bad = values[(values < 0) | (values >= num_classes) | (values != np.round(values))]
    if bad.size:
        shown = ", ".join(f"{v:g}" for v in bad[:8].astype(float))
        raise InputError(
            f"{where}: label values {shown} outside 0..{num_classes - 1} (0 background, 1 LV blood pool, "
            "2 LV myocardium, 3 RV); label maps with other conventions (e.g. RV = 4) must be mapped first"
        )
    return label.astype(np.uint8)


def resample_labels(
    label: np.ndarray,
    affine: np.ndarray,
    out_shape: Sequence[int],
    out_affine: np.ndarray,
    method: str = "nearest",
    num_classes: int = NUM_CLASSES,
) -> np.ndarray:
    """Resample a label map onto another grid in world coordinates with ITK.

    ``"nearest"`` takes the nearest voxel's label; ``"onehot_linear"`` interpolates each class's one-hot channel
    linearly and takes the argmax (smoother boundaries between thick slices). Output voxels outside the input's
    field of view (see :func:`resample_image`) are background.

    Args:
        label: 3D integer label map, indexed ``[i, j, k]``, values in ``0..num_classes-1``.
        affine: RAS voxel-to-world affine of ``label``.
        out_shape: shape of the output grid.
        out_affine: RAS voxel-to-world affine of the output grid.
        method: ``"nearest"`` or ``"onehot_linear"``.
        num_classes: number of classes (background included).

    Returns:
        The resampled label map, uint8, of shape ``out_shape``.

    Raises:
        InputError: unknown method, or label values outside ``0..num_classes-1``.
    """
    if method not in LABEL_METHODS:
        raise InputError(f"unknown label interpolation method {method!r} (choose from {', '.join(LABEL_METHODS)})")
    label = _check_labels(label, num_classes, "label map")
    if method == "nearest":
        out = resample_image(label, affine, out_shape, out_affine, method="nearest", default_value=0.0)
        return np.rint(out).astype(np.uint8)
    present = [int(c) for c in np.unique(label)]
    best = np.zeros(tuple(int(s) for s in out_shape), dtype=np.float32)
    out = np.zeros(best.shape, dtype=np.uint8)
    for c in present:  # absent classes have an all-zero channel: they can never win the argmax
        prob = resample_image((label == c).astype(np.float32), affine, out_shape, out_affine, method="linear")
        if c == 0:
            best = prob  # ties (e.g. outside the field of view, where every channel is 0) go to background
            continue
        wins = prob > best
        out[wins] = c
        best = np.where(wins, prob, best)
    return out


def _name_of(path: Path) -> str:
    """File name without ``.nii.gz`` / ``.nii``."""
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _refuse_existing(paths: Iterable[Path]) -> None:
    """Refuse, before any computation, output files that exist already.

    Raises:
        InputError: naming the first existing file.
    """
    for path in paths:
        if path.exists() or path.is_symlink():
            raise InputError(f"{path}: exists (pass --overwrite True to replace it)")


def interpolate_stack(
    stack: str | os.PathLike,
    out_dir: str | os.PathLike,
    method: str = "linear",
    label: str | os.PathLike | None = None,
    label_method: str = "nearest",
    hr_spacing: Sequence[float] = HR_SPACING,
    name: str | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Interpolate a short-axis stack (and optionally its label map) onto its HR grid: the classic SR baseline.

    The HR grid is :func:`~custom_networks.core.geometry.hr_grid_for` of the stack (its orientation, slice axis last,
    covering its field of view). The image is written scaled to [0, 1] by the stack's 0.5 and 99.5 percentiles and
    clipped (the intensity scaling of the networks' input), as ``<name>_sr.nii.gz``; the label map, resampled in
    world coordinates from its own affine, as ``<name>_seg.nii.gz``. Every input is read and checked, and existing
    outputs refused (unless ``overwrite``), before any computation.

    Args:
        stack: NIfTI file of the 3D LR stack.
        out_dir: output folder (created if needed).
        method: image interpolation, ``"linear"``, ``"nearest"`` or ``"bspline"``.
        label: NIfTI label map of the stack (values 0..3), or None.
        label_method: label interpolation, ``"nearest"`` or ``"onehot_linear"``.
        hr_spacing: HR voxel size (in-plane, in-plane, through-plane), mm.
        name: output file prefix (default: the stack's file name without ``.nii.gz``).
        overwrite: replace existing output files; without it they are refused.

    Returns:
        ``{"sr": path}``, plus ``"seg": path`` with a label map.

    Raises:
        InputError: unknown method; missing, unreadable, 2D or constant stack; label map with values outside 0..3
            (naming the file); an existing output file without ``overwrite``.
    """
    if method not in METHODS:
        raise InputError(f"unknown interpolation method {method!r} (choose from {', '.join(METHODS)})")
    if label is not None and label_method not in LABEL_METHODS:
        raise InputError(
            f"unknown label interpolation method {label_method!r} (choose from {', '.join(LABEL_METHODS)})"
        )
    hr_spacing = tuple(float(s) for s in hr_spacing)
    if len(hr_spacing) != 3 or min(hr_spacing) <= 0:
        raise InputError(f"hr_spacing must be three positive voxel sizes (mm), got {hr_spacing}")
    stack = Path(stack)
    out_dir = Path(out_dir)
    name = name or _name_of(stack)
    targets = {"sr": out_dir / f"{name}_sr.nii.gz"}
    if label is not None:
        targets["seg"] = out_dir / f"{name}_seg.nii.gz"
    if not overwrite:
        _refuse_existing(targets.values())
    image, affine = load_nifti(stack, ndim=(3,))
    if min(image.shape) < 2:
        raise InputError(f"{stack}: a 2D image (shape {image.shape}); a stack of at least 2 slices is needed")
    lo, hi = np.percentile(image, [0.5, 99.5])
    if not hi > lo:
        raise InputError(f"{stack}: (nearly) constant image: its 0.5 and 99.5 percentiles are both {lo:g}")
    seg_src = None
    if label is not None:
        label = Path(label)
        lab, lab_affine = load_nifti(label, ndim=(3,), dtype=np.float32)
        seg_src = (_check_labels(lab, NUM_CLASSES, str(label)), lab_affine)

    hr_shape, hr_affine, _ = hr_grid_for(image.shape, affine, hr_spacing)
    sr = resample_image(image, affine, hr_shape, hr_affine, method=method)
    sr = np.clip((sr - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
    seg = None
    if seg_src is not None:
        seg = resample_labels(seg_src[0], seg_src[1], hr_shape, hr_affine, method=label_method)

    written = {"sr": save_nifti(sr, hr_affine, targets["sr"], overwrite=overwrite)}
    if seg is not None:
        written["seg"] = save_nifti(seg, hr_affine, targets["seg"], label=True, overwrite=overwrite)
    return written


def interpolate_dataset(
    dataset_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    method: str = "linear",
    label_method: str = "nearest",
    split: str = "test",
    with_labels: bool = True,
    hr_spacing: Sequence[float] = HR_SPACING,
    progress: bool = True,
    overwrite: bool = False,
) -> list[dict]:
    """Run :func:`interpolate_stack` on the native LR stack (``lr_image``, with ``lr_label``) of every case of a
    split of a generated dataset, writing ``<case>_sr.nii.gz`` (and ``<case>_seg.nii.gz``) with ``<case>`` the
    :func:`~custom_networks.data.case_name` (e.g. ``sub-0005_ED``).

    Args:
        dataset_dir: dataset folder (with ``dataset.json``).
        out_dir: output folder (created if needed).
        method: image interpolation, ``"linear"``, ``"nearest"`` or ``"bspline"``.
        label_method: label interpolation, ``"nearest"`` or ``"onehot_linear"``.
        split: ``"training"``, ``"validation"`` or ``"test"``.
        with_labels: also interpolate the LR label maps.
        hr_spacing: HR voxel size (in-plane, in-plane, through-plane), mm.
        progress: show a progress bar.
        overwrite: replace existing output files; without it every case's outputs are checked, and an existing one
            refused, before any computation.

    Returns:
        One dict per case: ``case``, ``sr`` (and ``seg``) paths, and ``seconds`` spent on it.

    Raises:
        InputError: missing or unreadable ``dataset.json``, unknown or empty split, a case's unusable files, or an
            existing output file without ``overwrite``.
    """
    dataset_dir = Path(dataset_dir)
    listing = dataset_dir / "dataset.json"
    if not listing.is_file():
        raise InputError(f"{listing}: file not found (is {dataset_dir} a generated dataset folder?)")
    try:
        datalist = json.loads(listing.read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"{listing}: unreadable ({err})") from err
    splits = []  # lists of case dicts (dataset.json also holds lists such as hr_shape)
    if isinstance(datalist, dict):
        splits = [k for k, v in datalist.items() if isinstance(v, list) and all(isinstance(x, dict) for x in v)]
    if split not in splits:
        raise InputError(f"{listing}: no split {split!r} (available: {', '.join(splits) or 'none'})")
    items = datalist[split]
    if not items:
        raise InputError(f"{listing}: split {split!r} is empty")
    for key in ("subject", "phase", "lr_image") + (("lr_label",) if with_labels else ()):
        missing = [i for i, item in enumerate(items) if key not in item]
        if missing:
            raise InputError(f"{listing}: item {missing[0]} of split {split!r} has no {key!r}")
    out_dir = Path(out_dir)
    if not overwrite:
        kinds = ("sr", "seg") if with_labels else ("sr",)
        _refuse_existing(out_dir / f"{case_name(item)}_{kind}.nii.gz" for item in items for kind in kinds)
    results = []
    bar = tqdm(items, desc=f"{method} baseline", unit="case", disable=not progress)
    for item in bar:
        name = case_name(item)
        bar.set_postfix_str(name)
        start = time.perf_counter()
        written = interpolate_stack(
            dataset_dir / item["lr_image"],
            out_dir,
            method=method,
            label=dataset_dir / item["lr_label"] if with_labels else None,
            label_method=label_method,
            hr_spacing=hr_spacing,
            name=name,
            overwrite=overwrite,
        )
        seconds = time.perf_counter() - start
        logger.info("%s: %s interpolation written to %s (%.1f s)", name, method, written["sr"].parent, seconds)
        results.append({"case": name, **written, "seconds": seconds})
    return results
