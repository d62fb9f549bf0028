from __future__ import annotations

import subprocess
import sys

import pytest

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
