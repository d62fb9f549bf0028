"""``python -m custom_networks.dicom2nifti``: DICOM short-axis cine folders to NIfTI, and what a folder holds.

Commands (python-fire)::

    python -m custom_networks.dicom2nifti convert DICOM_DIR OUT.nii.gz [--series UID_OR_NUMBER] [--overwrite]
    python -m custom_networks.dicom2nifti series DICOM_DIR

``convert`` writes a 4D NIfTI ``(X, Y, Z, T)`` (3D files with ``T = 1`` keep a fourth axis of length 1) in RAS world
coordinates with the frame interval in ``pixdim[4]`` (ms); see :mod:`custom_networks.core.dicom` for how the
geometry, slice order and phases are read and what is refused.
"""

from __future__ import annotations

import sys

from custom_networks.core.cli import run_cli
from custom_networks.core.dicom import check_output_file, list_dicom_series, read_dicom_series, save_cine

__all__ = ["DicomCLI", "main"]


class DicomCLI:
    """DICOM short-axis cine series to NIfTI."""

    def convert(self, folder: str, out: str, series: str | None = None, overwrite: bool = False) -> str:
        """Convert the DICOM series in ``folder`` to a 4D NIfTI file ``out``.

        Args:
            folder: folder of DICOM files (one per slice and phase).
            out: ``.nii.gz`` file to write (refused when it exists, unless ``overwrite``).
            series: SeriesInstanceUID or SeriesNumber, when the folder holds several series.
            overwrite: replace an existing ``out``.
        """
        check_output_file(out, overwrite)
        cine = read_dicom_series(folder, series=None if series is None else str(series))
        path = save_cine(cine, out, overwrite=overwrite)
        x, y, z, t = cine.array.shape
        interval = "" if cine.frame_interval_ms is None else f", {cine.frame_interval_ms:.2f} ms between frames"
        spacing = " x ".join(f"{s:.4g}" for s in cine.spacing)
        return f"wrote {path}: {x} x {y} x {z} voxels of {spacing} mm, {t} frame(s){interval}"

    def series(self, folder: str) -> str:
        """List the series in a DICOM folder (number, description, UID, number of files)."""
        rows = list_dicom_series(folder)
        return "\n".join(f"#{s['number'] or '?'}\t{s['files']} files\t{s['description']!r}\t{s['uid']}" for s in rows)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one clear line and exit with status 2; SIGTERM leaves no partial file."""
    return run_cli(DicomCLI, argv, name="python -m custom_networks.dicom2nifti")


if __name__ == "__main__":
    sys.exit(main())
