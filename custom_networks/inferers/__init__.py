"""Inferers: sliding-window inference in bounded memory."""

from __future__ import annotations

from custom_networks.inferers.bounded_window import BoundedWindowInferer, bounded_roi_size

__all__ = ["BoundedWindowInferer", "bounded_roi_size"]
