"""Public names of a package imported from their modules when first used (PEP 562), so that ``import
custom_networks.transforms`` or a config's ``_target_: custom_networks.transforms.LoadStackd`` loads the one module it
needs, not every module of the package (an inference loads only what it runs)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

from custom_networks.core.errors import InputError

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str], moved: Mapping[str, str] | None = None
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose public names live in its modules.

    Usage, in a package's ``__init__.py``::

        _EXPORTS = {"LoadStackd": "stack_io", "SaveNiftid": "save"}
        __all__ = list(_EXPORTS)
        __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

    Args:
        package: the package's ``__name__``.
        exports: public name -> the module of the package that defines it (relative, e.g. ``"stack_io"``).
        moved: a former public name -> its new full path: using it is a bad input (one line naming the new path,
            e.g. for a config ``_target_`` a user still holds), not an ``AttributeError`` deep in a traceback.

    Returns:
        ``(__getattr__, __dir__)`` for the package's namespace.
    """
    moved = dict(moved or {})

    def __getattr__(name: str) -> object:
        if name in exports:
            value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
            setattr(sys.modules[package], name, value)  # later look-ups do not come here
            return value
        if name in moved:
            raise InputError(f"{package}.{name} has moved: use {moved[name]} (in configs too)")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
