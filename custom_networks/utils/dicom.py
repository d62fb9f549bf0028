"""Former home of DICOM I/O, kept so that existing imports and config ``_target_`` paths keep working: the code
lives in :mod:`custom_networks.core.dicom`."""

from __future__ import annotations

from custom_networks.core.dicom import (  # noqa: F401
    DicomSeries,
    check_output_file,
    dicom_files,
    is_dicom_file,
    is_dicom_folder,
    list_dicom_series,
    read_dicom_series,
    read_dicom_series_cached,
    save_cine,
)

__all__ = [
    "DicomSeries",
    "check_output_file",
    "dicom_files",
    "is_dicom_file",
    "is_dicom_folder",
    "list_dicom_series",
    "read_dicom_series",
    "read_dicom_series_cached",
    "save_cine",
]
