"""The translation methods of the V-AMA bundle: their names, display names, config overrides and shipped weights.

One list for every script that runs them (the method comparison, the real-data agreement, the translation figure), so
that a new comparator is added in one place: its override file ``vama_bundle/configs/comparators/<method>.json`` and
its entry here.
"""

from __future__ import annotations

from pathlib import Path

from custom_networks.core.errors import InputError

__all__ = ["METHOD_NAMES", "TRANSLATION_METHODS", "VAMA_BUNDLE", "method_checkpoint", "method_configs"]

#: The V-AMA bundle folder of this repository.
VAMA_BUNDLE = Path(__file__).resolve().parents[2] / "vama_bundle"
#: Translation methods, in table order: the classic baseline, V-AMA, the learned comparators.
TRANSLATION_METHODS = ("histogram_matching", "vama", "cyclegan", "munit", "bicyclegan")
#: Display names.
METHOD_NAMES = {
    "histogram_matching": "histogram matching",
    "vama": "V-AMA",
    "cyclegan": "CycleGAN",
    "munit": "MUNIT",
    "bicyclegan": "BicycleGAN",
}


def method_configs(method: str, base: str) -> list[str]:
    """Config files (inside ``vama_bundle/configs``) of ``method`` layered on ``base`` (``train.json`` or
    ``inference.json``): V-AMA is the base configuration, a comparator adds its override file.

    Args:
        method: one of :data:`TRANSLATION_METHODS`.
        base: the base config file name.

    Returns:
        Config file names, in layering order.

    Raises:
        InputError: for an unknown method (a ``ValueError``).
    """
    if method not in TRANSLATION_METHODS:
        raise InputError(f"unknown translation method {method!r} (one of {', '.join(TRANSLATION_METHODS)})")
    return [base] + ([] if method == "vama" else [f"comparators/{method}.json"])


def method_checkpoint(method: str, bundle: str | Path = VAMA_BUNDLE) -> Path:
    """Path of the shipped weights of ``method`` (``models/model.pt`` for V-AMA, ``models/<method>/model.pt``).

    Args:
        method: one of :data:`TRANSLATION_METHODS`.
        bundle: the V-AMA bundle folder.

    Raises:
        InputError: for an unknown method (a ``ValueError``).
    """
    method_configs(method, "")  # validates the name
    return Path(bundle) / "models" / ("" if method == "vama" else method) / "model.pt"
