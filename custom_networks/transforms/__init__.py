"""MONAI dictionary transforms for real-world short-axis stacks: checked loading, resampling onto the HR grid,
atomic saving of the outputs in world coordinates (3D, and 4D cines streamed frame by frame), and the intensity
calibration of whole translated volumes."""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "HeartBox": "heart_region_gemini",
    "HeartRegionGeminid": "heart_region_gemini",
    "heart_box": "heart_region_gemini",
    "PIPELINE_WARNINGS": "heart_region_gemini",
    "LabelFromProbabilitiesd": "label_from_probabilities",
    "LabelToImageGridd": "label_to_image_grid",
    "LabelToCandidatesd": "label_to_candidates",
    "label_candidates": "label_to_candidates",
    "RandLabelledSliced": "rand_labelled_slice",
    "RandHeldOutSlicesd": "rand_held_out_slices",
    "ResampleInPlaned": "resample_in_plane",
    "CalibrateIntensityd": "calibrate",
    "LoadManualLabeld": "load_manual_label",
    "LoadStackd": "stack_io",
    "RandStackSynthesisd": "rand_stack_synthesis",
    "ResampleToHRGridd": "hr_grid",
    "SaveCineFramed": "save_cine",
    "SaveNiftid": "save",
    "SimulateStage1d": "simulate_stage1",
    "Stage1Errors": "simulate_stage1",
    "simulate_stage1_probabilities": "simulate_stage1",
    "SynthesisRanges": "rand_stack_synthesis",
    "ToLabelGridd": "to_label_grid",
    "in_plane_grid": "resample_in_plane",
    "output_stem": "save",
}
__all__ = [*_EXPORTS]
#: Names that lived here before: using one says where it went.
_MOVED = {name: f"custom_networks.core.geometry.{name}" for name in ("hr_grid_for", "slice_axis_of")}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, moved=_MOVED)
