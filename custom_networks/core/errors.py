"""The project's one exception for unusable input, and the turning of a full disk into one of them.

Every command ends an :class:`InputError` with one line ``error: <file or option>: <problem>`` and exit status 2
(:mod:`custom_networks.core.cli`); a full disk is a problem of the output's place, said the same way.
"""

from __future__ import annotations

import errno
import os
import shutil

__all__ = ["InputError", "disk_full_error", "disk_full_in", "is_disk_full"]

#: ``errno`` values of a full disk or an exhausted quota.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class InputError(ValueError):
    """A user-supplied file or argument is unusable; the message names it and says why."""


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` is a full disk: an ``OSError`` with ``ENOSPC`` / ``EDQUOT``, or a ``shutil.Error`` (a copy of
    a tree) holding one."""
    if isinstance(err, shutil.Error):
        return any("No space left" in str(item) or "Disk quota" in str(item) for item in (err.args[0] or [None]))
    return isinstance(err, OSError) and err.errno in _DISK_FULL


def disk_full_error(err: BaseException, path: str | os.PathLike | None = None) -> InputError:
    """The one-line error of a full disk, naming the file being written (``path``, else the error's own file name).

    Args:
        err: the ``OSError`` (or ``shutil.Error``) raised by the write.
        path: the output being written (the final name, not its temporary one).
    """
    where = path if path is not None else (getattr(err, "filename", None) or "the output folder")
    return InputError(f"{where}: no space left on the device")


def disk_full_in(err: BaseException | None) -> bool:
    """Whether a full disk is anywhere in an exception's chain (``__cause__`` / ``__context__``): a run that goes on
    with its next item after a failure must stop on this one."""
    seen = set()
    while err is not None and id(err) not in seen:
        if is_disk_full(err) or (isinstance(err, InputError) and str(err).endswith("no space left on the device")):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False
