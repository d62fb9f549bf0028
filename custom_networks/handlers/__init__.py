"""Ignite/MONAI handlers: metrics that need the voxel spacing, per-class selections."""

from __future__ import annotations

from custom_networks.handlers.metrics import SpacingAwareMetricHandler, select_class
from custom_networks.handlers.resumable_checkpoint import ResumableCheckpoint

__all__ = ["ResumableCheckpoint", "SpacingAwareMetricHandler", "select_class"]
