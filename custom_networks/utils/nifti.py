"""Former home of NIfTI I/O, kept so that existing imports and config ``_target_`` paths keep working: the code
lives in :mod:`custom_networks.core.nifti`."""

from __future__ import annotations

from custom_networks.core.nifti import (  # noqa: F401
    NIFTI_SUFFIXES,
    InputError,
    NiftiFrameWriter,
    abort_open_writers,
    atomic_output_dir,
    check_orthogonal,
    check_output_folder,
    check_voxel_size,
    frame_interval_ms,
    load_nifti,
    nifti_stem,
    publish_mode,
    save_figure,
    save_nifti,
    write_text_atomic,
)

__all__ = [
    "NIFTI_SUFFIXES",
    "InputError",
    "NiftiFrameWriter",
    "abort_open_writers",
    "atomic_output_dir",
    "check_orthogonal",
    "check_output_folder",
    "check_voxel_size",
    "frame_interval_ms",
    "load_nifti",
    "nifti_stem",
    "publish_mode",
    "save_figure",
    "save_nifti",
    "write_text_atomic",
]
