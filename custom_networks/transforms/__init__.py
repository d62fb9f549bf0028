"""MONAI dictionary transforms for real-world short-axis stacks: checked loading, resampling onto the HR grid,
atomic saving of the outputs in world coordinates (3D, and 4D cines streamed frame by frame), and the intensity
calibration of whole translated volumes."""

from __future__ import annotations

from custom_networks.transforms.calibrate import CalibrateIntensityd
from custom_networks.transforms.hr_grid import ResampleToHRGridd, hr_grid_for, slice_axis_of
from custom_networks.transforms.label_candidates import LabelToCandidatesd, label_candidates
from custom_networks.transforms.label_from_probabilities import LabelFromProbabilitiesd
from custom_networks.transforms.label_to_image_grid import LabelToImageGridd
from custom_networks.transforms.load_manual_label import LoadManualLabeld
from custom_networks.transforms.rand_labelled_slice import RandLabelledSliced
from custom_networks.transforms.rand_stack_synthesis import RandStackSynthesisd, SynthesisRanges
from custom_networks.transforms.resample_in_plane import ResampleInPlaned, in_plane_grid
from custom_networks.transforms.save import SaveNiftid, output_stem
from custom_networks.transforms.save_cine import SaveCineFramed
from custom_networks.transforms.stack_io import LoadStackd
from custom_networks.transforms.to_label_grid import ToLabelGridd

__all__ = [
    "LabelFromProbabilitiesd",
    "LabelToImageGridd",
    "LabelToCandidatesd",
    "label_candidates",
    "RandLabelledSliced",
    "ResampleInPlaned",
    "CalibrateIntensityd",
    "LoadManualLabeld",
    "LoadStackd",
    "RandStackSynthesisd",
    "ResampleToHRGridd",
    "SaveCineFramed",
    "SaveNiftid",
    "SynthesisRanges",
    "ToLabelGridd",
    "hr_grid_for",
    "in_plane_grid",
    "output_stem",
    "slice_axis_of",
]
