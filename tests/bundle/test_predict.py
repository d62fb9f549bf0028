"""The one-line predict command and the bundles' handling of bad input (see docs/bad_inputs.md for the table of the
inputs covered): one ``error:`` line and exit status 2, nothing half-written, no silent overwrite, literal paths,
per-case isolation, geometry sanity."""

from __future__ import annotations

import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from conftest import REPO, checksums

from custom_networks.predict import main as predict_main


@pytest.fixture(scope="module")
def good(tiny_dataset):
    """A generated native stack (128 x 128 x 13, oblique, 1.25 x 1.25 x 10 mm) and its label map."""
    return tiny_dataset / "sub-0000" / "ED" / "lr_image.nii.gz", tiny_dataset / "sub-0000" / "ED" / "lr_label.nii.gz"


def _variant(src, path, data=None, affine=None, dtype=np.float32):
    img = nib.load(src)
    array = np.asarray(img.dataobj, dtype=np.float32) if data is None else data
    out = nib.Nifti1Image(array.astype(dtype), img.affine if affine is None else affine)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(out, path)
    return path


def _run(capsys, *args):
    rc = predict_main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


def _written(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_predict_writes_outputs_and_refuses_to_overwrite(good, tmp_path, capsys):
    out = tmp_path / "out"
    rc, stdout, _ = _run(capsys, good[0], "-o", out)
    assert rc == 0 and _written(out) == ["lr_image_seg.nii.gz", "lr_image_sr.nii.gz"]
    seg = nib.load(out / "lr_image_seg.nii.gz")
    assert set(np.unique(np.asarray(seg.dataobj)).tolist()) == {0, 1, 2, 3}
    assert np.allclose(seg.header.get_qform(), seg.header.get_sform(), atol=1e-4)
    before = (out / "lr_image_seg.nii.gz").stat().st_mtime_ns
    rc, _, err = _run(capsys, good[0], "-o", out)
    assert rc == 2 and _error_lines(err) == [
        f"error: {out / 'lr_image_seg.nii.gz'}: exists (pass --overwrite True to replace it)"
    ]
    assert (out / "lr_image_seg.nii.gz").stat().st_mtime_ns == before
    rc, _, _ = _run(capsys, good[0], "-o", out, "--overwrite", "True")
    assert rc == 0 and (out / "lr_image_seg.nii.gz").stat().st_mtime_ns != before


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("missing", None, "input file or folder not found"),
        ("nan", lambda d: np.where(np.arange(d.size).reshape(d.shape) % 997 == 0, np.nan, d), "NaN/inf voxels"),
        ("zero", lambda d: np.zeros_like(d), "constant volume"),
        ("flat2d", lambda d: d[..., 0], "expected a 3D or 4D image"),
        ("mask", lambda d: (d > np.median(d)).astype(np.float32), "a mask or label map"),
    ],
)
def test_bad_inputs_give_one_line_and_write_nothing(good, tmp_path, capsys, name, make, message):
    src = tmp_path / f"{name}.nii.gz"
    if make is not None:
        data = np.asarray(nib.load(good[0]).dataobj, np.float32)
        _variant(good[0], src, make(data))
    out = tmp_path / "out"
    rc, _, err = _run(capsys, src, "-o", out)
    (line,) = _error_lines(err)
    assert rc == 2 and str(src) in line and message in line
    assert [p for p in _written(out) if p.endswith(".nii.gz")] == []


def test_label_map_given_as_image_is_refused(good, tmp_path, capsys):
    rc, _, err = _run(capsys, good[1], "-o", tmp_path / "out")
    assert rc == 2 and "only 4 distinct values (0, 1, 2, 3): a mask or label map" in _error_lines(err)[0]


def test_sheared_affine_refused_and_qform_sform_conflict_warned(good, tmp_path, capsys, caplog):
    affine = nib.load(good[0]).affine.copy()
    sheared = affine.copy()
    sheared[:3, 2] += 0.5 * affine[:3, 0] / np.linalg.norm(affine[:3, 0]) * np.linalg.norm(affine[:3, 2])
    rc, _, err = _run(capsys, _variant(good[0], tmp_path / "sheared.nii.gz", affine=sheared), "-o", tmp_path / "o1")
    assert rc == 2 and "sheared affine" in _error_lines(err)[0]
    img = nib.load(good[0])
    conflict = nib.Nifti1Image(np.asarray(img.dataobj, np.float32), affine)
    moved = affine.copy()
    moved[:3, 3] += 100.0
    conflict.set_qform(moved, code=1)
    conflict.set_sform(affine, code=1)
    nib.save(conflict, tmp_path / "qs.nii.gz")
    from custom_networks.core.nifti import load_nifti

    with caplog.at_level("WARNING"):
        load_nifti(tmp_path / "qs.nii.gz")
    assert "qform and sform disagree by up to 100.0 mm; using the sform" in caplog.text


def test_folder_run_isolates_bad_cases_and_ignores_hidden_files(good, tmp_path, capsys):
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(good[0], folder / "a_good.nii.gz")
    data = np.asarray(nib.load(good[0]).dataobj, np.float32)
    _variant(good[0], folder / "b_nan.nii.gz", np.where(data > np.percentile(data, 99.9), np.nan, data))
    shutil.copy(good[0], folder / "c_good.nii.gz")
    (folder / ".c_good.nii.gz.tmp123.nii.gz").write_bytes(b"truncated")  # litter of a killed run
    out = tmp_path / "out"
    rc, _, err = _run(capsys, folder, "-o", out)
    assert rc == 2
    assert _written(out) == [
        "a_good_seg.nii.gz",
        "a_good_sr.nii.gz",
        "c_good_seg.nii.gz",
        "c_good_sr.nii.gz",
        "failed.csv",
    ]
    failed = (out / "failed.csv").read_text().splitlines()
    assert len(failed) == 2 and "b_nan.nii.gz" in failed[1] and "NaN/inf voxels" in failed[1]
    assert "1 of 3 inputs failed" in _error_lines(err)[0]


def test_duplicate_output_names_refused_up_front(good, tmp_path, capsys):
    folder = tmp_path / "dup"
    folder.mkdir()
    shutil.copy(good[0], folder / "case.nii.gz")
    nib.save(nib.load(good[0]), folder / "case.nii")
    rc, _, err = _run(capsys, folder, "-o", tmp_path / "out")
    assert rc == 2 and "would write the same outputs (case_*)" in _error_lines(err)[0]
    assert _written(tmp_path / "out") == []


def test_paths_are_literal_and_frames_named(good, tmp_path, capsys, monkeypatch):
    dollar = tmp_path / "$x"
    dollar.mkdir()
    data = np.asarray(nib.load(good[0]).dataobj, np.float32)
    _variant(good[0], dollar / "cine.nii.gz", np.stack([data, data[::-1]], axis=-1))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "2024").mkdir()
    shutil.copy(good[0], tmp_path / "2024" / "s.nii.gz")
    assert _run(capsys, "2024", "-o", "2025")[0] == 0
    assert _written(tmp_path / "2025") == ["s_seg.nii.gz", "s_sr.nii.gz"]
    out = tmp_path / "@frames"
    assert _run(capsys, "$x", "-o", "@frames", "--frame", "1")[0] == 0
    assert _run(capsys, "$x", "-o", "@frames", "--frame", "0")[0] == 0
    assert _written(out) == ["cine_frame0_seg.nii.gz", "cine_frame0_sr.nii.gz", "cine_frame1_seg.nii.gz",
                             "cine_frame1_sr.nii.gz"]  # fmt: skip
    rc, _, err = _run(capsys, "$x", "-o", "@frames2")
    assert rc == 2 and "4D cine with 2 frames; choose one with --frame (0..1)" in _error_lines(err)[0]


def test_output_folder_problems_before_any_computation(good, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    rc, _, err = _run(capsys, good[0], "-o", blocker)
    assert rc == 2 and "output folder is an existing file" in _error_lines(err)[0]
    assert blocker.read_text() == "mine"
    rc, _, err = _run(capsys, good[0], "-o", "/proc/not_here")
    assert rc == 2 and "cannot write the output folder here" in _error_lines(err)[0]


def test_vama_unknown_method_lists_the_methods(good, tmp_path, capsys):
    rc, _, err = _run(capsys, good[0], "-o", tmp_path / "out", "--bundle", "vama_bundle", "--method", "bogus")
    assert rc == 2
    assert (
        "--method 'bogus': unknown translation method (one of histogram_matching, vama, cyclegan"
        in _error_lines(err)[0]
    )


@pytest.mark.slow
@pytest.mark.parametrize("case", ["missing", "injection", "no_bundle_root"])
def test_monai_bundle_run_ends_bad_input_with_one_line(good, tmp_path, case):
    """The MONAI-native entry point: one error line and exit status 2 (no traceback wall); a path override that MONAI
    would evaluate is refused before it runs; outside the repository root the missing --bundle_root is named."""
    pwned = tmp_path / "pwned"
    input_path = {
        "missing": str(tmp_path / "missing.nii.gz"),
        "injection": f"$__import__('pathlib').Path({str(pwned)!r}).touch()",
        "no_bundle_root": str(good[0]),
    }[case]
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file"]
    cmd += [str(REPO / "gemini_gan_bundle" / "configs" / "inference.json")]
    if case != "no_bundle_root":
        cmd += ["--bundle_root", str(REPO / "gemini_gan_bundle")]
    cmd += ["--input_path", input_path, "--output_dir", str(tmp_path / "out")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    expected = {
        "missing": f"error: {tmp_path / 'missing.nii.gz'}: input file or folder not found",
        "injection": 'error: --input_path "$__import__(',
        "no_bundle_root": "error: gemini_gan_bundle/models/model.pt: model weights not found",
    }[case]
    assert last.startswith(expected)
    if case == "no_bundle_root":
        assert "--bundle_root" in last
    assert not pwned.exists()


def test_phase_of_a_single_stack_is_refused(good, tmp_path, capsys):
    """P3: ``--frame ed`` on a 3D stack would name any phase ``_ED``; P5: a folder of cines is not one cine's frames."""
    out = tmp_path / "out"
    rc, _, err = _run(capsys, good[0], "-o", out, "--frame", "ed")
    assert rc == 2 and _error_lines(err) == [
        f"error: {good[0]}: one frame only: --frame ed finds the ED frame of a cine, and a single frame has no "
        "cardiac cycle (omit --frame)"
    ]
    data = np.asarray(nib.load(good[0]).dataobj, np.float32)
    for name in ("c4_cine", "c8_cine"):
        _variant(good[0], tmp_path / "cines" / f"{name}.nii.gz", np.stack([data, data[::-1]], axis=-1))
    before = checksums(tmp_path / "cines")
    rc, _, err = _run(capsys, tmp_path / "cines", "-o", out, "--frame", "ed")
    assert rc == 2 and "a folder of 2 4D file(s) (c4_cine.nii.gz, c8_cine.nii.gz)" in _error_lines(err)[0]
    assert _written(out) == [] and checksums(tmp_path / "cines") == before


def test_misspelt_option_and_file_named_output_are_refused_before_any_computation(good, tmp_path, capsys):
    """P6 (``--overwrit``), P12 (``-o new.nii.gz`` would become a folder), P15 (``--roi_size 96`` is a cube)."""
    out = tmp_path / "out"
    rc, _, err = _run(capsys, good[0], "-o", out, "--overwrit", "True")
    assert rc == 2 and _error_lines(err) == [
        "error: --overwrit: not an option of python -m custom_networks.predict (did you mean --overwrite?)"
    ]
    assert not out.exists()
    rc, _, err = _run(capsys, good[0], "-o", tmp_path / "new.nii.gz")
    assert rc == 2 and _error_lines(err) == [
        f"error: {tmp_path / 'new.nii.gz'}: -o takes an output folder, not a file name (the outputs are "
        "<name>_seg.nii.gz ...)"
    ]
    assert not (tmp_path / "new.nii.gz").exists()
    rc, _, err = _run(capsys, good[0], "-o", out, "--roi_size", "abc")
    assert rc == 2 and "--roi_size 'abc': one or three whole numbers of voxels" in _error_lines(err)[0]
    assert not out.exists()
    assert _run(capsys, good[0], "-o", out, "--roi_size", "96")[0] == 0
    assert _written(out) == ["lr_image_seg.nii.gz", "lr_image_sr.nii.gz"]


def test_input_folder_as_output_folder_is_rerun_without_reading_its_outputs(good, tmp_path, capsys):
    """P10: with ``--overwrite`` the outputs written beside the inputs are not taken for inputs."""
    folder = tmp_path / "D"
    folder.mkdir()
    shutil.copy(good[0], folder / "a_good.nii.gz")
    assert _run(capsys, folder, "-o", folder)[0] == 0
    first = checksums(folder)
    assert sorted(first) == ["a_good.nii.gz", "a_good_seg.nii.gz", "a_good_sr.nii.gz"]
    rc, _, err = _run(capsys, folder, "-o", folder, "--overwrite", "True")
    assert rc == 0 and _error_lines(err) == []
    again = checksums(folder)
    assert again == first  # the same outputs again, and no a_good_sr_sr


def test_dicom_folder_with_two_series_takes_series_option(good, tmp_path, capsys):
    """P7 / C16: the error tells to choose with --series, and predict has that option."""
    from conftest import write_dicom_cine, write_dicom_slice

    data = np.asarray(nib.load(good[0]).dataobj, np.float32)
    data = np.rint(1000 * (data - data.min()) / (data.max() - data.min()))
    folder = tmp_path / "dcm"
    write_dicom_cine(folder, data, np.diag([-1.25, -1.25, 10.0, 1.0]))
    tags = {"0020|000e": "1.2.3.4.5", "0020|0011": "2", "0018|1060": "0", "0020|0013": "99"}
    write_dicom_slice(folder / "localiser", data[:, :, 0].T, (0.0, 0.0, 0.0), np.eye(3), (1.25, 1.25, 10.0), tags)
    out = tmp_path / "out"
    rc, _, err = _run(capsys, folder, "-o", out)
    assert rc == 2 and "2 series in one folder" in err and "choose one with --series" in err
    rc, _, err = _run(capsys, folder, "-o", out, "--series", "1.2.826.0.1.3680043.2.1125.7")
    assert rc == 0, err
    assert _written(out) == ["dcm_seg.nii.gz", "dcm_sr.nii.gz"]
    rc, _, err = _run(capsys, folder, "-o", tmp_path / "out2", "--series", "2")  # by number: the one-slice series
    assert rc == 2 and "a 2D image" in _error_lines(err)[0]


def test_full_disk_gives_one_line_and_no_partial_output(good, tmp_path, capsys, full_disk):
    """P19: the first output that cannot be written is named; nothing half-written is left."""
    out = tmp_path / "out"
    out.mkdir()
    full_disk()
    rc, _, err = _run(capsys, good[0], "-o", out)
    assert rc == 2 and _error_lines(err) == [f"error: {out / 'lr_image_seg.nii.gz'}: no space left on the device"]
    assert "Traceback" not in err and _written(out) == []
