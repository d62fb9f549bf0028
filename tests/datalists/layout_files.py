"""Small folders in each dataset layout, for the importer tests (not a test module: imported by them)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

AFFINE = np.diag([1.5, 1.5, 8.0, 1.0])

MNMS_CSV = (
    ",External code,VendorName,Vendor,Centre,ED,ES\n"
    "0,A1D0Q7,Siemens,A,1,0,3\n"
    "1,B2E1R8,Philips,B,2,1,4\n"
    "2,E5H4U1,GE,C,3,0,7\n"
)


def nii(path: Path, shape=(8, 8, 3), label: bool = False) -> Path:
    """Write a NIfTI file of zeros (uint8 for a label, int16 otherwise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.zeros(shape, np.uint8 if label else np.int16), AFFINE), str(path))
    return path


def corrupt(path: Path) -> Path:
    """Write a file that is not NIfTI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a NIfTI file")
    return path


def skips(skipped: list[dict]) -> dict[tuple[str, str | None], str]:
    """``{(subject, phase): reason}`` of an importer's skipped list."""
    return {(s["subject"], s.get("phase")): s["reason"] for s in skipped}


def acdc_patient(root: Path, name: str, ed: int, es: int, cfg: bool = True, cine: int | None = 4, group="DCM"):
    """One ACDC subject folder."""
    folder = root / name
    folder.mkdir(parents=True)
    if cfg:
        (folder / "Info.cfg").write_text(
            f"ED: {ed}\nES: {es}\nGroup: {group}\nHeight: 184.0\nNbFrame: {cine or 30}\nWeight: 95.0\n"
        )
    if cine:
        nii(folder / f"{name}_4d.nii.gz", (8, 8, 3, cine))
    for number in (ed, es):
        nii(folder / f"{name}_frame{number:02d}.nii.gz")
        nii(folder / f"{name}_frame{number:02d}_gt.nii.gz", label=True)
    return folder


def make_acdc(tmp_path: Path) -> Path:
    """An ACDC folder: two good subjects, then one problem each (label missing, no Info.cfg, corrupt label, frame
    beyond the cine, label of another shape) and a folder that is no subject."""
    root = tmp_path / "acdc"
    acdc_patient(root, "patient001", 1, 3)
    acdc_patient(root, "patient002", 2, 4, cine=None, group="NOR")
    (acdc_patient(root, "patient003", 1, 2) / "patient003_frame02_gt.nii.gz").unlink()  # ES label missing
    acdc_patient(root, "patient004", 1, 2, cfg=False)  # no Info.cfg
    corrupt(acdc_patient(root, "patient005", 1, 2) / "patient005_frame01_gt.nii.gz")  # ED label corrupt
    folder = acdc_patient(root, "patient006", 1, 2, cine=2)
    (folder / "Info.cfg").write_text("ED: 1\nES: 9\nGroup: MINF\n")  # ES beyond the 2 frames of the cine
    nii(acdc_patient(root, "patient007", 1, 2) / "patient007_frame01_gt.nii.gz", (8, 8, 4), label=True)
    (root / "notes").mkdir()  # not a subject folder: ignored
    return root


def make_mnms(tmp_path: Path) -> Path:
    """An M&Ms folder of five subjects (one unlabelled) and ``tmp_path/info.csv`` (rows for three of them)."""
    root = tmp_path / "mnms"
    for name in ("A1D0Q7", "B2E1R8", "C3F2S9", "D4G3T0", "E5H4U1"):
        nii(root / name / f"{name}_sa.nii.gz", (8, 8, 3, 5))
        if name != "C3F2S9":  # an unlabelled subject
            nii(root / name / f"{name}_sa_gt.nii.gz", (8, 8, 3, 5), label=True)
    (tmp_path / "info.csv").write_text(MNMS_CSV)
    return root


def make_flat(tmp_path: Path) -> Path:
    """A flat folder: four pairs (one case without a phase), an image without label, a pair on two grids."""
    root = tmp_path / "flatset"
    for case in ("s01_ED", "s01_ES", "s02_ED", "s03"):
        nii(root / f"{case}_image.nii.gz")
        nii(root / f"{case}_gt.nii.gz", label=True)
    nii(root / "s02_ES_image.nii.gz")  # no label
    nii(root / "s04_ED_image.nii.gz")
    nii(root / "s04_ED_gt.nii.gz", (8, 8, 5), label=True)  # another grid
    return root
