"""A label map drawn on another grid (e.g. the HR output) is brought onto its stack's grid in world coordinates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import hr_grid_for, resample_to_grid
from custom_networks.transforms import LabelToImageGridd


def _stack():
    affine = np.diag([1.5, 1.5, 10.0, 1.0])
    affine[:3, 3] = [-30.0, 20.0, 5.0]
    label = np.zeros((40, 40, 6), np.uint8)
    label[10:30, 12:28, 1:5] = 1
    label[14:20, 16:22, 2:4] = 2
    image = MetaTensor(torch.rand(1, 40, 40, 6), affine=torch.as_tensor(affine))
    return image, label, affine


def test_a_label_on_the_hr_grid_comes_back_onto_the_stack():
    image, label, affine = _stack()
    hr_shape, hr_affine, _ = hr_grid_for(label.shape, affine)
    on_hr = resample_to_grid(label, affine, hr_shape, hr_affine, order=0)
    item = {
        "image": image,
        "label": MetaTensor(torch.as_tensor(on_hr)[None], affine=torch.as_tensor(hr_affine)),
        "labelled_slices": torch.ones(hr_shape[2], dtype=torch.bool),
        "slice_axis": 2,
    }
    out = LabelToImageGridd("label")(item)
    back = np.asarray(out["label"][0])
    assert back.shape == label.shape
    np.testing.assert_allclose(np.asarray(out["label"].affine), affine)
    assert (back == label).mean() > 0.98
    assert out["labelled_slices"].shape == (6,) and out["slice_axis"] == 2


def test_same_grid_passes_untouched_and_partial_labels_elsewhere_are_refused():
    image, label, affine = _stack()
    same = MetaTensor(torch.as_tensor(label)[None], affine=torch.as_tensor(affine))
    assert LabelToImageGridd("label")({"image": image, "label": same})["label"] is same
    moved = MetaTensor(torch.as_tensor(label)[None], affine=torch.as_tensor(affine @ np.diag([1, 1, 0.5, 1])))
    partial = torch.tensor([False, True, True, True, True, False])
    with pytest.raises(InputError, match="partial labels must lie on the image's own grid"):
        LabelToImageGridd("label")({"image": image, "label": moved, "labelled_slices": partial})
