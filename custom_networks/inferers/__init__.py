"""Inferers: sliding-window inference in bounded memory; a 2D network on every slice of a stack."""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "TTA_GROUPS": "slice_stack_inferer",
    "BoundedWindowInferer": "bounded_window",
    "SliceStackInferer": "slice_stack_inferer",
    "bounded_roi_size": "bounded_window",
}
__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
