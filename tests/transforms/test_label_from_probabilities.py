"""Class scores to a label map: what argmax gives, metadata kept."""

from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor

from custom_networks.transforms import LabelFromProbabilitiesd


def test_same_labels_as_argmax_with_the_metadata():
    scores = torch.rand(4, 20, 18, 6, generator=torch.Generator().manual_seed(0))
    scores[:, 0, 0, 0] = 0.5  # a tie: the first class wins, as with argmax
    affine = np.diag([1.25, 1.25, 2.0, 1.0])
    out = LabelFromProbabilitiesd("pred")({"pred": MetaTensor(scores, affine=torch.as_tensor(affine))})["pred"]
    assert out.shape == (1, 20, 18, 6) and isinstance(out, MetaTensor)
    torch.testing.assert_close(out.as_tensor(), torch.argmax(scores, 0, keepdim=True).float())
    assert int(out[0, 0, 0, 0]) == 0
    np.testing.assert_allclose(np.asarray(out.affine), affine)
