"""Random labelled slices: only labelled slices are drawn, along the stack's own slice axis."""

from __future__ import annotations

import numpy as np
import torch

from custom_networks.transforms import RandLabelledSliced


def test_only_labelled_slices_are_drawn_along_the_slice_axis():
    image = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(1, 2, 5, 3)  # slice axis 1 (array axis 1)
    label = torch.zeros(1, 2, 5, 3)
    labelled = np.array([False, True, False, True, False])
    item = {
        "image": image,
        "label": label,
        "labelled_slices": labelled,
        "slice_axis": 1,
        "labelled_classes": torch.ones(4, dtype=torch.bool),
    }
    t = RandLabelledSliced(["image", "label"])
    t.set_random_state(0)
    drawn = set()
    for _ in range(40):
        out = t(item)
        k = out["slice_index"]
        drawn.add(k)
        assert out["image"].shape == (1, 2, 3)
        torch.testing.assert_close(out["image"], image[:, :, k, :])
        assert "labelled_slices" not in out and out["labelled_classes"].all()
    assert drawn == {1, 3}
