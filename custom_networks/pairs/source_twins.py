"""Source twins of a generated target cohort: the ground truth of a domain translation.

A generated target subject is drawn from its seed; the data engine draws anatomy, pose, breath-hold slice shifts and
noise from that seed in the same order whatever the domain preset. Rendering the **same seeds with the source
preset** therefore gives each target case its *source twin*: the same heart, the same slice misalignment, scanned
with the source scanner's appearance and in-plane resolution. That is what an ideal target -> source translation
would output (up to the finer in-plane resolution of the source stacks, which no translation can fully restore), so
it gives the V-AMA bundle's evaluation

* an image reference for the translations (PSNR / SSIM of the translation against the twin), where the aligned
  source of a pair (another subject) only allows a coarse appearance check;
* the upper bound of the Dice comparison on the *same* test subjects: the frozen Gemini-GAN on the twins (no domain
  shift at all).

Real target cohorts have no twin; this applies to generated paired datasets only.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import load_nifti
from custom_networks.data.dataset import case_name, synthesize_dataset

__all__ = [
    "TWIN_DIR",
    "TWIN_KEYS",
    "add_source_twins",
    "check_same_subject",
    "evaluation_input_key",
    "render_twins",
    "twins_available",
]

logger = logging.getLogger(__name__)

#: Folder of the twin dataset inside a paired dataset.
TWIN_DIR = "source_twin"
#: Stack-protocol settings a twin takes from its target cohort's manifest (the in-plane voxel size stays the source's).
TWIN_PROTOCOL = ("slice_thickness", "slice_spacing", "max_shift_mm", "allow_overlap")
#: Pair-item keys added by :func:`add_source_twins` (twin dataset key -> pair key).
TWIN_KEYS = {"image": "target_twin", "hr_image": "target_twin_hr_image"}


def render_twins(target_dir: str | os.PathLike, twin_dir: str | os.PathLike, progress: bool = True) -> dict[str, dict]:
    """Render the subjects of a generated target dataset in the source domain (unless ``twin_dir`` holds them): the
    same seeds and generation arguments, the target's slice thickness, spacing and breath-hold amplitude (so the same
    slices and shifts), the source preset's appearance and in-plane voxel size.

    Args:
        target_dir: the generated target-domain dataset (its ``manifest.json`` gives the seed and arguments).
        twin_dir: folder of the twin dataset (data-engine layout).
        progress: show a progress bar.

    Returns:
        The twin datalist items by case name (``<subject>_<phase>``), paths relative to ``twin_dir``.

    Raises:
        InputError: a target dataset without a data-engine ``manifest.json`` (real data: no twins).
    """
    target_dir, twin_dir = Path(target_dir), Path(twin_dir)
    manifest_path = target_dir / "manifest.json"
    if not manifest_path.is_file():
        raise InputError(f"{manifest_path}: missing; source twins exist only for a generated target cohort")
    manifest = json.loads(manifest_path.read_text())
    args, protocol = manifest["arguments"], manifest.get("protocol", {})
    if not (twin_dir / "dataset.json").is_file():
        logger.info("rendering the %d subjects of %s in the source domain (twins)", args["subjects"], target_dir)
        synthesize_dataset(
            twin_dir,
            subjects=args["subjects"],
            domain="source",
            seed=args["seed"],
            hr_shape=args["hr_shape"],
            labelmaps=args.get("labelmaps"),
            randomize_intensities=args.get("randomize_intensities", False),
            interp_order=args.get("interp_order", 1),
            # the target's slice geometry and breath-hold amplitude (same slices, same shifts), the source's in-plane
            **{k: protocol[k] for k in TWIN_PROTOCOL if k in protocol},
            overwrite=True,
            progress=progress,
        )
    twin_list = json.loads((twin_dir / "dataset.json").read_text())
    return {case_name(item): item for split in ("training", "validation", "test") for item in twin_list[split]}


def twins_available(dataset_dir: str | os.PathLike) -> bool:
    """Whether a paired dataset's target cases can have source twins: its target cohort was generated (or the
    dataset does not exist yet, and will be generated).

    Args:
        dataset_dir: paired dataset folder.
    """
    pairs_path = Path(dataset_dir) / "pairs.json"
    if not pairs_path.is_file():
        return True
    target = Path(dataset_dir) / json.loads(pairs_path.read_text())["target_dataset"]
    return (target / "manifest.json").is_file()


def evaluation_input_key(upper_bound: bool, twins: bool) -> str:
    """Key of the V-AMA evaluation's input: the target image, or its source twin for the upper bound.

    Args:
        upper_bound: evaluate the source twins (the upper bound) instead of the targets.
        twins: whether the dataset has twins (:func:`twins_available`).

    Raises:
        InputError: the upper bound is asked for a dataset without twins.
    """
    if upper_bound and not twins:
        raise InputError("--upper_bound needs source twins, which only a generated target cohort has")
    return "target_twin" if upper_bound else "target"


def check_same_subject(target_label: str | os.PathLike, twin_label: str | os.PathLike, case: str) -> None:
    """Raise ``InputError`` unless a target case and its twin have the same label map (the same subject).

    Args:
        target_label: label map of the target case.
        twin_label: label map of its twin.
        case: case name (for the message).
    """
    if not np.array_equal(load_nifti(target_label)[0], load_nifti(twin_label)[0]):
        raise InputError(f"{twin_label}: the twin of {case} has another anatomy than the target case")


def add_source_twins(dataset_dir: str | os.PathLike, progress: bool = True) -> Path:
    """Generate the source twins of a generated paired dataset's target cohort and record them in ``pairs.json``.

    The twins (``<dataset_dir>/source_twin``, a dataset of the data engine's layout) are the target cohort's
    subjects regenerated with the ``source`` preset and the target cohort's own seed and generation arguments (read
    from its ``manifest.json``, :func:`render_twins`). Every pair item (rejected ones included) gains
    ``target_twin`` (the twin's stack on the HR grid, the network-input kind) and ``target_twin_hr_image``. Nothing
    is done when they are already there.

    Args:
        dataset_dir: paired dataset folder (``pairs.json``), whose target cohort was generated.
        progress: show a progress bar.

    Returns:
        ``dataset_dir``.

    Raises:
        InputError: no ``pairs.json``, a target cohort without a data-engine ``manifest.json`` (real data: no twins),
            or a twin whose label map differs from its target case's (the twin would not be the same subject).
    """
    dataset_dir = Path(dataset_dir)
    pairs_path = dataset_dir / "pairs.json"
    if not pairs_path.is_file():
        raise InputError(f"{pairs_path}: no paired dataset here")
    pairs = json.loads(pairs_path.read_text())
    groups = [pairs.get(split, []) for split in ("training", "validation", "test")] + [pairs.get("rejected", [])]
    if all(TWIN_KEYS["image"] in item for group in groups for item in group):
        return dataset_dir
    twin_dir = dataset_dir / TWIN_DIR
    twins = render_twins(dataset_dir / pairs["target_dataset"], twin_dir, progress)
    checked = False
    for group in groups:
        for item in group:
            twin = twins.get(item["case"])
            if twin is None:
                raise InputError(f"{twin_dir}: no twin of target case {item['case']}")
            if not checked and item.get("target_label"):  # one case suffices: the draws are all-or-nothing
                try:
                    check_same_subject(dataset_dir / item["target_label"], twin_dir / twin["label"], item["case"])
                except InputError:
                    shutil.rmtree(twin_dir, ignore_errors=True)  # not twins: do not leave them for the next call
                    raise
                checked = True
            for twin_key, pair_key in TWIN_KEYS.items():
                item[pair_key] = os.path.relpath(twin_dir / twin[twin_key], dataset_dir)
    pairs["source_twin_dataset"] = TWIN_DIR
    tmp = dataset_dir / f".pairs.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(pairs, indent=1) + "\n")
    os.replace(tmp, pairs_path)
    logger.info("source twins recorded in %s", pairs_path)
    return dataset_dir
