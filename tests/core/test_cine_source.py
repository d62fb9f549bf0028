"""Opening a user's cine (``custom_networks.core.cine_source``): 4D NIfTI, folder of frames, DICOM cine; problems
named."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from conftest import write_dicom_cine, write_dicom_slice

from custom_networks.core.cine_source import open_cine
from custom_networks.core.errors import InputError

AFFINE = np.array([[1.5, 0, 0, -40.0], [0, 1.5, 0, 20.0], [0, 0, 8.0, -30.0], [0, 0, 0, 1]])


def _save(path, data, affine=AFFINE, step=None, unit="msec"):
    img = nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine)
    img.header.set_xyzt_units("mm", unit)
    if step is not None:
        img.header.set_zooms((*img.header.get_zooms()[:3], step))
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)
    return path


def _cine(t=5):
    return np.random.default_rng(0).uniform(0, 100, size=(12, 10, 4, t))


def test_4d_nifti(tmp_path):
    source = open_cine(_save(tmp_path / "sub_sa.nii.gz", _cine(5), step=0.0375, unit="sec"))
    assert (source.name, source.kind, source.num_frames, source.shape) == ("sub_sa", "nifti", 5, (12, 10, 4))
    assert source.frame_interval_ms == pytest.approx(37.5)  # seconds in the header, milliseconds out
    np.testing.assert_allclose(source.affine, AFFINE)
    assert source.frame_item(3) == {"image": str(tmp_path / "sub_sa.nii.gz"), "frame": 3}


def test_3d_file_is_one_frame_said_in_the_log(tmp_path, caplog):
    with caplog.at_level("INFO"):
        source = open_cine(_save(tmp_path / "ed.nii.gz", _cine(1)[..., 0]))
    assert source.num_frames == 1 and source.frame_interval_ms is None
    assert source.frame_item(0) == {"image": str(tmp_path / "ed.nii.gz")}  # no frame index for a 3D file
    assert "a 3D image; read as a cine of one frame" in caplog.text


def test_missing_frame_interval_is_unknown_not_one_second(tmp_path):
    assert open_cine(_save(tmp_path / "c.nii.gz", _cine(3), step=1.0, unit="sec")).frame_interval_ms is None
    assert open_cine(_save(tmp_path / "d.nii.gz", _cine(3), step=0.0, unit="msec")).frame_interval_ms is None


def test_folder_of_frames_in_numeric_order(tmp_path):
    cine = _cine(11)
    for t in range(11):  # frame_10 must come after frame_9, not after frame_1
        _save(tmp_path / "frames" / f"frame_{t}.nii.gz", cine[..., t])
    source = open_cine(tmp_path / "frames")
    assert source.kind == "frames" and source.num_frames == 11 and source.name == "frames"
    assert [p.name for p in source.frame_files][-3:] == ["frame_8.nii.gz", "frame_9.nii.gz", "frame_10.nii.gz"]
    assert source.frame_item(10) == {"image": str(tmp_path / "frames" / "frame_10.nii.gz")}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", r"missing frame\(s\) 2"),
        ("unnumbered", "must carry their frame number"),
        ("shape", "frame shape"),
        ("affine", "geometry"),
        ("4d", r"a folder of 4 4D file\(s\) \(frame_00.nii.gz, frame_01.nii.gz, frame_02.nii.gz, ...\)"),
    ],
)
def test_bad_frame_folders(tmp_path, case, message):
    cine = _cine(4)
    folder = tmp_path / "frames"
    for t in range(4):
        if case == "missing" and t == 2:
            continue
        data, affine = cine[..., t], AFFINE
        if case == "shape" and t == 3:
            data = data[:10]
        if case == "affine" and t == 3:
            affine = AFFINE.copy()
            affine[2, 3] += 5.0  # one frame shifted by 5 mm
        if case == "4d":
            data = cine
        name = "frame.nii.gz" if case == "unnumbered" and t == 1 else f"frame_{t:02d}.nii.gz"
        _save(folder / name, data, affine)
    with pytest.raises(InputError, match=message) as err:
        open_cine(folder)
    assert str(folder) in str(err.value)


def test_folder_of_cines_is_not_read_as_frames(tmp_path):
    """P5: the digits of subject names (c4_cine, c8_cine) are not frame numbers when the files are cines."""
    for name in ("c4_cine", "c8_cine"):
        _save(tmp_path / "cines" / f"{name}.nii.gz", _cine(3), AFFINE)
    with pytest.raises(InputError) as err:
        open_cine(tmp_path / "cines")
    assert str(err.value) == (
        f"{tmp_path / 'cines'}: a folder of 2 4D file(s) (c4_cine.nii.gz, c8_cine.nii.gz), not of per-frame 3D files: "
        "give one cine file (python -m custom_networks.cohort runs a folder of cines)"
    )


def test_dicom_cine_folder(tmp_path):
    affine = np.array([[-1.4, 0, 0, 60.0], [0, -1.4, 0, 50.0], [0, 0, 10.0, -20.0], [0, 0, 0, 1]])
    cine = np.rint(_cine(3) * 10)
    write_dicom_cine(tmp_path / "dcm", cine, affine, frame_ms=35.0)
    source = open_cine(tmp_path / "dcm")
    assert (source.kind, source.num_frames, source.shape, source.name) == ("dicom", 3, (12, 10, 4), "dcm")
    assert source.frame_interval_ms == pytest.approx(35.0)
    np.testing.assert_allclose(source.affine, affine, atol=1e-4)


def test_dicom_folder_with_two_series_is_refused(tmp_path):
    affine = np.array([[-1.4, 0, 0, 60.0], [0, -1.4, 0, 50.0], [0, 0, 10.0, -20.0], [0, 0, 0, 1]])
    write_dicom_cine(tmp_path / "dcm", np.rint(_cine(2) * 10), affine)
    origin, direction = np.array([-60.0, -50.0, 0.0]), np.eye(3)  # one more slice, of another series
    tags = {"0020|000e": "1.2.3.4.5", "0018|1060": "0", "0020|0013": "99"}
    write_dicom_slice(tmp_path / "dcm" / "other", np.ones((10, 12)), origin, direction, (1.4, 1.4, 10.0), tags)
    with pytest.raises(InputError, match="2 series in one folder"):
        open_cine(tmp_path / "dcm")


def test_nothing_to_open(tmp_path):
    with pytest.raises(InputError, match="not found"):
        open_cine(tmp_path / "nope.nii.gz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no DICOM series and no .nii"):
        open_cine(tmp_path / "empty")
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 3, 0), np.float32), np.eye(4)), tmp_path / "t0.nii.gz")
    with pytest.raises(InputError, match="T = 0 frames"):
        open_cine(tmp_path / "t0.nii.gz")
    _save(tmp_path / "five.nii.gz", np.zeros((4, 4, 3, 2, 2)) + 1)
    with pytest.raises(InputError, match="3D or 4D"):
        open_cine(tmp_path / "five.nii.gz")
