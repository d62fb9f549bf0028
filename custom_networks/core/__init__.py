"""The conventions every part of the project shares, in one place: world geometry (affines, resampling, the HR grid),
NIfTI and DICOM input/output with clear errors and atomic writes, opening a cine, the NIfTI <-> ITK bridge, the label
convention, and overlap (Dice). It imports nothing else of the project; everything else imports it."""

from __future__ import annotations

from custom_networks.core.cine_source import CineSource, open_cine
from custom_networks.core.dicom import DicomSeries, is_dicom_folder, list_dicom_series, read_dicom_series
from custom_networks.core.geometry import (
    HR_SPACING,
    apply_affine,
    centered_grid_affine,
    hr_grid_for,
    resample_to_grid,
    rotation_matrix,
    slice_axis_of,
    spacing_from_affine,
)
from custom_networks.core.itk_bridge import RAS_TO_LPS, array_from_image, image_from_array, lps_geometry
from custom_networks.core.label_maps import Annotation, LabelValueError, load_label, read_annotation
from custom_networks.core.labels import CLASS_NAMES, FOREGROUND_LABELS, LABEL_COLORS, LABEL_NAMES, NUM_CLASSES
from custom_networks.core.nifti import (
    InputError,
    NiftiFrameWriter,
    atomic_output_dir,
    frame_interval_ms,
    load_nifti,
    nifti_stem,
    save_nifti,
    write_text_atomic,
)
from custom_networks.core.overlap import dice, dice_per_class, mean_dice

__all__ = [
    "CLASS_NAMES",
    "FOREGROUND_LABELS",
    "HR_SPACING",
    "LABEL_COLORS",
    "LABEL_NAMES",
    "NUM_CLASSES",
    "RAS_TO_LPS",
    "Annotation",
    "CineSource",
    "DicomSeries",
    "InputError",
    "LabelValueError",
    "NiftiFrameWriter",
    "apply_affine",
    "array_from_image",
    "atomic_output_dir",
    "centered_grid_affine",
    "dice",
    "dice_per_class",
    "frame_interval_ms",
    "hr_grid_for",
    "image_from_array",
    "is_dicom_folder",
    "list_dicom_series",
    "load_label",
    "load_nifti",
    "lps_geometry",
    "mean_dice",
    "nifti_stem",
    "open_cine",
    "read_annotation",
    "read_dicom_series",
    "resample_to_grid",
    "rotation_matrix",
    "save_nifti",
    "slice_axis_of",
    "spacing_from_affine",
    "write_text_atomic",
]
