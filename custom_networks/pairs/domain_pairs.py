"""Paired source/target data of the V-AMA bundle: a source-domain and a target-domain cohort, each target case paired
with a source case rigidly aligned onto it (the original method's *alignment block*).

Layout of a paired dataset folder (``ensure_paired_dataset`` generates it when it holds no ``pairs.json``)::

    <dataset_dir>/
        source/            source-domain dataset (custom_networks.data layout, its own dataset.json)
        <target_domain>/   target-domain dataset, generated from another seed (other subjects, other anatomy)
        aligned/<case>/    per target case: the paired source image and label map resampled on the target's grid
                           (rigid, then the deformable refinement), and the rigid transform (JSON)
        source_twin/       generated data only: the target subjects rendered in the source domain (same seeds), the
                           ground truth of a translation (custom_networks.pairs.source_twins)
        external_test/     generated data only, made on first use: further target subjects and their source twins,
                           an external test cohort (custom_networks.pairs.external_test)
        pairs.json         splits "training" / "validation" / "test" of converged pairs, "rejected" pairs

Each target case (``<subject>_<phase>``) is paired with a source case of the **same split and phase**, in index
order (the k-th target case of a split and phase with the k-th source case, cycling when the source split is
smaller). The source subject is rigidly registered onto the target subject with
:func:`custom_networks.registration.align_pair`: initialised from the six label-map landmarks (centroids of the
myocardium and RV at the lowest, middle and highest heart slice, as in the original IRTK/MIRTK block), refined by
ITK mutual information over the heart region, then (``deformable``, with label maps on both sides) warped onto the
target heart by a label-driven deformable refinement
(:func:`custom_networks.registration.register_labels_deformable`), so that the pixel losses compare the translation
with a source heart of the target's shape. Generated data carries HR label maps on both sides. For a real,
unlabelled target cohort, pair with ``target_label_key=None`` (intensity-only registration, centre-of-mass
initialised) or add Gemini-GAN label maps predicted on the target images to its ``dataset.json`` and point
``target_label_key`` at them.

A registration that does not converge is logged and recorded (``pairs.json["rejected"]``, with the reason); that
pair is left out of every split, so it is never trained on.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import resample_to_grid
from custom_networks.core.nifti import atomic_output_dir, load_nifti, save_nifti
from custom_networks.data.dataset import case_name, synthesize_dataset
from custom_networks.pairs.external_test import ensure_external_test
from custom_networks.pairs.source_twins import add_source_twins
from custom_networks.registration import align_pair, label_dice, register_labels_deformable

__all__ = ["PAIR_KEYS", "SPLITS", "ensure_paired_dataset", "load_pairs", "pair_datasets"]

logger = logging.getLogger(__name__)

SPLITS = ("training", "validation", "test")

#: Keys of a pair item holding file paths (made absolute by :func:`load_pairs`).
PAIR_KEYS = (
    "source",
    "source_label",
    "target",
    "target_label",
    "target_hr_image",
    "target_lr_image",
    "target_twin",
    "target_twin_hr_image",
)

#: Registration options of the pairing (on top of :func:`custom_networks.registration.register_rigid`'s defaults):
#: more iterations at the finest pyramid level, where the metric of two *different* subjects keeps improving slowly
#: (with the default 200 some well-aligned pairs stopped at the limit and counted as not converged).
DEFAULT_REGISTRATION: dict[str, Any] = {"iterations": [200, 200, 500]}

#: Offset between the source and the target dataset seeds of :func:`ensure_paired_dataset` (different subjects).
TARGET_SEED_OFFSET = 1000


def _path_in(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` when it lies under it, else absolute (as stored in ``pairs.json``).

    Args:
        root: the paired dataset folder.
        path: a file path.
    """
    path = path.absolute()
    try:
        return str(path.relative_to(root.absolute()))
    except ValueError:
        return str(path)


def _read_datalist(folder: Path) -> dict[str, list[dict]]:
    """Splits of a dataset folder's ``dataset.json``.

    Args:
        folder: dataset folder.

    Raises:
        InputError: no ``dataset.json``.
    """
    path = folder / "dataset.json"
    if not path.is_file():
        raise InputError(f"{folder}: no dataset.json (not a custom_networks dataset folder)")
    data = json.loads(path.read_text())
    return {split: list(data.get(split, [])) for split in SPLITS}


def _summary(result, record_path: Path, root: Path, dice_before: float, dice_after: float) -> dict[str, Any]:
    """The registration metrics stored with a pair.

    Args:
        result: :class:`~custom_networks.registration.RigidResult` (``None`` without alignment).
        record_path: transform JSON written beside the aligned image (``None`` without alignment).
        root: paired dataset folder.
        dice_before: label Dice of the source and target as they lie in world space (NaN without labels).
        dice_after: label Dice after alignment (NaN without labels).
    """

    def _num(value):
        return None if value is None or not np.isfinite(value) else round(float(value), 5)

    if result is None:
        return {"method": "none", "converged": True, "dice_before": _num(dice_before), "dice_after": _num(dice_after)}
    return {
        "method": result.method,
        "converged": bool(result.converged),
        "stop_reason": result.stop_reason,
        "landmark_rms_mm": _num(result.landmark_rms_mm),
        "metric_initial": _num(result.metric_initial),
        "metric": _num(result.metric),
        "iterations": int(result.iterations),
        "rotation_deg": np.round(result.rotation_deg, 3).tolist(),
        "translation_mm": np.round(result.translation_mm, 3).tolist(),
        "seconds": round(float(result.seconds), 3),
        "dice_before": _num(dice_before),
        "dice_after": _num(dice_after),
        "transform": _path_in(root, record_path),
    }


def pair_datasets(
    source_dir: str | os.PathLike,
    target_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    align: bool = True,
    image_key: str = "image",
    source_label_key: str | None = "label",
    target_label_key: str | None = "label",
    registration: Mapping[str, Any] | None = None,
    min_label_dice: float | None = 0.3,
    deformable: bool = True,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Pair every target case with a source case and align the source subject onto it; write ``pairs.json``.

    Args:
        source_dir: source-domain dataset folder (``dataset.json`` with ``training``/``validation``/``test``).
        target_dir: target-domain dataset folder (same layout).
        out_dir: folder receiving ``aligned/`` and ``pairs.json`` (may be the folder holding both datasets);
            ``aligned/`` and ``pairs.json`` are staged in a temporary folder and moved in when complete.
        align: rigidly register each source subject onto its target subject; ``False`` only resamples the source
            image onto the target grid as it lies in world space (no registration; for comparisons).
        image_key: datalist key of the network input of both datasets (``lr_on_hr``: the stack on the HR grid).
        source_label_key: datalist key of the source label maps (landmarks), or None.
        target_label_key: datalist key of the target label maps (landmarks and the metric's heart region), or None
            for an unlabelled target cohort (intensity-only registration). May point at Gemini-GAN predictions.
        registration: keyword arguments of :func:`custom_networks.registration.register_rigid` (e.g.
            ``{"iterations": 100}``); default :data:`DEFAULT_REGISTRATION`.
        min_label_dice: with label maps on both sides, a pair whose aligned source label map overlaps the target's
            with a mean Dice (LV blood pool, myocardium, RV) below this is rejected as a failed registration, even
            when the optimiser reports convergence (the intensity refinement can drift off the heart while its
            metric improves); None disables the check (not applied with ``align=False``). Different subjects overlap
            with Dice ~0.5-0.7 when aligned.
        deformable: with label maps on both sides, warp each accepted rigidly aligned source onto the target heart
            (:func:`custom_networks.registration.register_labels_deformable`, label-driven diffeomorphic demons
            over the heart region; rigid alignment elsewhere), kept only where it raises the label Dice. Pixel
            losses against a rigidly aligned *different* subject teach the translation to paint that subject's
            heart edges into its output; the warp removes most of that mismatch.
        overwrite: replace an existing ``aligned/`` folder and ``pairs.json``.
        progress: show a progress bar.

    Returns:
        ``out_dir``.

    Raises:
        InputError: a dataset folder without ``dataset.json``, a split of the target without source cases of the
            same phase, unusable input files, or existing outputs (without ``overwrite``).
    """
    source_dir, target_dir, out_dir = Path(source_dir), Path(target_dir), Path(out_dir)
    pairs_path = out_dir / "pairs.json"
    if pairs_path.exists() and not overwrite:
        raise InputError(f"{pairs_path}: exists (pass overwrite=True to replace it)")
    source_lists, target_lists = _read_datalist(source_dir), _read_datalist(target_dir)
    options = dict(registration or {})
    if "iterations" not in options and "shrink_factors" not in options:
        options.update(DEFAULT_REGISTRATION)

    jobs = []
    for split in SPLITS:
        for k, item in enumerate(target_lists[split]):
            candidates = [s for s in source_lists[split] if s.get("phase") == item.get("phase")]
            if not candidates:
                raise InputError(f"{source_dir}: split '{split}' has no {item.get('phase')} case to pair with")
            phase_index = sum(1 for t in target_lists[split][:k] if t.get("phase") == item.get("phase"))
            jobs.append((split, item, candidates[phase_index % len(candidates)]))

    out_dir.mkdir(parents=True, exist_ok=True)
    aligned_dir = out_dir / "aligned"
    pairs: dict[str, Any] = {split: [] for split in SPLITS}
    rejected: list[dict] = []
    start = time.time()
    with atomic_output_dir(aligned_dir, overwrite=overwrite) as tmp:
        for split, target, source in tqdm(jobs, desc="align source -> target", unit="pair", disable=not progress):
            case, source_case = case_name(target), case_name(source)
            target_image = target_dir / target[image_key]
            source_image = source_dir / source[image_key]
            target_label = target_dir / target[target_label_key] if target_label_key else None
            source_label = source_dir / source[source_label_key] if source_label_key else None
            final = aligned_dir / case
            staged = tmp / case
            staged.mkdir(parents=True)
            fixed, fixed_affine = load_nifti(target_image)
            result, record = None, None
            if align:
                result = align_pair(
                    target_image,
                    source_image,
                    staged / "source.nii.gz",
                    fixed_label=target_label,
                    moving_label=source_label,
                    moving_label_out=staged / "source_label.nii.gz" if source_label else None,
                    strict=False,
                    **options,
                )
                record = final / "source_transform.json"
                _relative_record(staged / record.name, staged, final, out_dir)
            else:  # as the two subjects lie in world space: resampling only
                moving, moving_affine = load_nifti(source_image)
                on_target = resample_to_grid(moving, moving_affine, fixed.shape, fixed_affine, order=1)
                save_nifti(on_target, fixed_affine, staged / "source.nii.gz")
                if source_label:
                    lab, lab_affine = load_nifti(source_label)
                    on_target = resample_to_grid(np.rint(lab).astype(np.uint8), lab_affine, fixed.shape, fixed_affine)
                    save_nifti(on_target, fixed_affine, staged / "source_label.nii.gz", label=True)
            before = after = float("nan")
            if source_label and target_label:
                tgt, _ = load_nifti(target_label)
                lab, lab_affine = load_nifti(source_label)
                unaligned = resample_to_grid(np.rint(lab).astype(np.uint8), lab_affine, tgt.shape, fixed_affine)
                before = label_dice(unaligned, np.rint(tgt))
                after = label_dice(np.rint(load_nifti(staged / "source_label.nii.gz")[0]), np.rint(tgt))
            entry = {
                "case": case,
                "source_case": source_case,
                "source": _path_in(out_dir, final / "source.nii.gz"),
                "source_label": _path_in(out_dir, final / "source_label.nii.gz") if source_label else None,
                "target": _path_in(out_dir, target_image),
                "target_label": _path_in(out_dir, target_dir / target["label"]) if "label" in target else None,
                "target_hr_image": _path_in(out_dir, target_dir / target["hr_image"]) if "hr_image" in target else None,
                "target_lr_image": _path_in(out_dir, target_dir / target["lr_image"]) if "lr_image" in target else None,
                "registration": _summary(result, record, out_dir, before, after),
            }
            reg = entry["registration"]
            checked = align and min_label_dice is not None and np.isfinite(after)
            if checked and reg["converged"] and after < min_label_dice:
                reg["converged"] = False
                reg["stop_reason"] = (
                    f"{reg.get('stop_reason', '')}; aligned label Dice {after:.3f} is below {min_label_dice} "
                    "(the registration left the heart)"
                ).lstrip("; ")
            if reg["converged"] and align and deformable and source_label and target_label:
                reg["deformable"] = _warp_staged(staged, tgt, fixed_affine)
            if reg["converged"]:
                pairs[split].append(entry)
            else:
                reason = entry["registration"]["stop_reason"]
                logger.warning("%s <- %s: registration did not converge (%s); pair dropped", case, source_case, reason)
                rejected.append({**entry, "split": split})
    pairs.update(
        {
            "source_dataset": _path_in(out_dir, source_dir),
            "target_dataset": _path_in(out_dir, target_dir),
            "image_key": image_key,
            "aligned": bool(align),
            "registration_options": options,
            "min_label_dice": min_label_dice,
            "deformable": bool(align and deformable),
            "rejected": rejected,
            "numTraining": len(pairs["training"]),
            "numValidation": len(pairs["validation"]),
            "numTest": len(pairs["test"]),
            "numRejected": len(rejected),
        }
    )
    tmp_json = out_dir / f".pairs.json.{os.getpid()}.tmp"
    tmp_json.write_text(json.dumps(pairs, indent=1) + "\n")
    os.replace(tmp_json, pairs_path)
    logger.info(
        "paired %d target cases (%d rejected) in %s in %.1f s", len(jobs), len(rejected), out_dir, time.time() - start
    )
    return out_dir


def _warp_staged(staged: Path, target_label: np.ndarray, affine: np.ndarray) -> dict[str, Any]:
    """Deformable refinement of a staged, rigidly aligned pair: rewrite ``source.nii.gz`` and
    ``source_label.nii.gz`` warped onto the target heart when that raises the label overlap.

    Args:
        staged: staging folder of the case (the rigidly aligned source image and label map, on the target grid).
        target_label: target label map (same grid).
        affine: affine of the target grid.

    Returns:
        The refinement's summary (``used``: whether the warped files replaced the rigid ones).
    """
    label = np.rint(load_nifti(staged / "source_label.nii.gz")[0]).astype(np.uint8)
    result = register_labels_deformable(np.rint(target_label), label, np.sqrt((affine[:3, :3] ** 2).sum(0)))
    summary = {**result.to_dict(), "used": result.improved}
    if result.improved:
        image = load_nifti(staged / "source.nii.gz")[0]
        save_nifti(result.warp(image), affine, staged / "source.nii.gz")
        save_nifti(result.warp(label, label=True), affine, staged / "source_label.nii.gz", label=True)
    return summary


def ensure_paired_dataset(
    dataset_dir: str | os.PathLike,
    subjects: int = 12,
    target_domain: str = "target_a",
    seed: int = 0,
    align: bool = True,
    target_seed: int | None = None,
    hr_shape: Sequence[int] = (128, 128, 64),
    registration: Mapping[str, Any] | None = None,
    min_label_dice: float | None = 0.3,
    deformable: bool = True,
    source_twins: bool = True,
    progress: bool = True,
    **synth_kwargs: Any,
) -> Path:
    """Return ``dataset_dir`` if it holds a ``pairs.json``; otherwise generate a small seeded paired dataset there.

    Generates ``subjects`` source-domain subjects (``dataset_dir/source``, seed ``seed``) and ``subjects``
    target-domain subjects (``dataset_dir/<target_domain>``, seed ``target_seed``, default ``seed + 1000``:
    other subjects with other anatomy, as two real cohorts), then pairs and aligns them (:func:`pair_datasets`).
    Everything is written to a temporary folder renamed into place when complete.

    Args:
        dataset_dir: paired dataset folder (holding ``pairs.json``, or empty / missing).
        subjects: subjects per domain (each gives an ED and an ES case).
        target_domain: target domain preset (``target_a``, ``target_b``; ``python -m custom_networks.data domains``).
        seed: seed of the source dataset.
        align: rigid alignment of the pairs (see :func:`pair_datasets`).
        target_seed: seed of the target dataset (default ``seed + 1000``).
        hr_shape: HR grid shape of both datasets.
        registration: keyword arguments of :func:`custom_networks.registration.register_rigid`.
        min_label_dice: rejection threshold of the aligned label overlap (see :func:`pair_datasets`).
        deformable: label-driven deformable refinement of the aligned pairs (see :func:`pair_datasets`).
        source_twins: also render the target subjects in the source domain (``source_twin/``, the translations'
            ground truth, :func:`~custom_networks.pairs.source_twins.add_source_twins`).
        progress: show progress bars.
        synth_kwargs: further arguments of :func:`custom_networks.data.synthesize_dataset` (both domains).

    Returns:
        ``dataset_dir``.

    Raises:
        InputError: ``dataset_dir`` holds files but no ``pairs.json``, the two domains are the same preset and seed,
            or invalid generation arguments.
    """
    dataset_dir = Path(dataset_dir)
    if (dataset_dir / "pairs.json").is_file():
        return dataset_dir
    if dataset_dir.exists() and any(dataset_dir.iterdir()):
        raise InputError(f"{dataset_dir}: folder holds files but no pairs.json; point dataset_dir elsewhere")
    target_seed = seed + TARGET_SEED_OFFSET if target_seed is None else int(target_seed)
    if target_domain == "source" and target_seed == seed:
        raise InputError("the target dataset must differ from the source one (domain or seed)")
    logger.info(
        "no paired dataset in %s: generating %d source (seed %d) and %d %s (seed %d) subjects",
        dataset_dir,
        subjects,
        seed,
        subjects,
        target_domain,
        target_seed,
    )
    common = {"subjects": subjects, "hr_shape": hr_shape, "progress": progress, **synth_kwargs}
    with atomic_output_dir(dataset_dir, overwrite=True) as tmp:
        synthesize_dataset(tmp / "source", domain="source", seed=seed, **common)
        synthesize_dataset(tmp / target_domain, domain=target_domain, seed=target_seed, **common)
        pair_datasets(
            tmp / "source",
            tmp / target_domain,
            tmp,
            align=align,
            registration=registration,
            min_label_dice=min_label_dice,
            deformable=deformable,
            progress=progress,
        )
        if source_twins:
            add_source_twins(tmp, progress=progress)
    return dataset_dir


def _relative_record(path: Path, staged: Path, final: Path, root: Path) -> None:
    """Rewrite the file paths of a transform record relative to the paired dataset folder, with the final
    (not the staging) location of the aligned files.

    Args:
        path: transform JSON written by :func:`~custom_networks.registration.align_pair`.
        staged: staging folder of the case.
        final: final folder of the case.
        root: paired dataset folder.
    """
    record = json.loads(path.read_text())
    for key in ("fixed", "moving", "fixed_label", "moving_label", "output", "moving_label_output"):
        value = record.get(key)
        if value is not None:
            value = Path(value).absolute()
            if value.is_relative_to(staged.absolute()):
                value = final.absolute() / value.relative_to(staged.absolute())
            record[key] = _path_in(root, value)
    record["paths"] = "relative to the paired dataset folder (the one holding pairs.json)"
    path.write_text(json.dumps(record, indent=2) + "\n")


def load_pairs(
    dataset_dir: str | os.PathLike,
    split: str,
    include_rejected: bool = False,
    with_registration: bool = False,
    source_twins: bool = False,
    **kwargs: Any,
) -> list[dict]:
    """Datalist of split ``split`` of a paired dataset, generating the dataset first if needed (bundle configs).

    Args:
        dataset_dir: paired dataset folder.
        split: ``"training"``, ``"validation"``, ``"test"``, or ``"external"``: the external test cohort of a
            generated dataset (more target subjects with their source twins, unpaired; generated on first use,
            :func:`~custom_networks.pairs.external_test.ensure_external_test`).
        include_rejected: also return the pairs of this split whose registration did not converge (at test time
            only the target image is needed, so evaluation scores every target case); never for training.
        with_registration: keep each item's ``"registration"`` record (a nested dict, which a ``DataLoader`` cannot
            collate; off for the configs).
        source_twins: make sure the items carry their source twins (``target_twin``, ``target_twin_hr_image``),
            rendering them first in a generated dataset made before they existed
            (:func:`~custom_networks.pairs.source_twins.add_source_twins`).
        kwargs: arguments of :func:`ensure_paired_dataset` used when generating.

    Returns:
        Items with absolute paths under :data:`PAIR_KEYS` and the ``"case"`` / ``"source_case"`` names.

    Raises:
        ValueError: unknown split.
        InputError: the split holds no pair (the message counts the rejected ones).
    """
    if split not in (*SPLITS, "external"):
        raise ValueError(f"split must be one of {(*SPLITS, 'external')}, got {split!r}")
    folder = ensure_paired_dataset(dataset_dir, **kwargs)
    if split == "external":
        return ensure_external_test(folder, progress=kwargs.get("progress", True))
    if source_twins:
        add_source_twins(folder, progress=kwargs.get("progress", True))
    pairs = json.loads((folder / "pairs.json").read_text())
    items = list(pairs.get(split, []))
    rejected = [r for r in pairs.get("rejected", []) if r.get("split") == split]
    if include_rejected:
        items += [{k: v for k, v in r.items() if k != "split"} for r in rejected]
    if not items:
        raise InputError(
            f"{folder}/pairs.json: split '{split}' holds no pair ({len(rejected)} rejected: registration did not "
            "converge, see their 'registration' records)"
        )
    out = []
    for item in items:
        entry = {}
        for key, value in item.items():
            if key == "registration" and not with_registration:
                continue
            entry[key] = str(folder / value) if key in PAIR_KEYS and value is not None else value
        out.append({k: v for k, v in entry.items() if v is not None})
    return out
