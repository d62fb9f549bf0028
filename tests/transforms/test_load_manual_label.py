"""LoadManualLabeld: a manual label map on its own grid, with what it annotates, and refusal of useless ones."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from custom_networks.core.errors import InputError
from custom_networks.transforms import LoadManualLabeld

AFFINE = np.diag([1.5, 1.5, 8.0, 1.0])
AFFINE[:3, 3] = [-30.0, 12.0, 40.0]


def _label(tmp_path, array, affine=AFFINE, name="case_gt.nii.gz"):
    path = tmp_path / name
    nib.save(nib.Nifti1Image(array.astype(np.uint8), affine), path)
    return path


def _stack_label():
    label = np.zeros((20, 16, 6), np.uint8)
    label[5:10, 5:10, 1:5] = 1
    label[11:14, 5:10, 1:5] = 3
    return label


def test_fully_labelled_without_sidecar(tmp_path):
    out = LoadManualLabeld("label")({"label": _label(tmp_path, _stack_label())})
    assert tuple(out["label"].shape) == (20, 16, 6)
    np.testing.assert_allclose(np.asarray(out["label"].affine), AFFINE)
    assert out["labelled_slices"].tolist() == [True] * 6
    assert out["labelled_classes"].tolist() == [True, True, True, True]
    assert out["slice_axis"] == 2
    assert int((out["label"] == 3).sum()) == 3 * 5 * 4


def test_sidecar_gives_slices_and_classes(tmp_path):
    sidecar = tmp_path / "case_labelled_slices.json"
    sidecar.write_text(json.dumps({"labelled_slices_by_label": {"1": [1, 2, 3], "2": [2, 3, 4]}}))
    out = LoadManualLabeld("label")({"label": _label(tmp_path, _stack_label()), "labelled_slices": sidecar})
    assert out["labelled_slices"].tolist() == [False, False, True, True, False, False]  # both classes drawn there
    assert out["labelled_classes"].tolist() == [True, True, True, False]  # RV never drawn


def test_slice_axis_from_geometry(tmp_path):
    affine = np.diag([8.0, 1.5, 1.5, 1.0])
    label = np.zeros((6, 20, 16), np.uint8)
    label[2:4, 5:10, 5:10] = 1
    out = LoadManualLabeld("label")({"label": _label(tmp_path, label, affine)})
    assert out["slice_axis"] == 0 and out["labelled_slices"].shape == (6,)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((20, 16, 6)), "empty on its labelled slices"),
        (np.full((20, 16, 6), 5), r"label values \[5\] outside"),
    ],
)
def test_useless_label_maps_are_refused_naming_the_file(tmp_path, array, message):
    path = _label(tmp_path, array)
    with pytest.raises(InputError, match=message) as err:
        LoadManualLabeld("label")({"label": path})
    assert str(path) in str(err.value)


def test_labels_only_off_the_labelled_slices_are_refused(tmp_path):
    label = np.zeros((20, 16, 6), np.uint8)
    label[5:10, 5:10, 0] = 1
    sidecar = tmp_path / "s.json"
    sidecar.write_text(json.dumps({"labelled_slices_by_label": {"1": [3, 4]}}))
    with pytest.raises(InputError, match="empty on its labelled slices"):
        LoadManualLabeld("label")({"label": _label(tmp_path, label), "labelled_slices": sidecar})


def test_sidecar_outside_the_stack_is_refused(tmp_path):
    sidecar = tmp_path / "s.json"
    sidecar.write_text(json.dumps({"labelled_slices_by_label": {"1": [9]}}))
    with pytest.raises(InputError, match="slice 9 outside the stack's 6 slices"):
        LoadManualLabeld("label")({"label": _label(tmp_path, _stack_label()), "labelled_slices": sidecar})


def test_a_frame_of_a_4d_label_map_is_taken(tmp_path):
    """M&Ms labels ED and ES in one 4D file; its items name the frame (as they do for the image)."""
    cine = np.zeros((8, 8, 3, 5), np.uint8)
    cine[2:5, 2:5, :, 1] = 1  # labelled at frame 1 only
    path = _label(tmp_path, cine, name="mnms_sa_gt.nii.gz")
    label = LoadManualLabeld("label")({"label": str(path), "frame": 1})["label"]
    assert tuple(label.shape) == (8, 8, 3) and int((label == 1).sum()) == 27
    with pytest.raises(InputError, match="frame 7 out of range"):
        LoadManualLabeld("label")({"label": str(path), "frame": 7})
