"""Shared helpers: NIfTI input/output with clear errors and atomic writes."""

from __future__ import annotations

from custom_networks.utils.nifti import InputError, atomic_output_dir, load_nifti, publish_mode, save_figure, save_nifti

__all__ = ["InputError", "atomic_output_dir", "load_nifti", "publish_mode", "save_figure", "save_nifti"]
