"""Synthetic cardiac cine MR data engine: anatomy, appearance, acquisition, datasets and previews."""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "ANATOMY_DETAILS": "synthesis",
    "FILE_KEYS": "dataset",
    "PHASES": "synthesis",
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
    "find_label_maps": "labelmaps",
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
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
