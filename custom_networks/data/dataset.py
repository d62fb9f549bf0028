"""Write a generated dataset: NIfTI volumes per subject and phase, ``dataset.json`` (MONAI datalist with seeded,
subject-grouped splits) and ``manifest.json`` (every parameter drawn, so any case can be reproduced)."""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

import custom_networks
from custom_networks.core.cases import PHASES
from custom_networks.core.errors import InputError
from custom_networks.core.labels import LABEL_NAMES
from custom_networks.core.nifti import atomic_output_dir, save_nifti
from custom_networks.data.acquisition import StackProtocol
from custom_networks.data.domains import get_domain
from custom_networks.data.labelmaps import RealAnatomy
from custom_networks.data.synthesis import ANATOMY_DETAILS, generate_subject
from custom_networks.datalists.split import split_indices
from custom_networks.datalists.ukdh import find_label_maps

__all__ = ["FILE_KEYS", "case_name", "ensure_dataset", "split_subjects", "synthesize_dataset"]

logger = logging.getLogger(__name__)

#: Writer named in a dataset folder's marker: ``overwrite`` replaces only a dataset folder this function wrote.
WRITER = "custom_networks.data synth"

#: Datalist key -> file stem. ``image`` is the network input (stack interpolated onto the HR grid); ``tissue`` the HR
#: tissue map (every class of the synthetic thorax, ``custom_networks.data.tissues.Tissue``) that on-the-fly
#: randomised synthesis renders anew for every training sample.
FILE_KEYS = {
    "image": "lr_on_hr",
    "label": "hr_label",
    "hr_image": "hr_image",
    "lr_image": "lr_image",
    "lr_label": "lr_label",
    "tissue": "hr_tissue",
}


def case_name(item: dict) -> str:
    """Name of a dataset item's case, ``<subject>_<phase>`` (e.g. ``sub-0005_ED``): the ``<name>`` of the files
    that inference and the classic baselines write for it (``<name>_seg.nii.gz``, ``<name>_sr.nii.gz``)."""
    return f"{item['subject']}_{item['phase']}"


def split_subjects(n: int, seed: int, fractions: Sequence[float] = (0.7, 0.15, 0.15)) -> dict[str, list[int]]:
    """Seeded train/validation/test split of subject indices (each subject, with both phases, in one split): the
    datalist tools' :func:`~custom_networks.datalists.split.split_indices` with the engine's original sizes rule
    (``honour_zero=False``: validation and test get at least one subject whatever their fractions)."""
    return split_indices(n, seed, fractions, honour_zero=False)


def synthesize_dataset(
    out: str | Path,
    subjects: int = 40,
    domain: str = "source",
    seed: int = 0,
    hr_shape: Sequence[int] = (128, 128, 64),
    labelmaps: str | Path | None = None,
    randomize_intensities: bool = False,
    slice_thickness: float | None = None,
    slice_spacing: float | None = None,
    inplane_spacing: float | None = None,
    max_shift_mm: float | None = None,
    allow_overlap: bool = False,
    interp_order: int = 1,
    anatomy_detail: str = "basic",
    deformation_mm: float = 3.0,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Generate a dataset folder (written to a temporary folder, renamed into place when complete).

    Args:
        out: output folder (must not exist or be empty unless ``overwrite``).
        subjects: number of subjects (each gives an ED and an ES case).
        domain: appearance/acquisition preset name (``python -m custom_networks.data domains``).
        seed: dataset seed; subject ``i`` is generated from ``(seed, i)`` whatever ``subjects`` is.
        hr_shape: HR grid shape (slice axis last).
        labelmaps: folder of real HR label maps to use as anatomy (cycled over subjects); parametric if None.
        randomize_intensities: domain randomisation of tissue intensities.
        slice_thickness: override of the preset's slice thickness (mm).
        slice_spacing: override of the preset's slice spacing (mm).
        inplane_spacing: override of the preset's stack in-plane voxel size (mm).
        max_shift_mm: override of the preset's largest breath-hold misalignment (mm); 0 disables it.
        allow_overlap: accept slice spacing smaller than slice thickness.
        interp_order: interpolation order of the stack onto the HR grid (1 linear, 3 cubic B-spline).
        anatomy_detail: ``basic`` (smooth heart, simple thorax) or ``realistic`` (papillary muscles, trabeculae,
            outflow tracts, the ACDC phenotypes, skeleton, stomach, spleen, arms, breasts); parametric anatomy only.
        deformation_mm: amplitude (mm, standard deviation of the control points) of the smooth random deformation of
            every subject's anatomy; raise it (e.g. 8) to draw more varied hearts from the few ``labelmaps``.
        overwrite: replace an existing dataset folder that this function wrote (never another folder, nor the
            current working folder).
        progress: show a progress bar.

    Returns:
        The dataset folder.

    Raises:
        InputError: invalid arguments, unusable label maps or an unwritable output folder.
    """
    if not isinstance(subjects, int) or isinstance(subjects, bool) or subjects <= 0:
        raise InputError(f"subjects must be a positive integer, got {subjects!r}")
    shape = tuple(int(s) for s in hr_shape)
    if len(shape) != 3 or min(shape) < 16 or max(shape) > 1024:
        raise InputError(f"hr_shape must be three sizes between 16 and 1024, got {hr_shape}")
    if interp_order not in (0, 1, 3):
        raise InputError(f"interp_order must be 0, 1 or 3, got {interp_order}")
    if anatomy_detail not in ANATOMY_DETAILS:
        raise InputError(f"--anatomy_detail must be one of {', '.join(ANATOMY_DETAILS)}, got {anatomy_detail!r}")
    if not (
        isinstance(deformation_mm, int | float) and not isinstance(deformation_mm, bool) and 0 <= deformation_mm <= 20
    ):
        raise InputError(f"--deformation_mm must be a number of mm in [0, 20], got {deformation_mm!r}")
    if anatomy_detail != "basic" and labelmaps:
        raise InputError("--anatomy_detail applies to the parametric anatomy; omit it with --labelmaps")
    for name, value in (
        ("inplane_spacing", inplane_spacing),
        ("slice_thickness", slice_thickness),
        ("slice_spacing", slice_spacing),
    ):
        if value is not None and not (isinstance(value, int | float) and not isinstance(value, bool) and value > 0):
            raise InputError(f"--{name} must be a positive number of mm, got {value!r} (omit it for the preset's)")
    try:
        preset = get_domain(domain)
        protocol = StackProtocol(
            inplane_spacing=preset.lr_inplane_spacing if inplane_spacing is None else float(inplane_spacing),
            slice_thickness=preset.slice_thickness if slice_thickness is None else float(slice_thickness),
            slice_spacing=preset.slice_spacing if slice_spacing is None else float(slice_spacing),
            max_shift_mm=preset.max_shift_mm if max_shift_mm is None else float(max_shift_mm),
            allow_overlap=allow_overlap,
        )
    except ValueError as err:
        raise InputError(str(err)) from err
    anatomies = [RealAnatomy.from_file(p) for p in find_label_maps(labelmaps)] if labelmaps else []
    splits = split_subjects(subjects, seed)
    split_of = {i: name for name, idx in splits.items() for i in idx}
    datalist: dict[str, list] = {"training": [], "validation": [], "test": []}
    manifest_subjects = {}
    start = time.time()
    with atomic_output_dir(out, overwrite=overwrite, writer=WRITER) as tmp:
        for i in tqdm(range(subjects), desc=f"synth {domain}", unit="subject", disable=not progress):
            name = f"sub-{i:04d}"
            anatomy = anatomies[i % len(anatomies)] if anatomies else None
            subject = generate_subject(
                [seed, i],
                preset,
                shape,
                protocol,
                randomize_intensities,
                anatomy=anatomy,
                interp_order=interp_order,
                anatomy_detail=anatomy_detail,
                deformation_mm=float(deformation_mm),
            )
            for phase in PHASES:
                vols = subject.phases[phase]
                folder = tmp / name / phase
                entry = {"subject": name, "phase": phase}
                for key, stem in FILE_KEYS.items():
                    is_lr = stem.startswith("lr_") and stem != "lr_on_hr"
                    save_nifti(
                        getattr(vols, stem),
                        vols.lr_affine if is_lr else subject.hr_affine,
                        folder / f"{stem}.nii.gz",
                        label=stem.endswith(("label", "tissue")),
                    )
                    entry[key] = f"{name}/{phase}/{stem}.nii.gz"
                datalist[split_of[i]].append(entry)
            manifest_subjects[name] = {"seed": [seed, i], "split": split_of[i], **subject.manifest}
        dataset = {
            "name": f"synthetic cardiac cine MR ({domain})",
            "description": preset.description,
            "domain": domain,
            "labels": {str(k): v for k, v in LABEL_NAMES.items()},
            "tensorImageSize": "3D",
            "hr_shape": list(shape),
            "hr_spacing": list(preset.hr_spacing),
            "numTraining": len(datalist["training"]),
            "numValidation": len(datalist["validation"]),
            "numTest": len(datalist["test"]),
            **datalist,
        }
        (tmp / "dataset.json").write_text(json.dumps(dataset, indent=1))
        manifest = {
            "generator": f"custom_networks {custom_networks.__version__}",
            "python": platform.python_version(),
            "arguments": {
                "subjects": subjects,
                "domain": domain,
                "seed": seed,
                "hr_shape": list(shape),
                "labelmaps": str(labelmaps) if labelmaps else None,
                "randomize_intensities": bool(randomize_intensities),
                "interp_order": interp_order,
                "anatomy_detail": anatomy_detail,
                "deformation_mm": float(deformation_mm),
            },
            "domain": preset.to_dict(),
            "protocol": protocol.to_dict(),
            "subjects": manifest_subjects,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    logger.info("wrote %d subjects (%s) to %s in %.1f s", subjects, domain, out, time.time() - start)
    return Path(out)


def ensure_dataset(
    dataset_dir: str | Path, subjects: int = 12, domain: str = "source", seed: int = 0, **kwargs
) -> Path:
    """Return ``dataset_dir`` if it holds a ``dataset.json``; otherwise generate a small seeded dataset there.

    This is the bundles' embedded default: a fresh checkout trains, evaluates and infers on generated data.
    """
    dataset_dir = Path(dataset_dir)
    if (dataset_dir / "dataset.json").is_file():
        return dataset_dir
    if dataset_dir.exists() and any(dataset_dir.iterdir()):
        raise InputError(f"{dataset_dir}: folder holds files but no dataset.json; point dataset_dir elsewhere")
    logger.info("no dataset in %s: generating %d %s subjects (seed %d)", dataset_dir, subjects, domain, seed)
    return synthesize_dataset(dataset_dir, subjects=subjects, domain=domain, seed=seed, overwrite=True, **kwargs)
