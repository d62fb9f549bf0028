"""Small helpers that the bundles' JSON configs call (paths, checkpoints, datalists; for the V-AMA bundle also the
paired source/target data and the chain V-AMA -> frozen Gemini-GAN)."""

from __future__ import annotations

from custom_networks.bundle.chain import (
    AdaptThenSegment,
    adapted_paths,
    frozen_network,
    gemini_bundle_root,
    run_gemini_inference,
)
from custom_networks.bundle.domain_pairs import (
    ensure_paired_dataset,
    load_pairs,
    pair_datasets,
    target_inference_inputs,
)
from custom_networks.bundle.helpers import (
    default_bundle_root,
    existing_file,
    latest_checkpoint,
    load_datalist,
    without_none,
)
from custom_networks.bundle.histogram_baseline import fit_histogram_matching, load_calibration, source_training_items
from custom_networks.bundle.inputs import CaseList, cine_inputs, inference_inputs, report_failures
from custom_networks.bundle.labelled_stacks import (
    LABELLED_SPLITS,
    generated_stacks,
    labelled_stacks,
    load_pretrained,
    mixing_weights,
    slice_training_stacks,
    trained_on,
    weights_record,
)
from custom_networks.bundle.source_twins import add_source_twins, evaluation_input_key, twins_available
from custom_networks.bundle.translation_methods import TRANSLATION_METHODS, method_checkpoint
from custom_networks.bundle.workflows import BUNDLES, GEMINI_BUNDLE, bundle_folder, load_workflow, parse_device

__all__ = [
    "BUNDLES",
    "LABELLED_SPLITS",
    "labelled_stacks",
    "generated_stacks",
    "mixing_weights",
    "slice_training_stacks",
    "weights_record",
    "trained_on",
    "load_pretrained",
    "GEMINI_BUNDLE",
    "bundle_folder",
    "parse_device",
    "TRANSLATION_METHODS",
    "method_checkpoint",
    "default_bundle_root",
    "existing_file",
    "CaseList",
    "cine_inputs",
    "inference_inputs",
    "report_failures",
    "load_workflow",
    "latest_checkpoint",
    "load_datalist",
    "without_none",
    "AdaptThenSegment",
    "adapted_paths",
    "ensure_paired_dataset",
    "fit_histogram_matching",
    "load_calibration",
    "source_training_items",
    "frozen_network",
    "gemini_bundle_root",
    "load_pairs",
    "pair_datasets",
    "run_gemini_inference",
    "target_inference_inputs",
    "add_source_twins",
    "evaluation_input_key",
    "twins_available",
]
