from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import checksums

from custom_networks.data.cli import main


def test_domains_lists_every_preset(capsys):
    assert main(["domains"]) == 0
    out = capsys.readouterr().out
    for name in ("source", "target_a", "target_b"):
        assert name in out


def test_bad_argument_exits_2_with_one_clear_line(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "ds"), "--subjects", "0"]) == 2
    err = capsys.readouterr().err
    assert "error: subjects must be a positive integer" in err
    assert not (tmp_path / "ds").exists()


def test_module_entry_point_runs(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "custom_networks.data", "synth", "--out", str(tmp_path / "d"), "--domain", "venus"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "unknown domain 'venus'" in proc.stderr


@pytest.mark.parametrize("option", ["--slice_spacing", "--slice_thickness", "--inplane_spacing"])
def test_zero_acquisition_values_are_refused_not_replaced(tmp_path, capsys, option):
    rc = main(["synth", "--out", str(tmp_path / "ds"), "--subjects", "1", "--progress", "False", option, "0"])
    assert rc == 2
    assert f"error: {option} must be a positive number of mm, got 0" in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_unknown_anatomy_detail_is_refused(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "ds"), "--anatomy_detail", "baroque"]) == 2
    err = capsys.readouterr().err
    assert "--anatomy_detail must be one of basic, realistic, got 'baroque'" in err
    assert not (tmp_path / "ds").exists()


def test_grid_too_short_for_the_heart_is_refused(tmp_path, capsys):
    """A 64 mm through-plane grid cannot hold the heart model (a root-finding traceback before)."""
    rc = main(["synth", "--out", str(tmp_path / "ds"), "--subjects", "1", "--hr_shape", "[128,128,32]"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert rc == 2 and err == [
        "error: HR grid 64 mm through-plane: too short for an adult heart and its atria (at least 80 mm, e.g. "
        "hr_shape [128, 128, 64] at 2 mm)"
    ]
    assert not (tmp_path / "ds").exists()


def test_realistic_dataset_records_its_anatomy(tmp_path):
    import json

    import nibabel as nib
    import numpy as np

    from custom_networks.data.tissues import Tissue

    out = tmp_path / "ds"
    assert (
        main(
            [
                "synth",
                "--out",
                str(out),
                "--subjects",
                "1",
                "--anatomy_detail",
                "realistic",
                "--hr_shape",
                "[96, 96, 48]",
            ]
        )
        == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["arguments"]["anatomy_detail"] == "realistic"
    subject = manifest["subjects"]["sub-0000"]
    assert subject["anatomy"]["heart"]["phenotype"] in ("dilated", "dilated_rv", "hypertrophic", "infarct", "normal")
    assert "cardiac_details" in subject["anatomy"] and "thorax_details" in subject["anatomy"]
    tissue = np.asarray(nib.load(out / "sub-0000" / "ED" / "hr_tissue.nii.gz").dataobj)
    assert (tissue == Tissue.LV_PAPILLARY).any()


def test_overwrite_never_replaces_the_working_folder(user_folder, monkeypatch, capsys):
    """X4: ``synth --out . --overwrite True`` replaced the user's folder by the dataset; now refused, untouched."""
    monkeypatch.chdir(user_folder)
    before = checksums(user_folder.parent)
    assert main(["synth", "--out", ".", "--overwrite", "True", "--subjects", "1", "--progress", "False"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {user_folder}: is (or holds) the current working folder; never replaced: choose a new or empty --out"
    ]
    assert checksums(user_folder.parent) == before


def test_overwrite_replaces_only_a_dataset_it_wrote(user_folder, tmp_path, capsys):
    args = ["--subjects", "1", "--progress", "False"]
    out = tmp_path / "ds"
    assert main(["synth", "--out", str(out), *args]) == 0
    (out / "stale.txt").write_text("from the first run")
    assert main(["synth", "--out", str(out), "--overwrite", "True", *args]) == 0  # its own dataset: replaced
    assert (out / "dataset.json").is_file() and not (out / "stale.txt").exists()

    capsys.readouterr()
    before = checksums(tmp_path)
    assert main(["synth", "--out", str(user_folder), "--overwrite", "True", *args]) == 2  # not its own: refused
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {user_folder}: exists and was not written by this project (no .custom_networks_output.json); "
        "--overwrite replaces only a folder this command wrote: choose a new or empty --out"
    ]
    assert checksums(tmp_path) == before
