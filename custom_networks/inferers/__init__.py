"""Inferers: sliding-window inference in bounded memory; a 2D network on every slice of a stack."""

from __future__ import annotations

from custom_networks.inferers.bounded_window import BoundedWindowInferer, bounded_roi_size
from custom_networks.inferers.slice_stack_inferer import TTA_GROUPS, SliceStackInferer

__all__ = ["TTA_GROUPS", "BoundedWindowInferer", "SliceStackInferer", "bounded_roi_size"]
