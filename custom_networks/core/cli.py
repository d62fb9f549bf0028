"""How every command of the project ends: one line ``error: <file>: <problem>`` and exit status 2 for bad input (the
full traceback only with ``CUSTOM_NETWORKS_DEBUG=1`` or ``--debug``), and no half-written output when the process is
stopped by SIGTERM (it is turned into an exception, so the atomic writers clean up as for Ctrl-C).

- :func:`run_cli` runs a python-fire command (the project's own command lines);
- :func:`install_error_handler` does the same for ``python -m monai.bundle run``, whose bundles call it first in
  their ``initialize`` section: an uncaught exception caused by an :class:`~custom_networks.core.errors.InputError` is
  printed as one line and the process exits with status 2.
"""

from __future__ import annotations

import difflib
import inspect
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from custom_networks.core.errors import InputError, disk_full_error, is_disk_full
from custom_networks.core.nifti import abort_open_writers

__all__ = [
    "DEBUG_ENV",
    "EXIT_BAD_INPUT",
    "check_options",
    "find_input_error",
    "format_exception_line",
    "install_error_handler",
    "literal_paths",
    "refuse_evaluated_overrides",
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
    """The :class:`InputError` in an exception's chain (``__cause__`` / ``__context__``), if any; a full disk
    anywhere in the chain counts as one (:func:`~custom_networks.core.errors.disk_full_error`)."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, InputError):
            return err
        if is_disk_full(err):
            return disk_full_error(err)
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


#: python-fire's own flags (after a lone ``--``), always accepted.
_FIRE_FLAGS = ("help", "interactive", "trace", "verbose", "completion", "separator")


def _target(component: Any, argv: list[str]) -> tuple[Callable | None, str]:
    """The function a python-fire command line calls (a command chosen by the first word from a dict or class) and
    how to name it."""
    if isinstance(component, dict) or inspect.isclass(component):
        words = [a for a in argv if not a.startswith("-")]
        if not words:
            return None, ""
        member = component.get(words[0]) if isinstance(component, dict) else getattr(component, words[0], None)
        return (member, words[0]) if callable(member) else (None, words[0])
    return (component, "") if callable(component) else (None, "")


def check_options(component: Any, argv: list[str], name: str | None = None) -> None:
    """Refuse an option the command does not have, before anything runs (python-fire would apply it to the result
    after the whole computation, then fail with a list of ``str`` methods), naming the closest option.

    Args:
        component: what ``fire.Fire`` exposes (a function, a dict of functions or a class).
        argv: the command line (options as ``--name``, ``--name=value`` or ``--name-with-dashes``).
        name: program name for the message.

    Raises:
        InputError: ``--option: not an option of <program> (did you mean --close_match?)``.
    """
    fn, command = _target(component, argv)
    if fn is None:
        return
    params = dict(inspect.signature(fn).parameters)
    if inspect.isclass(component):
        params.update(inspect.signature(component).parameters)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = [k for k, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL and k != "self"]
    for token in argv:
        if token == "--":
            break  # python-fire's own flags follow
        if not token.startswith("--") or len(token) < 3:
            continue
        option = token[2:].split("=", 1)[0].replace("-", "_")
        if option in known or option in _FIRE_FLAGS or (option.startswith("no") and option[2:] in known):
            continue
        program = " ".join(filter(None, [name, command]))
        close = difflib.get_close_matches(option, known, n=1, cutoff=0.75)
        hint = f"did you mean --{close[0]}?" if close else "options: " + ", ".join(f"--{k}" for k in known)
        raise InputError(f"--{option}: not an option of {program or 'this command'} ({hint})")


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
        check_options(component, argv, name)
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


#: Characters that make MONAI's config parser take a value as code or a reference, not a literal.
_EVALUATED_PREFIXES = ("$", "@", "%")


def _evaluated(value: Any) -> bool:
    """Whether MONAI would evaluate ``value`` or any string inside it (lists, tuples, dict keys and values)."""
    if isinstance(value, str):
        return value[:1] in _EVALUATED_PREFIXES
    if isinstance(value, dict):
        return any(_evaluated(k) or _evaluated(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return any(_evaluated(v) for v in value)
    return False


def _overrides(argv: list[str]) -> list[tuple[str, Any, str]]:
    """``(key, value as python-fire passes it to MONAI, value as typed)`` of every ``--key value`` / ``--key=value``
    on a ``monai.bundle`` command line."""
    from fire.parser import DefaultParseValue

    found, i = [], 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            break
        if token.startswith("--") and len(token) > 2:
            if "=" in token:
                key, raw = token[2:].split("=", 1)
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                key, raw = token[2:], argv[i + 1]
                i += 1
            else:
                key, raw = token[2:], None
            if raw is not None:
                found.append((key.replace("-", "_"), DefaultParseValue(raw), raw))
        i += 1
    return found


def _is_bundle_command(argv0: str) -> bool:
    """Whether this process is ``python -m monai.bundle ...``."""
    parts = Path(argv0).parts
    return len(parts) >= 3 and parts[-3:] == ("monai", "bundle", "__main__.py")


def refuse_evaluated_overrides(argv: list[str] | None = None) -> None:
    """Refuse every value given on the ``monai.bundle`` command line, or in its ``--args_file``, that MONAI's config
    parser would not take literally: a string starting with ``$`` is run as Python, ``@`` is a reference and ``%`` a
    macro, also inside a list or a mapping (``"['$...']"``). The bundles' entries take literals only; a developer who
    needs an expression writes it in a config file.

    Args:
        argv: the command line after the program (default: ``sys.argv[1:]`` when this process is
            ``python -m monai.bundle``, else nothing is checked: other programs hand their values over as objects).

    Raises:
        InputError: naming the option (and the args file), with the literal alternative.
    """
    if argv is None:
        if not _is_bundle_command(sys.argv[0]):
            return
        argv = sys.argv[1:]
    argv = list(argv)
    given = [(f"--{key} {raw!r}", key, value) for key, value, raw in _overrides(argv)]
    for _where, key, value in list(given):
        if key != "args_file" or not isinstance(value, str) or _evaluated(value):
            continue
        try:
            from monai.bundle import ConfigParser

            content = ConfigParser.load_config_file(value)
        except Exception:  # MONAI names an unreadable args file itself
            continue
        if isinstance(content, dict):
            given += [(f"{value}: {k!r}: {v!r}", str(k), v) for k, v in content.items()]
    for where, _, value in given:
        if _evaluated(value):
            raise InputError(
                f"{where}: MONAI's config parser would evaluate this value ('$' runs Python, '@' and '%' are "
                "references), not take it literally; run python -m custom_networks.predict, which takes every value "
                "literally"
            )


def install_error_handler() -> bool:
    """Make this process end a bad input with one ``error:`` line and exit status 2 (unless debugging), stop cleanly
    on SIGTERM, and refuse command-line values that MONAI would evaluate (:func:`refuse_evaluated_overrides`).
    Called first by the bundles' ``initialize`` section, before any override is resolved; idempotent.

    Returns:
        True (so that it can sit in a config expression list).
    """
    if not getattr(sys.excepthook, "_custom_networks", False):
        hook = _excepthook(sys.excepthook)
        hook._custom_networks = True  # type: ignore[attr-defined]
        sys.excepthook = hook
    stop_on_sigterm()
    refuse_evaluated_overrides()
    return True


def format_exception_line(err: BaseException) -> str:
    """The last line of an exception's traceback (``Type: message``), for logs and tables."""
    return traceback.format_exception_only(type(err), err)[-1].strip()
