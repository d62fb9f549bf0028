"""What the bundles' JSON configs call: bundle paths, checkpoints and datalists, the checked inference inputs, the
workflow runner, what training starts from (generated stacks, pretrained weights, their record) and the V-AMA ->
frozen Gemini-GAN chain. Nothing here is imported until a config uses it."""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "adapted_paths": "chain",
    "frozen_network": "chain",
    "gemini_bundle_root": "chain",
    "run_gemini_inference": "chain",
    "default_bundle_root": "helpers",
    "existing_file": "helpers",
    "latest_checkpoint": "helpers",
    "load_datalist": "helpers",
    "without_none": "helpers",
    "CaseList": "inputs",
    "cine_inputs": "inputs",
    "inference_inputs": "inputs",
    "report_failures": "inputs",
    "target_inference_inputs": "inputs",
    "generated_stacks": "training",
    "load_pretrained": "training",
    "weights_record": "training",
    "cache_stage1_stacks": "stage1_cache",
    "held_out_subjects": "stage1_cache",
    "stage1_runner": "stage1_cache",
    "TRANSLATION_METHODS": "translation_methods",
    "method_checkpoint": "translation_methods",
    "BUNDLES": "workflows",
    "GEMINI_BUNDLE": "workflows",
    "bundle_folder": "workflows",
    "load_workflow": "workflows",
    "parse_device": "workflows",
    "parse_roi_size": "workflows",
}
#: Names that lived here before, for configs users still hold: using one says where it went.
_MOVED = {
    "AdaptThenSegment": "custom_networks.nets.AdaptThenSegment",
    "ensure_paired_dataset": "custom_networks.pairs.ensure_paired_dataset",
    "load_pairs": "custom_networks.pairs.load_pairs",
    "pair_datasets": "custom_networks.pairs.pair_datasets",
    "add_source_twins": "custom_networks.pairs.add_source_twins",
    "evaluation_input_key": "custom_networks.pairs.evaluation_input_key",
    "twins_available": "custom_networks.pairs.twins_available",
    "fit_histogram_matching": "custom_networks.baselines.fit_histogram_matching",
    "load_calibration": "custom_networks.baselines.load_calibration",
    "source_training_items": "custom_networks.baselines.source_training_items",
    **{
        name: f"custom_networks.datalists.{name}"
        for name in ("LABELLED_SPLITS", "labelled_stacks", "slice_training_stacks", "mixing_weights", "trained_on")
    },
}
__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, moved=_MOVED)
