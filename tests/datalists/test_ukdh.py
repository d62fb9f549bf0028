"""The UK Digital Heart label-map folder (``custom_networks.datalists.ukdh``): high-resolution maps found,
low-resolution stacks skipped."""

from __future__ import annotations

import pytest
from conftest import toy_label_map, write_label_file

from custom_networks.core.errors import InputError
from custom_networks.datalists import find_label_maps


def test_folder_discovery_skips_low_resolution_stacks(tmp_path):
    write_label_file(tmp_path / "hr.nii.gz", toy_label_map())
    write_label_file(tmp_path / "lr.nii.gz", toy_label_map()[:, :, ::5], zooms=(1.0, 1.0, 10.0))
    assert [p.name for p in find_label_maps(tmp_path)] == ["hr.nii.gz"]
    with pytest.raises(InputError, match="not found"):
        find_label_maps(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no high-resolution label map"):
        find_label_maps(tmp_path / "empty")
