"""ToLabelGridd: an HR prediction scored on the manual label's own grid, in world coordinates, where annotated."""

from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor

from custom_networks.core.geometry import hr_grid_for, resample_to_grid
from custom_networks.transforms import ToLabelGridd


def _stack():
    affine = np.array([[0.0, -1.5, 0.0, 40.0], [1.5, 0.0, 0.0, -20.0], [0.0, 0.0, 8.0, 10.0], [0, 0, 0, 1.0]])
    label = np.zeros((24, 20, 8), np.int64)
    label[6:14, 5:12, 1:7] = 1
    label[15:20, 5:12, 2:6] = 3
    return label, affine


def _hr_prediction(label, affine):
    """The stack's label map on its HR grid (nearest), as an HR prediction would be, with a different orientation."""
    shape, hr_affine, _ = hr_grid_for(label.shape, affine)
    hr = resample_to_grid(label.astype(np.float32), affine, shape, hr_affine, order=0, mode="constant")
    return MetaTensor(torch.as_tensor(hr[None]), affine=torch.as_tensor(hr_affine))


def _item(label, affine, slices=None, classes=None):
    return {
        "label": MetaTensor(torch.as_tensor(label), affine=torch.as_tensor(affine)),
        "labelled_slices": torch.as_tensor(np.ones(label.shape[2], bool) if slices is None else slices),
        "labelled_classes": torch.as_tensor(np.ones(4, bool) if classes is None else classes),
        "slice_axis": 2,
    }


def test_prediction_comes_back_onto_the_label_grid_in_world_coordinates():
    label, affine = _stack()
    item = _item(label, affine)
    item["pred"] = _hr_prediction(label, affine)
    out = ToLabelGridd("pred")(item)
    assert tuple(out["pred"].shape) == (1, *label.shape) and tuple(out["label"].shape) == (1, *label.shape)
    np.testing.assert_allclose(np.asarray(out["pred"].affine), affine)
    agree = (np.asarray(out["pred"][0]) == label).mean()
    assert agree > 0.98, agree


def test_a_shifted_prediction_is_seen_as_shifted():
    label, affine = _stack()
    item = _item(label, affine)
    pred = _hr_prediction(label, affine)
    shifted = np.asarray(pred.affine).copy()
    shifted[:3, 3] += [12.0, 0.0, 0.0]  # 12 mm in world x
    item["pred"] = MetaTensor(pred.as_tensor(), affine=torch.as_tensor(shifted))
    out = ToLabelGridd("pred")(item)
    assert (np.asarray(out["pred"][0]) == label).mean() < 0.95


def test_unlabelled_slices_and_classes_are_cleared_in_both():
    label, affine = _stack()
    slices = np.zeros(8, bool)
    slices[3:5] = True
    classes = np.array([True, True, False, False])  # LV only was drawn
    item = _item(label, affine, slices, classes)
    garbage = np.full(label.shape, 3, np.int64)  # RV everywhere: unlabelled class, must not count
    garbage[6:14, 5:12, :] = 1
    shape, hr_affine, _ = hr_grid_for(label.shape, affine)
    hr = resample_to_grid(garbage.astype(np.float32), affine, shape, hr_affine, order=0, mode="constant")
    item["pred"] = MetaTensor(torch.as_tensor(hr[None]), affine=torch.as_tensor(hr_affine))
    out = ToLabelGridd("pred")(item)
    pred, ref = np.asarray(out["pred"][0]), np.asarray(out["label"][0])
    assert set(np.unique(pred)) <= {0, 1} and set(np.unique(ref)) <= {0, 1}
    assert not pred[..., :3].any() and not ref[..., 5:].any()
    assert (pred[..., 3:5] == ref[..., 3:5]).mean() > 0.98
