"""How every command of the project ends: one line ``error: <file>: <problem>`` and exit status 2 for bad input (the
full traceback only with ``CUSTOM_NETWORKS_DEBUG=1`` or ``--debug``), and no half-written output when the process is
stopped by SIGTERM (it is turned into an exception, so the atomic writers clean up as for Ctrl-C).

- :func:`run_cli` runs a python-fire command (the project's own command lines);
- :func:`install_error_handler` does the same for ``python -m monai.bundle run``, whose bundles call it first in
  their ``initialize`` section: an uncaught exception caused by an :class:`~custom_networks.utils.InputError` is
  printed as one line and the process exits with status 2.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from custom_networks.core.nifti import InputError, abort_open_writers

__all__ = [
    "DEBUG_ENV",
    "EXIT_BAD_INPUT",
    "find_input_error",
    "format_exception_line",
    "install_error_handler",
    "literal_paths",
    "refuse_evaluated_paths",
    "run_cli",
    "stop_on_sigterm",
]

#: Environment variable that keeps full tracebacks.
DEBUG_ENV = "CUSTOM_NETWORKS_DEBUG"
#: Exit status of a command refused because of its input.
EXIT_BAD_INPUT = 2


def _debug() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def find_input_error(err: BaseException | None) -> InputError | None:
    """The :class:`InputError` in an exception's chain (``__cause__`` / ``__context__``), if any."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, InputError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _raise_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def stop_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit(143)`` so that ``finally`` / ``except BaseException`` blocks (temporary files
    and folders of the atomic writers) run as they do for Ctrl-C. Only in the main thread."""
    try:
        signal.signal(signal.SIGTERM, _raise_on_sigterm)
    except ValueError:  # not the main thread
        pass


def _print_error(err: InputError) -> None:
    print(f"error: {err}", file=sys.stderr)
    sys.stderr.flush()


def literal_paths(argv: list[str], path_options: tuple[str, ...], positional: bool = True) -> list[str]:
    """Quote path arguments so that python-fire keeps them as typed (it would turn ``2024`` into an int and
    ``[a]`` into a list).

    Args:
        argv: command-line arguments.
        path_options: options whose value is a path (``--out``, ...), as ``--opt VALUE`` or ``--opt=VALUE``.
        positional: the first positional argument is a path too.
    """
    out, i = [], 0
    positional_done = not positional
    while i < len(argv):
        token = argv[i]
        if token in path_options and i + 1 < len(argv):
            out += [token, json.dumps(argv[i + 1])]
            i += 2
            continue
        if any(token.startswith(f"{opt}=") for opt in path_options):
            key, value = token.split("=", 1)
            out.append(f"{key}={json.dumps(value)}")
        elif not token.startswith("-") and not positional_done:
            out.append(json.dumps(token))
            positional_done = True
        else:
            out.append(token)
            if token.startswith("--") and "=" not in token and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                out.append(argv[i + 1])
                i += 1
        i += 1
    return out


def run_cli(
    component: Any, argv: list[str] | None = None, name: str | None = None, path_options: tuple[str, ...] = ()
) -> int:
    """Run a python-fire command with the project's error conventions.

    Args:
        component: what ``fire.Fire`` exposes (a function or a class).
        argv: arguments (default ``sys.argv[1:]``); ``--debug`` anywhere keeps the traceback of a bad input.
        name: program name shown in fire's help.
        path_options: options (and, when given, the first positional argument) whose values are paths, kept as
            typed (:func:`literal_paths`).

    Returns:
        0, or :data:`EXIT_BAD_INPUT` after printing ``error: ...`` for an :class:`InputError`.
    """
    import fire

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = _debug()
    if "--debug" in argv:
        argv.remove("--debug")
        debug = True
    if path_options:
        argv = literal_paths(argv, path_options)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop_on_sigterm()
    try:
        fire.Fire(component, command=argv, name=name)
    except Exception as err:
        found = find_input_error(err)
        if found is None or debug:
            raise
        _print_error(found)
        return EXIT_BAD_INPUT
    return 0


def _excepthook(previous: Callable) -> Callable:
    def hook(exc_type, exc, tb) -> None:
        found = find_input_error(exc)
        if found is None or _debug():
            previous(exc_type, exc, tb)
            return
        _print_error(found)
        abort_open_writers()  # os._exit skips atexit: remove unfinished outputs now
        logging.shutdown()
        sys.stdout.flush()
        os._exit(EXIT_BAD_INPUT)  # an excepthook cannot change the exit status otherwise

    return hook


#: Config keys that hold user paths: a command-line value for them that MONAI would evaluate is refused.
PATH_KEYS = ("input_path", "output_dir", "dataset_dir", "ckpt_path", "bundle_root")


def refuse_evaluated_paths(argv: list[str] | None = None) -> None:
    """Refuse path overrides on the ``monai.bundle`` command line that MONAI's config parser would not take
    literally: a value starting with ``$`` is run as Python, ``@`` is a reference and ``%`` a macro.

    Raises:
        InputError: naming the option, with the literal-path alternative.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    for i, token in enumerate(argv):
        for key in PATH_KEYS:
            value = None
            if token == f"--{key}" and i + 1 < len(argv):
                value = argv[i + 1]
            elif token.startswith(f"--{key}="):
                value = token.split("=", 1)[1]
            if isinstance(value, str) and value[:1] in ("$", "@", "%"):
                raise InputError(
                    f"--{key} {value!r}: MONAI's config parser would evaluate this value ('$' runs Python, '@' and "
                    "'%' are references), not use it as a path; run python -m custom_networks.predict, which takes "
                    "paths literally"
                )


def install_error_handler() -> bool:
    """Make this process end a bad input with one ``error:`` line and exit status 2 (unless debugging), stop cleanly
    on SIGTERM, and refuse path overrides that MONAI would evaluate (:func:`refuse_evaluated_paths`). Called first
    by the bundles' ``initialize`` section, before any path is resolved; idempotent.

    Returns:
        True (so that it can sit in a config expression list).
    """
    if not getattr(sys.excepthook, "_custom_networks", False):
        hook = _excepthook(sys.excepthook)
        hook._custom_networks = True  # type: ignore[attr-defined]
        sys.excepthook = hook
    stop_on_sigterm()
    refuse_evaluated_paths()
    return True


def format_exception_line(err: BaseException) -> str:
    """The last line of an exception's traceback (``Type: message``), for logs and tables."""
    return traceback.format_exception_only(type(err), err)[-1].strip()
