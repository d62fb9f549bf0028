"""Former home of the command-line runner and of the NIfTI / DICOM I/O, all now in :mod:`custom_networks.core`:
every former name says where it went (configs and code that still use one get that one line)."""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

_MOVED = {
    "install_error_handler": "custom_networks.core.install_error_handler",
    "run_cli": "custom_networks.core.cli.run_cli",
    "InputError": "custom_networks.core.errors.InputError",
    **{
        name: f"custom_networks.core.nifti.{name}"
        for name in ("NiftiFrameWriter", "atomic_output_dir", "check_voxel_size", "load_nifti", "publish_mode")
    },
    **{name: f"custom_networks.core.nifti.{name}" for name in ("save_figure", "save_nifti", "write_text_atomic")},
    **{
        name: f"custom_networks.core.dicom.{name}"
        for name in ("DicomSeries", "is_dicom_folder", "list_dicom_series", "read_dicom_series", "save_cine")
    },
}
__all__: list[str] = []
__getattr__, __dir__ = lazy_exports(__name__, {}, moved=_MOVED)
