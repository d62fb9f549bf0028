"""Streaming 4D output (``NiftiFrameWriter``, ``SaveCineFramed``): same header as a whole-array write, frames in order,
nothing under the final name until the last frame, nothing left behind by an interrupted run."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import NiftiFrameWriter, save_nifti
from custom_networks.transforms import SaveCineFramed

AFFINE = np.array([[0.0, -1.25, 0, 40.0], [1.25, 0, 0, -12.0], [0, 0, 2.0, 7.5], [0, 0, 0, 1]])


@pytest.mark.parametrize("label", [False, True])
def test_streamed_file_equals_whole_array_write(tmp_path, label):
    data = np.random.default_rng(0).uniform(0, 3, size=(6, 5, 4, 3)).astype(np.float32)
    data = np.rint(data) if label else data
    writer = NiftiFrameWriter(tmp_path / "s.nii.gz", (6, 5, 4), 3, AFFINE, label=label, time_step=35.0)
    for t in range(3):
        assert not (tmp_path / "s.nii.gz").exists()  # nothing under the final name before the end
        writer.write(data[..., t])
    writer.close()
    save_nifti(data, AFFINE, tmp_path / "w.nii.gz", label=label, time_step=35.0, time_unit="msec")
    streamed, whole = nib.load(tmp_path / "s.nii.gz"), nib.load(tmp_path / "w.nii.gz")
    np.testing.assert_array_equal(streamed.get_fdata(), whole.get_fdata())
    assert streamed.header.binaryblock == whole.header.binaryblock  # every header field, intent and pixdim[4] too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.nii.gz", "w.nii.gz"]


def test_itk_reads_the_streamed_file(tmp_path):
    import itk

    writer = NiftiFrameWriter(tmp_path / "s.nii.gz", (6, 5, 4), 2, AFFINE)
    writer.write(np.zeros((6, 5, 4)))
    writer.write(np.ones((6, 5, 4)))
    writer.close()
    img = itk.imread(str(tmp_path / "s.nii.gz"))
    assert tuple(itk.size(img)) == (6, 5, 4, 2)
    assert float(itk.array_view_from_image(img)[1].mean()) == 1.0  # ITK's first array axis is time


def test_incomplete_or_aborted_writes_leave_nothing(tmp_path):
    writer = NiftiFrameWriter(tmp_path / "s.nii.gz", (6, 5, 4), 3, AFFINE)
    writer.write(np.zeros((6, 5, 4)))
    with pytest.raises(ValueError, match="1 of 3 frames"):
        writer.close()
    writer = NiftiFrameWriter(tmp_path / "s.nii.gz", (6, 5, 4), 3, AFFINE)
    with pytest.raises(ValueError, match="shape"):
        writer.write(np.zeros((6, 5, 3)))
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_refused_up_front(tmp_path):
    (tmp_path / "s.nii.gz").write_text("mine")
    with pytest.raises(InputError, match="exists"):
        NiftiFrameWriter(tmp_path / "s.nii.gz", (6, 5, 4), 2, AFFINE)
    assert (tmp_path / "s.nii.gz").read_text() == "mine"


def _item(t, frames=3, value=None, interval=40.0):
    seg = MetaTensor(torch.full((1, 6, 5, 4), float(t % 4)), affine=torch.as_tensor(AFFINE))
    sr = MetaTensor(torch.full((1, 6, 5, 4), float(t) if value is None else value), affine=torch.as_tensor(AFFINE))
    return {"pred": seg, "sr": sr, "case": "c", "frame_index": t, "num_frames": frames, "frame_interval_ms": interval}


def test_save_cine_assembles_frames_in_order(tmp_path):
    save = SaveCineFramed(["pred", "sr"], str(tmp_path), ["seg", "sr"], progress=False)
    for t in range(3):
        save(_item(t))
    assert save.close() == [tmp_path / "c_seg.nii.gz", tmp_path / "c_sr.nii.gz"]
    seg, sr = nib.load(tmp_path / "c_seg.nii.gz"), nib.load(tmp_path / "c_sr.nii.gz")
    assert seg.shape == (6, 5, 4, 3) and seg.get_data_dtype() == np.uint8 and seg.header["intent_code"] == 1002
    np.testing.assert_allclose(sr.affine, AFFINE, atol=1e-5)
    assert sr.header.get_zooms()[3] == pytest.approx(40.0) and sr.header.get_xyzt_units()[1] == "msec"
    assert [float(sr.dataobj[0, 0, 0, t]) for t in range(3)] == [0.0, 1.0, 2.0]  # frame order kept


def test_save_cine_refuses_out_of_order_frames_and_reports_an_incomplete_cine(tmp_path):
    save = SaveCineFramed(["pred", "sr"], str(tmp_path), ["seg", "sr"], progress=False)
    with pytest.raises(ValueError, match="before frame 0"):
        save(_item(1))
    save(_item(0))
    with pytest.raises(ValueError, match="in order"):
        save(_item(2))
    with pytest.raises(InputError, match="before the last frame"):
        save.close()
    assert list(tmp_path.iterdir()) == []


def test_unknown_frame_interval_is_written_as_unknown(tmp_path):
    save = SaveCineFramed(["sr"], str(tmp_path), ["sr"], progress=False)
    save(_item(0, frames=2, interval=float("nan")))
    save(_item(1, frames=2, interval=float("nan")))
    img = nib.load(tmp_path / "c_sr.nii.gz")
    assert img.shape == (6, 5, 4, 2) and img.header.get_xyzt_units() == ("mm", "unknown")
