"""The ``cine_sax`` folder of real cines with pseudo-labels (``custom_networks.datalists.cine_sax``)."""

from __future__ import annotations

import pytest

from custom_networks.core.errors import InputError
from custom_networks.datalists import cine_stacks


def test_cine_stacks_pairs_each_stack_with_its_pseudo_label(tmp_path):
    for source in ("acdc", "mnms"):
        (tmp_path / source).mkdir()
        for name in ("sax_ed.nii.gz", "sax_ed_pseudolabel.nii.gz", "sax_es.nii.gz"):  # sax_es: no pseudo-label
            (tmp_path / source / name).write_bytes(b"")
    stacks = cine_stacks(tmp_path)
    assert [s[0] for s in stacks] == ["acdc_ed", "mnms_ed"]
    assert stacks[0][1].name == "sax_ed.nii.gz" and stacks[0][2].name == "sax_ed_pseudolabel.nii.gz"
    with pytest.raises(InputError, match="no such folder"):
        cine_stacks(tmp_path / "missing")
    with pytest.raises(InputError, match="no sax_"):
        (tmp_path / "empty" / "acdc").mkdir(parents=True)
        cine_stacks(tmp_path / "empty")
