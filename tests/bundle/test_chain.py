"""AdaptThenSegment: the V-AMA bundle's validation / evaluation network (translation, then the frozen segmenter)."""

from __future__ import annotations

import pytest
import torch
from monai.inferers import SlidingWindowInferer
from torch import nn

from custom_networks.nets import AdaptThenSegment


class _Shift(nn.Module):
    def forward(self, x):
        return x + 0.25


@pytest.mark.parametrize("adapt", [False, True])
def test_sliding_window_leaves_the_input_intact_and_segments_the_translation(adapt):
    torch.manual_seed(0)
    segmenter = nn.Conv3d(1, 4, 1)
    network = AdaptThenSegment(_Shift(), segmenter, adapt=adapt)
    x = torch.rand(1, 1, 32, 32, 16)
    original = x.clone()
    with torch.no_grad():
        translated, logits = SlidingWindowInferer((32, 32, 16), 1, 0.25, mode="gaussian")(x, network)
        expected = original + 0.25 if adapt else original
        # the input is not scaled in place by the window blending (it was when the identity returned it as is)
        assert torch.equal(x, original)
        torch.testing.assert_close(translated, expected)
        torch.testing.assert_close(logits, segmenter(expected))
