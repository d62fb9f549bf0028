"""The conventions every part of the project shares, in one place: world geometry (affines, resampling, the HR grid),
NIfTI and DICOM input/output with clear errors and atomic writes, opening a cine, the NIfTI <-> ITK bridge, the label
convention, the one label-map reader, case names and phases, and overlap (Dice). It imports nothing else of the
project; everything else imports it.

Names are imported from their modules when first used (:mod:`custom_networks.core.lazy_exports`): ``import
custom_networks.core`` loads neither ITK nor nibabel.
"""

from __future__ import annotations

# bound under another name: ``custom_networks.core.lazy_exports`` stays the module
from custom_networks.core.lazy_exports import lazy_exports as _lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "PHASES": "cases",
    "phase_of": "cases",
    "CineSource": "cine_source",
    "open_cine": "cine_source",
    "DicomSeries": "dicom",
    "is_dicom_folder": "dicom",
    "list_dicom_series": "dicom",
    "read_dicom_series": "dicom",
    "InputError": "errors",
    "install_error_handler": "cli",
    "HR_SPACING": "geometry",
    "apply_affine": "geometry",
    "centered_grid_affine": "geometry",
    "hr_grid_for": "geometry",
    "resample_to_grid": "geometry",
    "rotation_matrix": "geometry",
    "slice_axis_of": "geometry",
    "spacing_from_affine": "geometry",
    "RAS_TO_LPS": "itk_bridge",
    "array_from_image": "itk_bridge",
    "image_from_array": "itk_bridge",
    "lps_geometry": "itk_bridge",
    "Annotation": "label_maps",
    "LabelValueError": "label_maps",
    "load_label": "label_maps",
    "read_annotation": "label_maps",
    "CLASS_NAMES": "labels",
    "FOREGROUND_LABELS": "labels",
    "LABEL_COLORS": "labels",
    "LABEL_NAMES": "labels",
    "NUM_CLASSES": "labels",
    "NiftiFrameWriter": "nifti",
    "atomic_output_dir": "nifti",
    "frame_interval_ms": "nifti",
    "load_nifti": "nifti",
    "nifti_stem": "nifti",
    "save_nifti": "nifti",
    "write_text_atomic": "nifti",
    "dice": "overlap",
    "dice_per_class": "overlap",
    "mean_dice": "overlap",
}
__all__ = [*_EXPORTS]
__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
