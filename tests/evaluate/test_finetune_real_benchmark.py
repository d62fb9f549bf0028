"""The fine-tuning demonstration (``benchmarks/finetune_real.py``) refuses, before any training, what would put
weights of non-commercial data into the repository or train on nothing."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def _run(*args):
    return subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "finetune_real.py"), *args],
        capture_output=True, text=True, encoding="utf-8", cwd=REPO, timeout=300,
    )  # fmt: skip


def test_work_folder_inside_the_repository_is_refused(tmp_path):
    (tmp_path / "acdc").mkdir()
    done = _run("--data", str(tmp_path), "--work", str(REPO / "runs_here"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: --work ")
    assert "outside the repository" in done.stderr
    assert not (REPO / "runs_here").exists() and not (tmp_path / "out").exists()


def test_missing_training_set_is_named(tmp_path):
    done = _run("--data", str(tmp_path), "--work", str(tmp_path / "w"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and f"{tmp_path / 'acdc'}: training set not found" in done.stderr
