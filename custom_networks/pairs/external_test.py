"""An external test cohort for a generated paired dataset: more target subjects, with their source twins.

A paired dataset of 12 subjects per domain keeps 2 target subjects (4 cases) for testing, too few to compare
domain-adaptation methods whose per-case Dice spreads by 0.1-0.4. Translation needs no source image, so a test cohort
needs no pairing: ``external_test/`` holds ``subjects`` further subjects of the target domain (seeds no other cohort
uses) and their source twins (:mod:`custom_networks.pairs.source_twins`), every case (ED and ES of every subject) a
test case. ``load_pairs(dataset_dir, "external")`` returns its items, with the keys of the paired test items.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import atomic_output_dir
from custom_networks.data.dataset import case_name, synthesize_dataset
from custom_networks.pairs.source_twins import TWIN_KEYS, check_same_subject, render_twins

__all__ = ["EXTERNAL_DIR", "EXTERNAL_SEED_OFFSET", "ensure_external_test"]

logger = logging.getLogger(__name__)

#: Folder of the external test cohort inside a paired dataset.
EXTERNAL_DIR = "external_test"
#: Its seed: the target cohort's seed plus this offset (subjects that neither paired cohort holds).
EXTERNAL_SEED_OFFSET = 1000
#: Stack-protocol settings the external cohort takes from the target cohort's manifest (its acquisition).
PROTOCOL_ARGS = ("inplane_spacing", "slice_thickness", "slice_spacing", "max_shift_mm", "allow_overlap")
#: Default number of external test subjects.
EXTERNAL_SUBJECTS = 10


def ensure_external_test(
    dataset_dir: str | os.PathLike, subjects: int = EXTERNAL_SUBJECTS, progress: bool = True
) -> list[dict]:
    """Items of the external test cohort of a generated paired dataset, generating it first if needed.

    Args:
        dataset_dir: paired dataset folder (``pairs.json``) whose target cohort was generated.
        subjects: number of target subjects to generate (each gives an ED and an ES case); an existing cohort is
            kept whatever its size.
        progress: show progress bars.

    Returns:
        Items ``{"case", "target", "target_label", "target_hr_image", "target_lr_image", "target_twin",
        "target_twin_hr_image"}`` with absolute paths, every case of the cohort.

    Raises:
        InputError: no ``pairs.json``, or a target cohort that was not generated (real data).
    """
    dataset_dir = Path(dataset_dir)
    pairs_path = dataset_dir / "pairs.json"
    if not pairs_path.is_file():
        raise InputError(f"{pairs_path}: no paired dataset here")
    folder = dataset_dir / EXTERNAL_DIR
    items_path = folder / "items.json"
    if not items_path.is_file():
        pairs = json.loads(pairs_path.read_text())
        manifest_path = dataset_dir / pairs["target_dataset"] / "manifest.json"
        if not manifest_path.is_file():
            raise InputError(f"{manifest_path}: missing; an external test cohort exists only for generated data")
        manifest = json.loads(manifest_path.read_text())
        args = manifest["arguments"]
        seed = int(args["seed"]) + EXTERNAL_SEED_OFFSET
        logger.info("generating an external test cohort: %d %s subjects (seed %d)", subjects, args["domain"], seed)
        with atomic_output_dir(folder, overwrite=True) as tmp:
            target = synthesize_dataset(
                tmp / "target",
                subjects=subjects,
                domain=args["domain"],
                seed=seed,
                hr_shape=args["hr_shape"],
                labelmaps=args.get("labelmaps"),
                randomize_intensities=args.get("randomize_intensities", False),
                interp_order=args.get("interp_order", 1),
                **{k: v for k, v in manifest.get("protocol", {}).items() if k in PROTOCOL_ARGS},
                progress=progress,
            )
            twins = render_twins(target, tmp / "source_twin", progress)
            datalist = json.loads((target / "dataset.json").read_text())
            items = []
            for item in (i for split in ("training", "validation", "test") for i in datalist[split]):
                case = case_name(item)
                twin = twins[case]
                if not items:
                    check_same_subject(target / item["label"], tmp / "source_twin" / twin["label"], case)
                entry = {
                    "case": case,
                    "target": f"target/{item['image']}",
                    "target_label": f"target/{item['label']}",
                    "target_hr_image": f"target/{item['hr_image']}",
                    "target_lr_image": f"target/{item['lr_image']}",
                }
                entry.update({key: f"source_twin/{twin[twin_key]}" for twin_key, key in TWIN_KEYS.items()})
                items.append(entry)
            (tmp / "items.json").write_text(json.dumps({"seed": seed, "items": items}, indent=1) + "\n")
    items = json.loads(items_path.read_text())["items"]
    return [{k: v if k == "case" else str(folder / v) for k, v in item.items()} for item in items]
