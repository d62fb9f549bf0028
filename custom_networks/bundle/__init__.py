"""Small helpers that the bundles' JSON configs call (paths, checkpoints, datalists)."""

from __future__ import annotations

from custom_networks.bundle.helpers import default_bundle_root, latest_checkpoint, load_datalist, without_none
from custom_networks.bundle.inputs import inference_inputs
from custom_networks.bundle.workflows import GEMINI_BUNDLE, load_workflow

__all__ = [
    "GEMINI_BUNDLE",
    "default_bundle_root",
    "inference_inputs",
    "load_workflow",
    "latest_checkpoint",
    "load_datalist",
    "without_none",
]
