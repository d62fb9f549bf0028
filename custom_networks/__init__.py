"""Gemini-GAN and V-AMA for cardiac cine MR: networks, trainers, transforms and a synthetic data engine.

Importing the package loads nothing else: each sub-package (``custom_networks.transforms``, ...) is imported when
first used, and its public names when first used (so a config expression ``$custom_networks.bundle.X(...)`` after
``$import custom_networks`` works, and an inference loads only what it runs).
"""

from __future__ import annotations

import importlib
from pathlib import Path

__version__ = "0.1.0"

#: The package's sub-packages and command modules, imported on first use.
_SUBMODULES = frozenset(
    p.stem if p.suffix == ".py" else p.name
    for p in Path(__file__).parent.iterdir()
    if not p.name.startswith("_") and (p.suffix == ".py" or (p / "__init__.py").is_file())
)


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
