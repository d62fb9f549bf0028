"""DICOM cine series reading: geometry from the headers (oblique, shuffled file names), slice order along the normal,
phase grouping by trigger time, refusals that name the folder, the converter command, and Sunnybrook when present."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from conftest import checksums, real_data_path, write_dicom_slice

from custom_networks.core.dicom import LPS_TO_RAS, is_dicom_folder, read_dicom_series
from custom_networks.core.errors import InputError
from custom_networks.core.geometry import rotation_matrix
from custom_networks.dicom2nifti import main as dicom_main
from custom_networks.transforms import LoadStackd

ROWS, COLS = 6, 5
PIXEL = (1.2, 1.5)  # (row spacing, column spacing) as in PixelSpacing
SPACING = 8.0
FRAME_MS = 40.0


def _write_slice(path: Path, pixels: np.ndarray, origin, direction: np.ndarray, tags: dict[str, str]) -> None:
    write_dicom_slice(path, pixels, origin, direction, (PIXEL[1], PIXEL[0], SPACING), tags)


def _value(k: int, t: int, rows: int = ROWS, cols: int = COLS) -> np.ndarray:
    """Pixels that encode the slice and phase: 100 k + 10 t + column index / 10 style ramp (integers)."""
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return 1000 * k + 100 * t + 10 * r + c


def write_series(
    folder: Path,
    slices: int = 4,
    frames: int = 3,
    angles=(20.0, -35.0, 50.0),
    origin=(-40.0, 25.0, 110.0),
    series_uid: str = "1.2.826.0.1.3680043.2.1125.1",
    skip: tuple[int, ...] = (),
    offsets: dict[int, np.ndarray] | None = None,
    direction: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic oblique cine series with shuffled file names; returns the expected RAS affine and (X, Y, Z, T) data.

    Slices are written in reverse order along the normal so that the file order disagrees with the geometry.
    """
    folder.mkdir(parents=True, exist_ok=True)
    direction = rotation_matrix(angles) if direction is None else direction
    row, col, normal = direction[:, 0], direction[:, 1], direction[:, 2]
    names = np.random.default_rng(seed).permutation(slices * frames * 3)[: slices * frames]
    expected = np.zeros((COLS, ROWS, slices, frames), np.float32)
    n = 0
    for k in reversed(range(slices)):
        position = np.asarray(origin) + k * SPACING * normal
        if offsets and k in offsets:
            position = position + offsets[k]
        for t in range(frames):
            pixels = _value(k, t)
            expected[:, :, k, t] = pixels.T
            if k in skip:
                continue
            tags = {"0020|000e": series_uid, "0018|1060": f"{t * FRAME_MS + 3.0 * k:g}", "0020|0013": str(n + 1)}
            _write_slice(folder / f"IM{names[n]:04d}", pixels, position, direction, tags)
            n += 1
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2] = row * PIXEL[1], col * PIXEL[0], normal * SPACING
    lps[:3, 3] = origin
    return LPS_TO_RAS @ lps, expected


@pytest.fixture(scope="module")
def series_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dicom") / "cine"
    affine, expected = write_series(folder)
    return folder, affine, expected


def test_reads_oblique_cine_with_shuffled_names(series_dir):
    folder, affine, expected = series_dir
    series = read_dicom_series(folder, progress=False)
    assert series.array.shape == (COLS, ROWS, 4, 3)
    np.testing.assert_allclose(series.affine, affine, atol=1e-3)
    np.testing.assert_array_equal(series.array, expected)  # slice order along the normal, phases by trigger time
    assert series.frame_interval_ms == pytest.approx(FRAME_MS)
    np.testing.assert_allclose(series.spacing, [PIXEL[1], PIXEL[0], SPACING], atol=1e-4)
    # world position of voxel (i, j, k) = the DICOM position of slice k moved along row / column, in RAS
    ijk = np.array([2.0, 3.0, 1.0, 1.0])
    lps = np.asarray((-40.0, 25.0, 110.0)) + rotation_matrix((20.0, -35.0, 50.0)) @ (ijk[:3] * [1.5, 1.2, 8.0])
    np.testing.assert_allclose((series.affine @ ijk)[:3], LPS_TO_RAS[:3, :3] @ lps, atol=1e-3)
    assert series.integer_valued


def test_frame_selection_and_load_stack(series_dir):
    folder, affine, expected = series_dir
    out = LoadStackd("image", frame=2)({"image": str(folder)})["image"]
    assert tuple(out.shape) == (1, COLS, ROWS, 4)
    np.testing.assert_array_equal(out[0].numpy(), expected[..., 2])
    np.testing.assert_allclose(np.asarray(out.affine), affine, atol=1e-3)
    with pytest.raises(InputError, match="4D cine with 3 frames"):
        LoadStackd("image")({"image": str(folder)})
    assert is_dicom_folder(folder) and not is_dicom_folder(folder.parent)


def _expect_error(folder: Path, pattern: str) -> None:
    with pytest.raises(InputError, match=pattern) as info:
        read_dicom_series(folder, progress=False)
    assert str(folder) in str(info.value)


def test_two_series_refused_then_chosen(tmp_path):
    write_series(tmp_path / "mixed", series_uid="1.2.3.1")
    write_series(tmp_path / "mixed", series_uid="1.2.3.2", seed=1, origin=(0.0, 0.0, 0.0))
    _expect_error(tmp_path / "mixed", "2 series in one folder.*--series")
    chosen = read_dicom_series(tmp_path / "mixed", series="1.2.3.2", progress=False)
    assert chosen.array.shape == (COLS, ROWS, 4, 3)


def test_missing_slice_refused(tmp_path):
    write_series(tmp_path / "gap", slices=5, skip=(2,))
    _expect_error(tmp_path / "gap", "non-uniform slice spacing: 16.000 mm.*missing slice")


def test_gantry_tilt_refused(tmp_path):
    direction = rotation_matrix((20.0, -35.0, 50.0))
    write_series(tmp_path / "tilt", offsets={k: k * 1.5 * direction[:, 0] for k in range(4)})
    _expect_error(tmp_path / "tilt", "offset in-plane.*gantry tilt")


def test_localiser_refused(tmp_path):
    write_series(tmp_path / "loc")
    _write_slice(
        tmp_path / "loc" / "localiser",
        _value(0, 0),
        (0.0, 0.0, 0.0),
        np.eye(3),
        {"0020|000e": "1.2.826.0.1.3680043.2.1125.1"},
    )
    _expect_error(tmp_path / "loc", "different orientation.*localiser")


def test_corrupt_and_foreign_files_refused(tmp_path):
    write_series(tmp_path / "bad")
    (tmp_path / "bad" / "notes.bin").write_bytes(b"\x00garbage" * 50)
    _expect_error(tmp_path / "bad", "1 of 13 files are not readable DICOM.*notes.bin")
    (tmp_path / "empty").mkdir()
    _expect_error(tmp_path / "empty", "holds no file")


def test_uneven_phases_refused(tmp_path):
    folder = tmp_path / "phases"
    write_series(folder)
    victim = next(p for p in sorted(folder.iterdir()))
    os.unlink(victim)
    _expect_error(folder, "has 2 phases, other slices 3")


def test_convert_command(series_dir, tmp_path, capsys):
    folder, affine, expected = series_dir
    out = tmp_path / "cine.nii.gz"
    assert dicom_main(["convert", str(folder), str(out)]) == 0
    img = nib.load(out)
    np.testing.assert_array_equal(np.asarray(img.dataobj), expected)
    assert img.get_data_dtype() == np.int16
    np.testing.assert_allclose(img.affine, affine, atol=1e-3)
    assert img.header.get_zooms()[3] == pytest.approx(FRAME_MS)
    assert img.header.get_xyzt_units() == ("mm", "msec")
    assert dicom_main(["convert", str(folder), str(out)]) == 2  # never overwritten silently
    assert "exists (pass --overwrite" in capsys.readouterr().err
    assert dicom_main(["convert", str(tmp_path / "nowhere"), str(tmp_path / "x.nii.gz")]) == 2
    assert not (tmp_path / "x.nii.gz").exists()


@pytest.mark.realdata
@pytest.mark.parametrize("pid", ["SCD0000101", "SCD0000201"])
def test_sunnybrook_dicom_matches_its_nifti(pid):
    """The scanner's DICOM files read back as the README's cine: same voxels, world positions, frame interval and
    the ED / ES frames of the labelled cases."""
    folder = real_data_path("real_labelled", "sunnybrook_dicom", pid)
    nifti = real_data_path("real_labelled", "sunnybrook", f"{pid}_cine.nii.gz")
    series = read_dicom_series(folder, progress=False)
    ref = nib.load(nifti)
    np.testing.assert_array_equal(series.array, np.asarray(ref.dataobj, dtype=np.float32))
    np.testing.assert_allclose(series.affine, ref.affine, atol=1e-3)
    assert series.frame_interval_ms == pytest.approx(float(ref.header.get_zooms()[3]), abs=1e-3)
    np.testing.assert_allclose(series.spacing, [1.3672, 1.3672, 10.0], atol=1e-3)
    for phase in ("ED", "ES"):
        spec = json.loads((nifti.parent / f"{pid}_{phase}_labelled_slices.json").read_text())
        frame = nib.load(nifti.parent / f"{pid}_{phase}_image.nii.gz")
        np.testing.assert_array_equal(series.frame(spec["cine_frame_index"]), np.asarray(frame.dataobj, np.float32))


def _error_lines(capsys) -> list[str]:
    """The ``error:`` lines of the captured stderr (progress bars aside), checking there is no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.replace("\r", "\n").splitlines() if line.startswith("error:")]


def test_convert_of_a_single_dicom_file_asks_for_its_folder(series_dir, tmp_path, capsys):
    folder = series_dir[0]
    one = sorted(folder.iterdir())[0]
    out = tmp_path / "out.nii.gz"
    assert dicom_main(["convert", str(one), str(out)]) == 2
    err = _error_lines(capsys)
    assert err == [f"error: {one}: a single DICOM file; pass the folder holding the whole series"]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unreadable_file_is_reported_as_permission_denied(tmp_path, capsys):
    folder = tmp_path / "locked"
    write_series(folder)
    victim = sorted(folder.iterdir())[6]
    victim.chmod(0)
    try:
        if os.access(victim, os.R_OK):
            pytest.skip("running as root: a chmod 000 file stays readable")
        before = {p.name for p in folder.iterdir()}
        out = tmp_path / "out.nii.gz"
        assert dicom_main(["convert", str(folder), str(out)]) == 2
        err = _error_lines(capsys)
        assert err == [f"error: {victim}: permission denied (the file cannot be read; check its permissions)"]
        assert not out.exists() and {p.name for p in folder.iterdir()} == before
        assert dicom_main(["series", str(folder)]) == 2
        assert _error_lines(capsys) == err
    finally:
        victim.chmod(0o644)


def test_convert_on_a_full_disk_names_the_output_and_leaves_nothing(series_dir, tmp_path, capsys, monkeypatch):
    """The NIfTI writer fails with ENOSPC half-way: one line naming the output, no temporary file left, an existing
    output (with --overwrite) untouched."""
    import errno

    folder = series_dir[0]

    def full_disk(img, filename):
        Path(filename).write_bytes(b"\x00" * 100)  # half-written temporary file
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(nib, "save", full_disk)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "cine.nii.gz"
    assert dicom_main(["convert", str(folder), str(out)]) == 2
    assert _error_lines(capsys) == [f"error: {out}: no space left on the device"]
    assert list(out_dir.iterdir()) == []
    out.write_bytes(b"previous conversion")
    before = checksums(out_dir)
    assert dicom_main(["convert", str(folder), str(out), "--overwrite", "True"]) == 2
    assert _error_lines(capsys) == [f"error: {out}: no space left on the device"]
    assert checksums(out_dir) == before


def test_permission_error_while_reading_is_named_even_as_root(tmp_path, capsys, monkeypatch):
    """As :func:`test_unreadable_file_is_reported_as_permission_denied`, where the test runs as root: the open of one
    file fails with EACCES as it would for another user."""
    import builtins
    import errno

    folder = tmp_path / "locked"
    write_series(folder)
    victim = sorted(folder.iterdir())[6]
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if Path(str(file)) == victim:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    out = tmp_path / "out.nii.gz"
    assert dicom_main(["convert", str(folder), str(out)]) == 2
    assert _error_lines(capsys) == [
        f"error: {victim}: permission denied (the file cannot be read; check its permissions)"
    ]
    assert not out.exists()
