"""Command line of the data engine (python-fire): ``python -m custom_networks.data {synth,domains,preview}``."""

from __future__ import annotations

import logging
import sys

from custom_networks.data.dataset import synthesize_dataset
from custom_networks.data.domains import list_domains
from custom_networks.data.preview import preview_dataset
from custom_networks.utils.nifti import InputError

__all__ = ["DataCLI", "main"]


class DataCLI:
    """Synthetic cardiac cine MR data engine."""

    def synth(
        self,
        out: str,
        subjects: int = 40,
        domain: str = "source",
        seed: int = 0,
        hr_shape: tuple = (128, 128, 64),
        labelmaps: str | None = None,
        randomize_intensities: bool = False,
        slice_thickness: float | None = None,
        slice_spacing: float | None = None,
        inplane_spacing: float | None = None,
        max_shift_mm: float | None = None,
        allow_overlap: bool = False,
        interp_order: int = 1,
        overwrite: bool = False,
    ) -> str:
        """Generate a dataset folder (NIfTI per subject and phase, dataset.json, manifest.json).

        Args:
            out: output folder.
            subjects: number of subjects (each with ED and ES).
            domain: preset name (see ``domains``).
            seed: dataset seed.
            hr_shape: HR grid shape, slice axis last.
            labelmaps: folder of real HR label maps to use as anatomy instead of the parametric heart.
            randomize_intensities: domain randomisation of tissue intensities.
            slice_thickness: slice thickness in mm (default: the preset's).
            slice_spacing: slice spacing in mm (default: the preset's).
            inplane_spacing: stack in-plane voxel size in mm (default: the preset's).
            max_shift_mm: largest breath-hold misalignment in mm, 0 for none (default: the preset's).
            allow_overlap: accept slice spacing smaller than slice thickness.
            interp_order: stack-to-HR interpolation order (1 linear, 3 cubic B-spline).
            overwrite: replace an existing dataset folder.
        """
        path = synthesize_dataset(
            out,
            subjects,
            domain,
            seed,
            tuple(hr_shape),
            labelmaps,
            randomize_intensities,
            slice_thickness,
            slice_spacing,
            inplane_spacing,
            max_shift_mm,
            allow_overlap,
            interp_order,
            overwrite,
        )
        return f"dataset written to {path}"

    def domains(self) -> str:
        """List the appearance/acquisition presets with a one-line description each."""
        items = list_domains()
        width = max(len(n) for n in items)
        return "\n".join(f"{name:<{width}}  {desc}" for name, desc in items.items())

    def preview(self, dataset: str, out: str = "preview.png", case: str | None = None) -> str:
        """Write a PNG montage (HR / LR / LR-on-HR, short and long axis, label contours) of one subject.

        Args:
            dataset: dataset folder.
            out: PNG to write.
            case: subject name (default: the first one).
        """
        return f"preview written to {preview_dataset(dataset, out, case)}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one clear line and exit with status 2."""
    import fire

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        fire.Fire(DataCLI, command=argv, name="python -m custom_networks.data")
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
