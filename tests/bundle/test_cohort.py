"""Cohort runs (``python -m custom_networks.cohort``): subjects found in common layouts, one bad subject never stops
the cohort, a killed run resumes to the table of an uninterrupted one, and 2 gloo workers give the table of 1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import nibabel as nib
import numpy as np
import pytest
from conftest import REPO, write_dicom_cine

from custom_networks.cohort import find_subjects, main, run_cohort
from custom_networks.core.errors import InputError

TIMEOUT_S = 400


@pytest.fixture(scope="module")
def cohort_inputs(tiny_cines, tmp_path_factory):
    """Three subjects in three layouts (UK Biobank-style folder, a file, a folder holding one cine) and a bad one."""
    root = tmp_path_factory.mktemp("cohort_in")
    (root / "sub-00").mkdir()
    shutil.copy(tiny_cines[0][0], root / "sub-00" / "sa.nii.gz")
    shutil.copy(tiny_cines[1][0], root / "sub-01.nii.gz")
    (root / "sub-02").mkdir()
    shutil.copy(tiny_cines[2][0], root / "sub-02" / "cine_4d.nii.gz")
    (root / "sub-03-bad.nii.gz").write_bytes(b"not a nifti file")
    return root


@pytest.fixture(scope="module")
def uninterrupted(cohort_inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("cohort_out")
    return out, run_cohort(str(cohort_inputs), str(out), progress=False)


def test_find_subjects_in_common_layouts(cohort_inputs, tmp_path):
    subjects, unusable = find_subjects(cohort_inputs)
    assert [(s.name, s.cine.name) for s in subjects] == [
        ("sub-00", "sa.nii.gz"),
        ("sub-01", "sub-01.nii.gz"),
        ("sub-02", "cine_4d.nii.gz"),
        ("sub-03-bad", "sub-03-bad.nii.gz"),
    ]
    assert unusable == {}
    # a DICOM cine folder, a folder of frames, a folder without any cine
    affine = np.diag([-1.4, -1.4, 10.0, 1.0])
    write_dicom_cine(tmp_path / "dcm-subject", np.ones((6, 5, 3, 2)) * np.arange(30).reshape(6, 5, 1, 1), affine)
    (tmp_path / "frames-subject").mkdir()
    for t in range(2):
        nib.save(nib.Nifti1Image(np.ones((4, 4, 3), np.float32), np.eye(4)), tmp_path / "frames-subject" / f"f{t}.nii")
    (tmp_path / "empty-subject").mkdir()
    (tmp_path / "notes.txt").write_text("ignored")
    subjects, unusable = find_subjects(tmp_path)
    assert [(s.name, s.cine.name) for s in subjects] == [("dcm-subject", "dcm-subject"), ("frames-subject",) * 2]
    assert list(unusable) == ["empty-subject"] and "no cine found" in unusable["empty-subject"]
    (tmp_path / "dcm-subject.nii.gz").write_bytes(b"x")
    with pytest.raises(InputError, match="given twice"):
        find_subjects(tmp_path)
    with pytest.raises(InputError, match="cohort folder not found"):
        find_subjects(tmp_path / "nope")


def test_one_bad_subject_never_stops_the_cohort(uninterrupted):
    out, result = uninterrupted
    assert result.processed == ["sub-00", "sub-01", "sub-02"] and result.skipped == []
    assert list(result.failed) == ["sub-03-bad"] and "not a readable NIfTI" in result.failed["sub-03-bad"]
    table = (out / "cohort.csv").read_text().splitlines()
    assert table[0].startswith("subject,LVEDV_ml,") and [r.split(",")[0] for r in table[1:]] == [
        "sub-00",
        "sub-01",
        "sub-02",
    ]
    for row in table[1:]:
        assert 30.0 < float(row.split(",")[1]) < 200.0  # an LVEDV, not an empty cell
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"done": 3, "failed": 1, "pending": 0}
    assert manifest["subjects"]["sub-03-bad"]["status"] == "failed" and manifest["weights_sha256"]
    done = json.loads((out / "subjects" / "sub-00" / "done.json").read_text())
    assert done["weights_sha256"] == manifest["weights_sha256"] and done["frames"] == 4
    assert {p.name for p in (out / "subjects" / "sub-00").iterdir()} >= {"sub-00_seg.nii.gz", "sub-00_function.json"}
    report = (out / "report.md").read_text()
    assert "3 done, 1 failed" in report and "sub-03-bad" in report and (out / "distributions.png").stat().st_size > 0


def test_rerun_skips_finished_subjects_and_retries_failed_ones(uninterrupted, cohort_inputs, capsys):
    out, _ = uninterrupted
    table = (out / "cohort.csv").read_text()
    stamp = (out / "subjects" / "sub-01" / "sub-01_seg.nii.gz").stat().st_mtime_ns
    assert main(["--inputs", str(cohort_inputs), "--out", str(out)]) == 2  # a subject failed: exit status 2
    captured = capsys.readouterr()
    assert "processed 0, skipped (already done) 3, failed 1" in captured.out
    assert "error: " in captured.err and "1 subject(s) failed" in captured.err and "manifest.json" in captured.err
    assert (out / "subjects" / "sub-01" / "sub-01_seg.nii.gz").stat().st_mtime_ns == stamp
    assert (out / "cohort.csv").read_text() == table


def test_subject_finished_with_other_weights_is_redone(uninterrupted, cohort_inputs, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(uninterrupted[0], out)
    done = out / "subjects" / "sub-01" / "done.json"
    done.write_text(json.dumps({**json.loads(done.read_text()), "weights_sha256": "other"}))
    result = run_cohort(str(cohort_inputs), str(out), progress=False)
    assert result.processed == ["sub-01"] and sorted(result.skipped) == ["sub-00", "sub-02"]
    assert (
        json.loads(done.read_text())["weights_sha256"]
        == json.loads((out / "manifest.json").read_text())["weights_sha256"]
    )
    assert (out / "cohort.csv").read_text() == (uninterrupted[0] / "cohort.csv").read_text()


def test_output_folder_inside_the_inputs_and_full_disk(tiny_cines, tmp_path, capsys, full_disk):
    """H11: ``--out`` inside ``--inputs`` is not a subject (every re-run used to fail on it); H12: a full disk stops
    the cohort with one line naming the subject's folder (not one traceback per subject), nothing half-written."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(tiny_cines[0][0], inputs / "a.nii.gz")
    out = inputs / "out"
    args = ["--inputs", str(inputs), "--out", str(out)]
    assert main(args) == 0
    assert main(args) == 0  # skipped, and out/ is not an unusable entry
    assert json.loads((out / "manifest.json").read_text())["unusable_entries"] == {}
    assert [s.name for s in find_subjects(inputs, exclude=out / "x")[0]] == ["a"]  # a folder holding it, too
    capsys.readouterr()
    shutil.copy(tiny_cines[1][0], inputs / "b.nii.gz")
    full_disk()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [
        f"error: {out / 'subjects' / 'b'}: no space left on the device"
    ]
    assert "Traceback" not in err
    assert sorted(p.name for p in (out / "subjects").iterdir()) == ["a"] and list((out / "failed").iterdir()) == []


def test_one_run_at_a_time_and_nothing_usable(cohort_inputs, tmp_path):
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".cohort.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InputError, match="another cohort run is writing here"):
            run_cohort(str(cohort_inputs), str(out), progress=False)
    (tmp_path / "in" / "no-cine").mkdir(parents=True)
    result = run_cohort(str(tmp_path / "in"), str(out), progress=False)
    assert result.counts == {"done": 0, "failed": 0, "pending": 0, "unusable": 1}
    assert "no-cine" in (out / "report.md").read_text()


def test_killed_run_resumes_to_the_uninterrupted_table(uninterrupted, cohort_inputs, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "custom_networks.cohort", "--inputs", str(cohort_inputs), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    deadline = time.time() + TIMEOUT_S
    while not (out / "subjects" / "sub-00" / "done.json").exists():
        assert proc.poll() is None and time.time() < deadline, "the run ended before its first subject was done"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # no cleanup at all: the hardest interruption
    proc.wait()
    finished = sorted(p.name for p in (out / "subjects").iterdir() if not p.name.startswith("."))
    assert "sub-00" in finished and all((out / "subjects" / n / "done.json").is_file() for n in finished)
    result = run_cohort(str(cohort_inputs), str(out), progress=False)
    assert set(result.skipped) == set(finished) and set(result.processed) == {"sub-00", "sub-01", "sub-02"} - set(
        finished
    )
    assert result.processed  # the run was really interrupted before the end
    assert not [p for p in (out / "subjects").iterdir() if p.name.startswith(".")]  # the killed run's temp removed
    assert (out / "cohort.csv").read_text() == (uninterrupted[0] / "cohort.csv").read_text()


@pytest.mark.slow
def test_two_gloo_workers_give_the_table_of_one(uninterrupted, cohort_inputs, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "custom_networks.cohort", "--inputs", str(cohort_inputs), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            encoding="utf-8", errors="replace", start_new_session=True)  # fmt: skip
    try:
        log, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        pytest.fail(f"torchrun did not finish in {TIMEOUT_S} s:\n{log[-4000:]}")
    # the bad subject makes the first process end with status 2 (after merging), so torchrun reports a failure
    assert proc.returncode != 0 and "1 subject(s) failed" in log, log[-6000:]
    workers = {json.loads((out / "subjects" / n / "done.json").read_text())["worker"] for n in ("sub-00", "sub-01")}
    assert workers == {0, 1}  # the subjects were shared between the two processes
    assert json.loads((out / "manifest.json").read_text())["workers"] == 2
    assert (out / "cohort.csv").read_text() == (uninterrupted[0] / "cohort.csv").read_text()


@pytest.mark.slow
def test_more_workers_than_subjects(tiny_cines, tmp_path):
    (tmp_path / "in").mkdir()
    shutil.copy(tiny_cines[0][0], tmp_path / "in" / "only.nii.gz")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "custom_networks.cohort", "--inputs", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, encoding="utf-8", timeout=TIMEOUT_S)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert (tmp_path / "out" / "cohort.csv").read_text().count("\n") == 2  # header and the one subject
