"""Masked image loss: the mean error over the mask's voxels, nothing from outside it."""

from __future__ import annotations

import pytest
import torch

from custom_networks.losses import MaskedImageLoss


def _data():
    g = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 1, 4, 4, 5, generator=g)
    target = torch.rand(2, 1, 4, 4, 5, generator=g)
    mask = torch.zeros(2, 1, 4, 4, 5)
    mask[0, :, :, :, 1] = 1.0
    mask[1, :, :, :, 3] = 1.0
    mask[1, :, 0, 0, 4] = 1.0
    return pred, target, mask


@pytest.mark.parametrize("kind", ["mse", "l1"])
def test_value_is_the_mean_over_masked_voxels(kind):
    pred, target, mask = _data()
    err = (pred - target) ** 2 if kind == "mse" else (pred - target).abs()
    expected = err[mask > 0].mean()
    loss = MaskedImageLoss(kind)
    torch.testing.assert_close(loss(pred, target, mask), expected)
    torch.testing.assert_close(loss(pred, torch.cat([target, mask], dim=1)), expected)  # SupervisedTrainer form


def test_unmasked_voxels_are_ignored_and_get_no_gradient():
    pred, target, mask = _data()
    loss = MaskedImageLoss()
    other = target.clone()
    other[mask == 0] = 100.0  # anything outside the mask
    torch.testing.assert_close(loss(pred, target, mask), loss(pred, other, mask))
    pred.requires_grad_(True)
    loss(pred, torch.cat([other, mask], dim=1)).backward()
    assert pred.grad is not None
    assert (pred.grad[mask == 0] == 0).all()
    assert (pred.grad[mask > 0] != 0).all()


def test_empty_mask_gives_zero_and_bad_shapes_are_refused():
    pred, target, mask = _data()
    assert float(MaskedImageLoss()(pred, target, torch.zeros_like(mask))) == 0.0
    with pytest.raises(ValueError, match="channels"):
        MaskedImageLoss()(pred, target)
    with pytest.raises(ValueError, match="one-channel mask"):
        MaskedImageLoss()(pred, target, torch.cat([mask, mask], dim=1))
    with pytest.raises(ValueError, match="one of"):
        MaskedImageLoss("huber")
