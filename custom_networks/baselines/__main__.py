"""Command line of the classic SR baselines (python-fire)::

    python -m custom_networks.baselines stack --stack F --out DIR [--method bspline] [--label F]
        [--label_method onehot_linear] [--hr_spacing 1.25,1.25,2] [--name NAME] [--overwrite True]
    python -m custom_networks.baselines dataset --dataset_dir D --out DIR [--method linear] [--split test]
        [--label_method nearest] [--with_labels False] [--overwrite True]

Existing output files are refused before any computation unless ``--overwrite True``.

User errors print one line (``error: ...``) and exit with status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from custom_networks.baselines.interpolation import interpolate_dataset, interpolate_stack
from custom_networks.core.cli import run_cli
from custom_networks.core.geometry import HR_SPACING

__all__ = ["dataset", "main", "stack"]


def stack(
    stack: str,
    out: str,
    method: str = "linear",
    label: str | None = None,
    label_method: str = "nearest",
    hr_spacing: Sequence[float] = HR_SPACING,
    name: str | None = None,
    overwrite: bool = False,
) -> dict[str, str]:
    """Interpolate one LR stack (and optionally its label map) onto its HR grid.

    Args:
        stack: NIfTI file of the 3D LR stack.
        out: output folder.
        method: image interpolation: linear, nearest or bspline.
        label: NIfTI label map of the stack (values 0..3).
        label_method: label interpolation: nearest or onehot_linear.
        hr_spacing: HR voxel size (mm), e.g. 1.25,1.25,2.
        name: output file prefix (default: the stack's file name without .nii.gz).
        overwrite: replace existing ``<name>_sr.nii.gz`` / ``<name>_seg.nii.gz`` (refused otherwise).
    """
    written = interpolate_stack(stack, out, method, label, label_method, hr_spacing, name, overwrite=overwrite)
    return {key: str(path) for key, path in written.items()}


def dataset(
    dataset_dir: str,
    out: str,
    method: str = "linear",
    label_method: str = "nearest",
    split: str = "test",
    with_labels: bool = True,
    hr_spacing: Sequence[float] = HR_SPACING,
    overwrite: bool = False,
) -> str:
    """Interpolate the LR stack (and label map) of every case of a split of a generated dataset.

    Args:
        dataset_dir: dataset folder (with dataset.json).
        out: output folder.
        method: image interpolation: linear, nearest or bspline.
        label_method: label interpolation: nearest or onehot_linear.
        split: training, validation or test.
        with_labels: also interpolate the LR label maps.
        hr_spacing: HR voxel size (mm), e.g. 1.25,1.25,2.
        overwrite: replace existing output files (refused otherwise, before any case is computed).
    """
    results = interpolate_dataset(
        dataset_dir, out, method, label_method, split, with_labels, hr_spacing, overwrite=overwrite
    )
    seconds = sum(r["seconds"] for r in results)
    return f"{len(results)} cases of split {split!r} ({method}) written to {out} in {seconds:.1f} s"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one clear line and exit with status 2.

    Args:
        argv: arguments (default: ``sys.argv[1:]``).
    """
    return run_cli({"stack": stack, "dataset": dataset}, argv, name="python -m custom_networks.baselines")


if __name__ == "__main__":
    sys.exit(main())
