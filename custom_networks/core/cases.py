"""Case names and cardiac phases: a case is one stack of one subject, named ``<subject>_<phase>`` where the phase is
known (``patient001_ED``, ``sub-0005_ES``): the ``<name>`` of the files that inference and the classic baselines write
for it (``<name>_seg.nii.gz``) and of the real labelled sets' files (``<name>_image.nii.gz``)."""

from __future__ import annotations

import re

__all__ = ["PHASES", "phase_of"]

#: Cardiac phases a case name may end in, in the order items list them: end-diastole, end-systole.
PHASES: tuple[str, ...] = ("ED", "ES")

_PHASE = re.compile(r"^(?P<subject>.+)_(?P<phase>ED|ES)$", re.IGNORECASE)


def phase_of(name: str) -> tuple[str, str | None]:
    """Subject and phase of a case name.

    Args:
        name: a case name, e.g. ``patient001_ED`` (the phase suffix in any case: ``_ed`` reads as ``ED``).

    Returns:
        ``(subject, phase)``: ``("patient001", "ED")``; ``(name, None)`` when the name ends in no phase.
    """
    m = _PHASE.match(name)
    return (m["subject"], m["phase"].upper()) if m else (name, None)
