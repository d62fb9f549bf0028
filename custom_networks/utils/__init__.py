"""How commands end on bad input (the one CLI runner), and the former home of the NIfTI / DICOM I/O now in
:mod:`custom_networks.core` (re-exported here so that existing imports keep working)."""

from __future__ import annotations

from custom_networks.core.dicom import DicomSeries, is_dicom_folder, list_dicom_series, read_dicom_series, save_cine
from custom_networks.core.nifti import (
    InputError,
    NiftiFrameWriter,
    atomic_output_dir,
    check_voxel_size,
    load_nifti,
    publish_mode,
    save_figure,
    save_nifti,
    write_text_atomic,
)
from custom_networks.utils.cli import install_error_handler, run_cli

__all__ = [
    "DicomSeries",
    "InputError",
    "NiftiFrameWriter",
    "atomic_output_dir",
    "check_voxel_size",
    "install_error_handler",
    "is_dicom_folder",
    "list_dicom_series",
    "load_nifti",
    "publish_mode",
    "read_dicom_series",
    "run_cli",
    "save_cine",
    "save_figure",
    "save_nifti",
    "write_text_atomic",
]
