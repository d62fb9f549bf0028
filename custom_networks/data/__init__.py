"""Synthetic cardiac cine MR data engine: anatomy, appearance, acquisition, datasets and previews."""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "ANATOMY_DETAILS": "synthesis",
    "FILE_KEYS": "dataset",
    "PHENOTYPES": "heart",
    "CardiacDetails": "heart_details",
    "CineVolumes": "cine",
    "DomainPreset": "domains",
    "HeartParams": "heart",
    "HeartShape": "heart",
    "Phenotype": "heart",
    "RealAnatomy": "labelmaps",
    "StackProtocol": "acquisition",
    "Tissue": "tissues",
    "case_name": "dataset",
    "contraction_weight": "cine",
    "generate_cine": "cine",
    "ensure_dataset": "dataset",
    "generate_subject": "synthesis",
    "get_domain": "domains",
    "list_domains": "domains",
    "load_label_map": "labelmaps",
    "preview_dataset": "preview",
    "sample_heart_params": "heart",
    "sample_slice_shifts": "acquisition",
    "simulate_stack": "acquisition",
    "split_subjects": "dataset",
    "stack_to_hr": "acquisition",
    "synthesize_cine": "cine",
    "synthesize_dataset": "dataset",
}
__all__ = [*_EXPORTS]
#: Names that lived here before: using one says where it went.
_MOVED = {
    "find_label_maps": "custom_networks.datalists.find_label_maps",
    "PHASES": "custom_networks.core.cases.PHASES",
    "LABEL_NAMES": "custom_networks.core.labels.LABEL_NAMES",
    **{
        name: f"custom_networks.core.geometry.{name}"
        for name in ("resample_to_grid", "centered_grid_affine", "spacing_from_affine")
    },
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, moved=_MOVED)
