"""Synthetic cardiac cine MR data engine: anatomy, appearance, acquisition, datasets and previews."""

from __future__ import annotations

from custom_networks.core.geometry import centered_grid_affine, resample_to_grid, spacing_from_affine
from custom_networks.data.acquisition import StackProtocol, sample_slice_shifts, simulate_stack, stack_to_hr
from custom_networks.data.cine import CineVolumes, contraction_weight, generate_cine, synthesize_cine
from custom_networks.data.dataset import FILE_KEYS, case_name, ensure_dataset, split_subjects, synthesize_dataset
from custom_networks.data.domains import DomainPreset, get_domain, list_domains
from custom_networks.data.heart import PHENOTYPES, HeartParams, HeartShape, Phenotype, sample_heart_params
from custom_networks.data.heart_details import CardiacDetails
from custom_networks.data.labelmaps import RealAnatomy, find_label_maps, load_label_map
from custom_networks.data.preview import preview_dataset
from custom_networks.data.synthesis import ANATOMY_DETAILS, PHASES, generate_subject
from custom_networks.data.tissues import LABEL_NAMES, Tissue

__all__ = [
    "ANATOMY_DETAILS",
    "FILE_KEYS",
    "LABEL_NAMES",
    "PHASES",
    "PHENOTYPES",
    "CardiacDetails",
    "CineVolumes",
    "DomainPreset",
    "HeartParams",
    "HeartShape",
    "Phenotype",
    "RealAnatomy",
    "StackProtocol",
    "Tissue",
    "case_name",
    "contraction_weight",
    "generate_cine",
    "centered_grid_affine",
    "ensure_dataset",
    "find_label_maps",
    "generate_subject",
    "get_domain",
    "list_domains",
    "load_label_map",
    "preview_dataset",
    "resample_to_grid",
    "sample_heart_params",
    "sample_slice_shifts",
    "simulate_stack",
    "spacing_from_affine",
    "split_subjects",
    "stack_to_hr",
    "synthesize_cine",
    "synthesize_dataset",
]
