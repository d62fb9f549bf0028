"""Case names and phases: ``<subject>_ED`` / ``<subject>_ES`` (any case of the suffix), no phase otherwise."""

from __future__ import annotations

import pytest

from custom_networks.core.cases import PHASES, phase_of


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("patient001_ED", ("patient001", "ED")),
        ("sub-0005_es", ("sub-0005", "ES")),
        ("SCD0000101_ED", ("SCD0000101", "ED")),
        ("a_b_ES", ("a_b", "ES")),
        ("s03", ("s03", None)),
        ("_ED", ("_ED", None)),
        ("patient001_EDX", ("patient001_EDX", None)),
    ],
)
def test_phase_of(name, expected):
    assert phase_of(name) == expected


def test_phases_in_item_order():
    assert PHASES == ("ED", "ES")
