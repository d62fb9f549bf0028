"""Multi-frame generation (``custom_networks.data.cine``): a smooth, periodic cardiac cycle with known volumes."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from custom_networks.core.errors import InputError
from custom_networks.data import contraction_weight, generate_cine, synthesize_cine
from custom_networks.data.cli import main as data_main
from custom_networks.metrics import label_volumes_ml


def test_contraction_weight_is_a_smooth_periodic_cycle():
    t = np.arange(30)
    w = contraction_weight(t, 30, systole_fraction=0.3)
    assert w[0] == pytest.approx(0.0) and w[9] == pytest.approx(1.0)  # ED at frame 0, ES at 0.3 T
    assert np.all(np.diff(w[:10]) > 0) and np.all(np.diff(w[9:]) < 0)  # one minimum volume, monotonic sides
    assert contraction_weight(np.array([30.0]), 30, 0.3)[0] == pytest.approx(0.0)  # periodic
    assert np.abs(np.diff(w)).max() < 0.3  # smooth: no jump between frames


@pytest.fixture(scope="module")
def cine():
    return generate_cine(5, num_frames=8, hr_shape=(96, 96, 48))


def test_cine_volumes_follow_the_cycle(cine):
    lv = np.asarray(cine.volumes_ml["LV"])
    assert cine.lr_cine.shape[3] == 8 and cine.hr_labels.shape == (96, 96, 48, 8)
    assert cine.ed_frame == 0 and cine.es_frame in (2, 3)  # ES at 0.35 x 8 = 2.8
    ef = (lv.max() - lv.min()) / lv.max()
    assert 0.3 < ef < 0.8
    myo = np.asarray(cine.volumes_ml["MYO"])
    assert myo.std() / myo.mean() < 0.06  # incompressible myocardium: same volume through the cycle
    # the truth is the voxel count of the HR labels
    spacing = np.sqrt((cine.hr_affine[:3, :3] ** 2).sum(0))
    assert label_volumes_ml(cine.hr_labels[..., 3], spacing)[1] == pytest.approx(lv[3], abs=1e-3)


def test_cine_is_deterministic_and_one_subject(cine):
    again = generate_cine(5, num_frames=8, hr_shape=(96, 96, 48))
    np.testing.assert_array_equal(again.lr_cine, cine.lr_cine)
    np.testing.assert_array_equal(again.lr_affine, cine.lr_affine)
    other = generate_cine(6, num_frames=8, hr_shape=(96, 96, 48))
    assert not np.allclose(other.lr_cine, cine.lr_cine)
    # frames of one cine share the anatomy outside the heart: far from the heart the frames differ only by noise
    diff = np.abs(cine.lr_cine[..., 0] - cine.lr_cine[..., 4])
    assert np.median(diff) < 0.05 * np.percentile(cine.lr_cine[..., 0], 99)


def test_synthesize_cine_writes_4d_with_time_step(tmp_path):
    cine_path, label_path, truth_path = synthesize_cine(
        tmp_path, name="s", frames=3, seed=1, hr_shape=(96, 96, 48), progress=False
    )
    img = nib.load(cine_path)
    assert img.shape[3] == 3 and img.header.get_zooms()[3] == pytest.approx(40.0)
    assert img.header.get_xyzt_units() == ("mm", "msec")
    labels = nib.load(label_path)
    assert labels.shape == (96, 96, 48, 3) and labels.get_data_dtype() == np.uint8
    truth = json.loads(truth_path.read_text())
    assert truth["ED_frame"] == 0 and len(truth["volumes_ml"]["LV"]) == 3
    with pytest.raises(InputError, match="exists"):
        synthesize_cine(tmp_path, name="s", frames=3, seed=1, hr_shape=(96, 96, 48), progress=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_frames": 1}, "--frames"),
        ({"num_frames": 3, "systole_fraction": 0.9}, "--systole_fraction"),
        ({"num_frames": 3, "frame_interval_ms": -1}, "--frame_interval_ms"),
        ({"num_frames": 3, "hr_shape": (48, 48, 24)}, "too small"),
    ],
)
def test_bad_cine_options_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        generate_cine(0, **kwargs)


def test_cine_command_line(tmp_path, capsys):
    assert data_main(["cine", str(tmp_path), "--frames", "2", "--hr_shape", "[96,96,48]", "--progress", "False"]) == 0
    assert (tmp_path / "sub-0000_cine.nii.gz").is_file()
    assert data_main(["cine", str(tmp_path), "--frames", "0"]) == 2
    assert "error: --frames" in capsys.readouterr().err
