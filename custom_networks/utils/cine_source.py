"""Former home of opening a cine, kept so that existing imports and config ``_target_`` paths keep working: the code
lives in :mod:`custom_networks.core.cine_source`."""

from __future__ import annotations

from custom_networks.core.cine_source import (  # noqa: F401
    CineSource,
    open_cine,
)

__all__ = [
    "CineSource",
    "open_cine",
]
