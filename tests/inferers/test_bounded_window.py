"""Bounded sliding-window inference: the window fits the voxel budget and the result equals one-window inference."""

from __future__ import annotations

import math

import pytest
import torch

from custom_networks.inferers import BoundedWindowInferer, bounded_roi_size


def test_small_input_runs_in_one_window():
    assert bounded_roi_size((128, 128, 64), (-1, -1, -1), 8_000_000) == (128, 128, 64)
    assert bounded_roi_size((128, 128, 64), (96, -1, 32), 8_000_000) == (96, 128, 32)


def test_large_stack_gets_a_bounded_window():
    """A 1024 x 1024 x 12 stack at 1.25 mm becomes a 1024 x 1024 x 60 HR grid (63 M voxels): far above the budget."""
    roi = bounded_roi_size((1024, 1024, 64), (-1, -1, -1), 8_000_000)
    assert roi == (192, 192, 64) and math.prod(roi) <= 8_000_000
    tight = bounded_roi_size((1024, 1024, 64), (-1, -1, -1), 500_000)
    assert math.prod(tight) <= 500_000 and all(s % 16 == 0 for s in tight)


def test_inferer_records_the_window_and_matches_whole_volume():
    x = torch.rand(1, 1, 64, 48, 32)
    inferer = BoundedWindowInferer([-1, -1, -1], max_window_voxels=20_000, fallback_roi_size=(32, 32, 16), overlap=0.25)
    out = inferer(x, lambda t: 3.0 * t)
    assert inferer.last_roi_size is not None and math.prod(inferer.last_roi_size) <= 20_000
    assert inferer.last_roi_size != (64, 48, 32)
    torch.testing.assert_close(out, 3.0 * x, atol=1e-5, rtol=1e-5)
    whole = BoundedWindowInferer([-1, -1, -1], max_window_voxels=10**8)
    whole(x, lambda t: t)
    assert whole.last_roi_size == (64, 48, 32)


@pytest.mark.parametrize("budget", [0, -1])
def test_no_budget_means_no_bound(budget):
    assert bounded_roi_size((1024, 1024, 64), (-1, -1, -1), budget) == (1024, 1024, 64)


def test_bundle_budget_takes_the_supported_range_in_one_window():
    """The bundles' default budget admits the largest stack of the supported range (400 mm field of view, 20 slices
    of 10 mm: a 320 x 320 x 100 HR grid, 320 x 320 x 112 after padding to multiples of 16) in one window, so real
    stacks are segmented as in validation, not in tiles."""
    import json

    from conftest import REPO

    for config in ("gemini_gan_bundle/configs/inference_gemini.json", "vama_bundle/configs/inference.json"):
        budget = json.loads((REPO / config).read_text())["max_window_voxels"]
        assert bounded_roi_size((320, 320, 112), (-1, -1, -1), budget) == (320, 320, 112)
