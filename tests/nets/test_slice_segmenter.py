"""The slice segmenter: a 2D U-Net from MONAI with the stage-1 defaults."""

from __future__ import annotations

import torch

from custom_networks.nets import SliceSegmenter


def test_defaults_shape_and_divisor():
    net = SliceSegmenter()
    assert net.divisor == 16
    assert 0.7e6 < sum(p.numel() for p in net.parameters()) < 1.0e6
    out = net(torch.rand(2, 1, 64, 48))
    assert out.shape == (2, 4, 64, 48)
    small = SliceSegmenter(num_classes=3, channels=(4, 8, 16), num_res_units=0)
    assert small.divisor == 4 and small(torch.rand(1, 1, 8, 12)).shape == (1, 3, 8, 12)
