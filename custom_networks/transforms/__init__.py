"""MONAI dictionary transforms for real-world short-axis stacks: checked loading, resampling onto the HR grid,
and atomic saving of the outputs in world coordinates."""

from __future__ import annotations

from custom_networks.transforms.hr_grid import ResampleToHRGridd, hr_grid_for, slice_axis_of
from custom_networks.transforms.save import SaveNiftid
from custom_networks.transforms.stack_io import LoadStackd

__all__ = ["LoadStackd", "ResampleToHRGridd", "SaveNiftid", "hr_grid_for", "slice_axis_of"]
