"""The rules every command shares (``custom_networks.core.cli``, the one CLI runner): no value evaluated as Python
by any route of ``monai.bundle run`` (P22-P24), an unknown option refused before anything runs (P6, C10), a full disk
said in one line (P20) — rows of docs/bad_inputs.md."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest
from conftest import FULL_DISK_SITECUSTOMIZE, REPO

from custom_networks.core.cli import check_options, refuse_evaluated_overrides, run_cli
from custom_networks.core.errors import InputError


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--input_path", "['$x']"],  # P22: wrapped in a list
        ["run", "--frame", "$__import__('os')"],  # P23: a value that is not a path
        ["run", "--output_dir=@a"],  # the = form, a reference
        ["run", "--gemini_overrides", "{'sr_output': '%b'}"],  # inside a mapping, a macro
        ["run", "--x", "{'$k': 1}"],  # a key
    ],
)
def test_every_override_that_monai_would_evaluate_is_refused(argv):
    with pytest.raises(InputError, match="MONAI's config parser would evaluate this value") as err:
        refuse_evaluated_overrides(argv)
    assert str(err.value).startswith(f"--{argv[1][2:].split('=')[0]} ")


def test_args_file_values_are_checked_and_literals_pass(tmp_path):
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"input_path": "in.nii.gz", "gemini_overrides": {"roi_size": ["$1"]}}))
    with pytest.raises(InputError) as err:
        refuse_evaluated_overrides(["run", "--args_file", str(args)])
    assert str(err.value).startswith(f"{args}: 'gemini_overrides': ")
    args.write_text(json.dumps({"input_path": "a$b.nii.gz", "frame": 2}))
    refuse_evaluated_overrides(["run", "--config_file", "c.json", "--args_file", str(args), "--input_path", "x@y"])


def test_other_programs_are_not_checked(monkeypatch):
    """Only ``python -m monai.bundle`` hands command-line strings to MONAI's parser (MONAI Label, predict, pytest
    hand objects over)."""
    monkeypatch.setattr(sys, "argv", ["pytest", "--input_path", "$x"])
    refuse_evaluated_overrides()
    monkeypatch.setattr(sys, "argv", [str(REPO / ".venv/lib/site/monai/bundle/__main__.py"), "run", "--frame", "$x"])
    with pytest.raises(InputError):
        refuse_evaluated_overrides()


@pytest.mark.slow
@pytest.mark.parametrize("route", ["list", "frame", "args_file"])
def test_monai_bundle_run_evaluates_no_value(tmp_path, route):
    """P22-P24 on the command a user runs: exit 2, one line naming the value, and the code never ran."""
    pwned = tmp_path / "pwned"
    code = f"$__import__('pathlib').Path({str(pwned)!r}).touch()"
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file"]
    cmd += [str(REPO / "gemini_gan_bundle" / "configs" / "inference.json"), "--bundle_root"]
    cmd += [str(REPO / "gemini_gan_bundle"), "--output_dir", str(tmp_path / "out")]
    if route == "list":
        cmd += ["--input_path", json.dumps([code])]
    elif route == "frame":
        cmd += ["--input_path", str(tmp_path), "--frame", code]
    else:
        (tmp_path / "args.json").write_text(json.dumps({"input_path": code}))
        cmd += ["--args_file", str(tmp_path / "args.json")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(errors) == 1 and "MONAI's config parser would evaluate this value" in errors[0]
    assert {"list": "--input_path", "frame": "--frame", "args_file": str(tmp_path / "args.json")}[route] in errors[0]
    assert not pwned.exists() and not (tmp_path / "out").exists()


def _command(input: str, out: str, overwrite: bool = False, roi_size: list[int] | None = None) -> str:
    return "ran"


def test_unknown_option_is_named_with_its_close_match(capsys):
    """P6 / C10: refused before anything runs (python-fire would apply it to the result after the whole run)."""
    with pytest.raises(InputError, match=r"^--overwrit: not an option of prog \(did you mean --overwrite\?\)$"):
        check_options(_command, ["a", "--out", "b", "--overwrit", "True"], "prog")
    with pytest.raises(InputError, match=r"^--frame: not an option of prog \(options: --input, --out, --overwrite"):
        check_options(_command, ["a", "--frame=2"], "prog")
    check_options(_command, ["a", "--out", "b", "--roi-size", "[1,2,3]", "--nooverwrite", "--", "--help"], "prog")
    commands = {"stack": _command}
    with pytest.raises(InputError, match="not an option of prog stack"):
        check_options(commands, ["stack", "a", "--outt", "b"], "prog")


def test_run_cli_says_a_full_disk_in_one_line(capsys):
    def write(out: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", out)

    assert run_cli(write, ["--out", "/data/x.nii.gz"]) == 2
    assert capsys.readouterr().err.strip() == "error: /data/x.nii.gz: no space left on the device"


@pytest.mark.slow
def test_monai_bundle_run_on_a_full_disk_says_one_line(tiny_dataset, tmp_path):
    """P20: every gzip write of the process fails (ENOSPC): one line naming the output, exit 2, nothing written."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(FULL_DISK_SITECUSTOMIZE)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file"]
    cmd += [str(REPO / "gemini_gan_bundle" / "configs" / "inference.json"), "--bundle_root"]
    cmd += [str(REPO / "gemini_gan_bundle"), "--output_dir", str(out)]
    cmd += ["--input_path", str(tiny_dataset / "sub-0000" / "ED" / "lr_image.nii.gz")]
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {out / 'lr_image_seg.nii.gz'}: no space left on the device"
    )
    assert sorted(p.name for p in out.iterdir()) == []
