"""``LabelledSliceLoss``: the HR prediction compared with a stack's manual labels only where labels exist (labelled
slices, labelled classes), through the slice profile, in world coordinates."""

from __future__ import annotations

import numpy as np
import torch

from custom_networks.core import resample_to_grid
from custom_networks.losses import LabelledSliceLoss

HR_AFFINE = np.diag([1.25, 1.25, 2.0, 1.0])
STACK_AFFINE = np.diag([2.5, 2.5, 10.0, 1.0])
STACK_AFFINE[:3, 3] = [0.6, 0.6, 4.0]  # stack voxel centres between HR voxel centres


def _hr_label() -> np.ndarray:
    x, y, z = np.meshgrid(np.arange(64), np.arange(64), np.arange(40), indexing="ij")
    r = np.hypot(x - 30, y - 32)
    label = np.where(r < 10, 1, np.where(r < 14, 2, 0))
    label[(x > 44) & (x < 56) & (np.abs(y - 32) < 10)] = 3
    label[..., :6] = 0
    label[..., 34:] = 0
    return label.astype(np.uint8)


def _case(hr_label):
    logits = torch.nn.functional.one_hot(torch.as_tensor(hr_label).long(), 4).permute(3, 0, 1, 2).float() * 8.0
    stack_label = resample_to_grid(hr_label, HR_AFFINE, (30, 30, 7), STACK_AFFINE, order=0)
    return logits[None].requires_grad_(True), torch.as_tensor(stack_label[None].astype(np.int64))


def _loss(logits, label, slices=(1, 2, 3, 4, 5), classes=(True, True, True, True), hr_affine=HR_AFFINE):
    labelled = torch.zeros(1, label.shape[-1], dtype=torch.bool)
    labelled[0, list(slices)] = True
    return LabelledSliceLoss()(
        logits, torch.as_tensor(hr_affine)[None], label, torch.as_tensor(STACK_AFFINE)[None], labelled,
        torch.tensor([classes]),
    )  # fmt: skip


def test_agreeing_prediction_scores_low_and_world_geometry_matters():
    logits, label = _case(_hr_label())
    good = _loss(logits, label)
    assert float(good) < 0.3
    shifted = HR_AFFINE.copy()
    shifted[0, 3] += 8.0  # the same prediction 8 mm off
    assert float(_loss(logits, label, hr_affine=shifted)) > float(good) + 0.2


def test_garbage_in_unlabelled_slices_and_classes_leaves_the_loss_unchanged():
    logits, label = _case(_hr_label())
    base = float(_loss(logits, label, slices=(2, 3), classes=(True, True, True, False)))
    garbage = label.clone()
    garbage[..., [0, 1, 4, 5, 6]] = torch.randint(0, 4, garbage[..., [0, 1, 4, 5, 6]].shape)  # unlabelled slices
    garbage[garbage == 3] = 0  # the unlabelled RV drawn as background
    assert float(_loss(logits, garbage, slices=(2, 3), classes=(True, True, True, False))) == base
    rv_as_background = logits.detach().clone()
    rv_as_background[:, 3] = torch.where(rv_as_background[:, 3] > 0, 0.0, rv_as_background[:, 3])
    rv_as_background[:, 0] = torch.where(logits[:, 3] > 0, 8.0, rv_as_background[:, 0])
    again = float(_loss(rv_as_background, label, slices=(2, 3), classes=(True, True, True, False)))
    assert abs(again - base) < 1e-3  # predicting RV or background where the RV was not labelled: the same


def test_gradient_reaches_only_the_hr_voxels_under_labelled_slices():
    logits, label = _case(_hr_label())
    wrong = logits.detach().clone().requires_grad_(True)
    with torch.no_grad():
        wrong[:, :, :, :, :] = torch.roll(logits, shifts=6, dims=2)
    loss = _loss(wrong, label, slices=(3,))
    loss.backward()
    grad = wrong.grad.abs().sum(dim=(0, 1, 2, 3))
    # stack slice 3 is centred at z = 4 + 30 = 34 mm, one slice spacing thick: HR slices 12-22 (2 mm)
    assert grad[14:20].sum() > 0 and grad[:10].sum() == 0 and grad[25:].sum() == 0
    empty = _loss(wrong, label, slices=())
    assert float(empty) == 0.0
