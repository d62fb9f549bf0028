"""The datalist of a folder: paths relative to the datalist's folder (MONAI loads them), the warning when MONAI would
turn item values into paths, the info CSV only where a layout reads it, and a folder without any usable item."""

from __future__ import annotations

import logging
import os

import pytest
from layout_files import make_acdc, make_mnms, nii
from monai.data import load_decathlon_datalist

from custom_networks.core.errors import InputError
from custom_networks.datalists.build import build_datalist
from custom_networks.datalists.cli import build_file


@pytest.fixture
def acdc(tmp_path):
    return make_acdc(tmp_path)


def test_paths_relative_to_base_and_loaded_by_monai(acdc, tmp_path):
    out = tmp_path / "lists" / "acdc.json"
    path, datalist = build_file(acdc, out)
    assert path == out and datalist["layout"] == "acdc" and datalist["root"] == "../acdc"
    assert (datalist["numItems"], datalist["numSubjects"], datalist["numSkipped"]) == (8, 6, 5)
    assert datalist["items"][0]["image"] == "../acdc/patient001/patient001_frame01.nii.gz"
    assert datalist["description"] == "acdc datalist of acdc; paths are relative to this file's folder"
    loaded = load_decathlon_datalist(out, data_list_key="items")
    assert len(loaded) == 8
    for item in loaded:
        assert os.path.isfile(item["image"]) and os.path.isfile(item["label"])
    assert loaded[0]["cine"] == str(acdc / "patient001" / "patient001_4d.nii.gz")
    assert loaded[0]["subject"] == "patient001"  # the datalist lies outside the image folders: names stay names


def test_warns_when_monai_would_turn_names_into_paths(acdc, caplog):
    with caplog.at_level(logging.WARNING, logger="custom_networks.datalists"):
        datalist = build_datalist(acdc, base_dir=acdc)
    assert datalist["items"][0]["image"] == "patient001/patient001_frame01.nii.gz"
    assert any("load_decathlon_datalist would turn them into paths" in r.getMessage() for r in caplog.records)


def test_info_csv_only_with_a_layout_that_reads_it(tmp_path):
    mnms = make_mnms(tmp_path)
    assert build_datalist(mnms, info_csv=tmp_path / "info.csv")["numItems"] == 4
    with pytest.raises(InputError, match="only the mnms layout reads an info CSV"):
        build_datalist(mnms, layout="ukbb", info_csv=tmp_path / "info.csv")


def test_all_subjects_skipped_is_refused(tmp_path):
    root = tmp_path / "mnms"
    nii(root / "A1" / "A1_sa.nii.gz", (8, 8, 3, 5))
    with pytest.raises(InputError, match=r"no usable item: all 1 subjects or phases skipped \(first: .*no label"):
        build_datalist(root)
    with pytest.raises(InputError, match="--layout 'nifti': unknown layout; choose auto, acdc"):
        build_datalist(root, layout="nifti")
