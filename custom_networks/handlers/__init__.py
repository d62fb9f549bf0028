"""Ignite/MONAI handlers: metrics that need the voxel spacing, per-class selections."""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "ResumableCheckpoint": "resumable_checkpoint",
    "SpacingAwareMetricHandler": "metrics",
    "select_class": "metrics",
}
__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
