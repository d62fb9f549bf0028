from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
from conftest import checksums

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import atomic_output_dir, load_nifti, save_nifti


def _img(path, data, zooms=(1.0, 1.0, 2.0)):
    nib.save(nib.Nifti1Image(np.asarray(data, np.float32), np.diag([*zooms, 1.0])), str(path))
    return path


def test_round_trip_keeps_affine_and_label_intent(tmp_path):
    aff = np.array([[0, -1.25, 0, 10], [1.25, 0, 0, -5], [0, 0, 2.0, 3], [0, 0, 0, 1]])
    lab = np.random.default_rng(0).integers(0, 4, (8, 9, 10))
    save_nifti(lab, aff, tmp_path / "lab.nii.gz", label=True)
    data, affine = load_nifti(tmp_path / "lab.nii.gz", dtype=np.uint8)
    np.testing.assert_array_equal(data, lab)
    np.testing.assert_allclose(affine, aff)
    assert nib.load(tmp_path / "lab.nii.gz").header["intent_code"] == 1002
    assert [p.name for p in tmp_path.iterdir()] == ["lab.nii.gz"]  # no temporary left


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "file not found"),
        (lambda p: (p.write_text("hello"), p)[1], "not a readable NIfTI"),
        (lambda p: _img(p, np.zeros((5, 5))), "expected a 3D image"),
        (lambda p: _img(p, np.full((4, 4, 4), np.nan)), "NaN"),
        (lambda p: _img(p, np.zeros((4, 4, 4)), zooms=(1.0, 1.0, 500.0)), "absurd voxel size"),
    ],
)
def test_bad_inputs_name_the_file_and_the_problem(tmp_path, make, message):
    path = make(tmp_path / "in.nii.gz")
    with pytest.raises(InputError, match=message) as err:
        load_nifti(path)
    assert "in.nii.gz" in str(err.value)


def test_truncated_file_is_reported_as_corrupt(tmp_path):
    path = _img(tmp_path / "t.nii.gz", np.random.default_rng(0).random((32, 32, 32)))
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(InputError, match="t.nii.gz: (corrupt|not a readable)"):
        load_nifti(path)


def test_4d_accepted_only_when_asked(tmp_path):
    path = _img(tmp_path / "cine.nii.gz", np.zeros((4, 4, 3, 5)))
    with pytest.raises(InputError, match="expected a 3D image"):
        load_nifti(path)
    assert load_nifti(path, ndim=(3, 4))[0].shape == (4, 4, 3, 5)


def test_atomic_output_dir_replaces_only_on_success(tmp_path):
    out = tmp_path / "out"
    with atomic_output_dir(out) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (out / "a.txt").read_text() == "1"
    with pytest.raises(RuntimeError), atomic_output_dir(out, overwrite=True) as tmp:
        (tmp / "a.txt").write_text("2")
        raise RuntimeError("boom")
    assert (out / "a.txt").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_outputs_get_normal_permissions_not_the_temporary_files_owner_only_mode(tmp_path):
    """Atomic writes go through ``tempfile`` (mode 0600 / 0700); the final outputs must be readable like any file."""
    import os

    import matplotlib.pyplot as plt

    from custom_networks.core.nifti import atomic_output_dir, save_figure

    old = os.umask(0o022)
    try:
        path = save_nifti(np.zeros((4, 4, 4), np.float32), np.eye(4), tmp_path / "a.nii.gz")
        png = save_figure(plt.figure(), tmp_path / "f.png")
        with atomic_output_dir(tmp_path / "out") as tmp:
            (tmp / "x.txt").write_text("x")
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644) and oct(png.stat().st_mode & 0o777) == oct(0o644)
    assert oct((tmp_path / "out").stat().st_mode & 0o777) == oct(0o755)
    assert not list(tmp_path.glob(".f.png*")) and not list(tmp_path.glob(".a.nii.gz*"))


def test_no_overwrite_lets_only_one_writer_succeed(tmp_path):
    """Without overwrite, a file is put in place only if none exists at that moment (atomic): a second writer of
    the same name fails with a clear error and the first file is kept."""
    path = tmp_path / "case_seg.nii.gz"
    save_nifti(np.ones((4, 4, 4)), np.eye(4), path, label=True, overwrite=False)
    with pytest.raises(InputError, match="case_seg.nii.gz: exists"):
        save_nifti(np.zeros((4, 4, 4)), np.eye(4), path, label=True, overwrite=False)
    assert np.asarray(nib.load(path).dataobj).max() == 1
    assert [p.name for p in tmp_path.iterdir()] == ["case_seg.nii.gz"]  # no temporary left
    save_nifti(np.zeros((4, 4, 4)), np.eye(4), path, label=True, overwrite=True)
    assert np.asarray(nib.load(path).dataobj).max() == 0


def test_output_folder_checked_before_work(tmp_path):
    from custom_networks.core.nifti import check_output_folder

    assert check_output_folder(tmp_path / "new" / "deeper").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="output folder is an existing file"):
        check_output_folder(tmp_path / "file")
    with pytest.raises(InputError, match="cannot write the output folder here"):
        check_output_folder("/proc/not_here")


def test_sigterm_leaves_no_partial_output(tmp_path):
    """SIGTERM during an atomic write (after stop_on_sigterm, as every command installs): exit 143, no final folder
    and no hidden temporary folder left."""
    import subprocess
    import sys

    code = (
        "import os, signal\n"
        "from custom_networks.core.cli import stop_on_sigterm\n"
        "from custom_networks.core.nifti import atomic_output_dir\n"
        "stop_on_sigterm()\n"
        f"with atomic_output_dir({str(tmp_path / 'out')!r}) as tmp:\n"
        "    (tmp / 'half.txt').write_text('x')\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 143
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_only_a_folder_this_project_wrote(tmp_path):
    import json

    from custom_networks.core.nifti import OUTPUT_MARKER

    out = tmp_path / "out"
    with atomic_output_dir(out, writer="tool-a") as tmp:
        (tmp / "a.txt").write_text("1")
    assert json.loads((out / OUTPUT_MARKER).read_text())["writer"] == "tool-a"
    with pytest.raises(InputError, match=r"not empty \(pass --overwrite True to replace it\)"):
        with atomic_output_dir(out, writer="tool-a"):
            pass
    with pytest.raises(InputError, match="was written by tool-a, not tool-b"):
        with atomic_output_dir(out, overwrite=True, writer="tool-b"):
            pass
    with atomic_output_dir(out, overwrite=True, writer="tool-a") as tmp:  # its own folder: replaced
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == [OUTPUT_MARKER, "b.txt"]

    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "precious.txt").write_text("keep")
    (mine / "sub" / "x.txt").write_text("keep too")
    before = checksums(tmp_path)
    with pytest.raises(InputError) as err:
        with atomic_output_dir(mine, overwrite=True) as tmp:
            raise AssertionError("never reached")
    assert str(err.value) == (
        f"{mine}: exists and was not written by this project (no {OUTPUT_MARKER}); --overwrite replaces only a "
        "folder this command wrote: choose a new or empty --out"
    )
    with pytest.raises(InputError, match="is not empty and was not written by this project"):
        with atomic_output_dir(mine):
            pass
    assert checksums(tmp_path) == before

    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_output_dir(empty) as tmp:  # an existing empty folder is still filled
        (tmp / "c.txt").write_text("3")
    assert (empty / "c.txt").read_text() == "3" and (empty / OUTPUT_MARKER).is_file()


def test_the_working_folder_is_never_replaced(tmp_path, monkeypatch):
    from custom_networks.core.nifti import OUTPUT_MARKER, check_new_output_dir

    out = tmp_path / "out"
    with atomic_output_dir(out) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "a.txt").write_text("1")
    before = checksums(tmp_path)
    for cwd in (out, out / "sub"):  # the folder itself, or a folder inside it: refused even with its marker
        monkeypatch.chdir(cwd)
        with pytest.raises(InputError) as err:
            with atomic_output_dir(out, overwrite=True):
                raise AssertionError("never reached")
        assert str(err.value) == (
            f"{out}: is (or holds) the current working folder; never replaced: choose a new or empty --out"
        )
        with pytest.raises(InputError, match="current working folder"):
            check_new_output_dir(".." if cwd != out else ".", overwrite=True)
    assert checksums(tmp_path) == before

    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    inode = here.stat().st_ino
    with atomic_output_dir(".") as tmp:  # an empty working folder is filled in place, not renamed away
        (tmp / "report.txt").write_text("r")
    assert here.stat().st_ino == inode and (here / "report.txt").read_text() == "r"
    assert sorted(p.name for p in here.iterdir()) == [OUTPUT_MARKER, "report.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here", "out"]  # no temporary left
