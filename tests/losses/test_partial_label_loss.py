"""The partial-label loss: what was not labelled never counts, what was labelled counts as usual."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from custom_networks.losses import PartialLabelDiceCELoss
from custom_networks.transforms import label_candidates

ALL = torch.ones(4, dtype=torch.bool)
LV_ONLY = torch.tensor([True, True, False, False])  # Sunnybrook at ES: blood pool only


def _label(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    label = torch.zeros(1, 32, 32, dtype=torch.long)
    label[0, 8:24, 8:24] = 2
    label[0, 12:20, 12:20] = 1
    label[0, 2:8, 20:30] = 3
    label[0, torch.rand(32, 32, generator=g) < 0.05] = 0
    return label


def test_fully_labelled_cross_entropy_is_the_usual_one():
    logits = torch.randn(2, 4, 32, 32, generator=torch.Generator().manual_seed(1))
    labels = torch.stack([_label(0), _label(1)])
    cand = torch.stack([label_candidates(lab, ALL) for lab in labels])
    loss = PartialLabelDiceCELoss(lambda_dice=0.0)(logits, cand)
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels[:, 0]))


def test_garbage_in_an_unlabelled_class_leaves_the_loss_unchanged():
    logits = torch.randn(1, 4, 32, 32, generator=torch.Generator().manual_seed(2), requires_grad=True)
    clean = _label()
    clean[clean > 1] = 0  # what an LV-only map holds
    garbage = clean.clone()
    garbage[0, :6, :] = 3  # values of classes that were never drawn on this map
    garbage[0, 25:, :] = 2
    loss = PartialLabelDiceCELoss()
    a = loss(logits, label_candidates(clean, LV_ONLY)[None])
    b = loss(logits, label_candidates(garbage, LV_ONLY)[None])
    torch.testing.assert_close(a, b)
    # and a voxel labelled 0 on that map may be myocardium or RV: predicting them there costs nothing
    confident_rv = torch.full((1, 4, 32, 32), -10.0)
    confident_rv[:, 3] = 10.0
    confident_rv[:, 1][clean == 1] = 20.0
    assert loss(confident_rv, label_candidates(clean, LV_ONLY)[None]) < 1e-3


def test_an_unlabelled_slice_in_a_batch_changes_nothing():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 4, 32, 32, generator=g)
    labelled = label_candidates(_label(), ALL)
    nothing = torch.ones(4, 32, 32)  # a slice that may be anything everywhere
    loss = PartialLabelDiceCELoss()
    alone = loss(logits[:1], labelled[None])
    mixed = loss(logits, torch.stack([labelled, nothing]))
    # cross-entropy is a mean over voxels: the open slice adds zeros (half the voxels); Dice ignores it entirely
    ce_alone = PartialLabelDiceCELoss(lambda_dice=0.0)(logits[:1], labelled[None])
    torch.testing.assert_close(mixed - ce_alone / 2, alone - ce_alone)


def test_wrong_labels_cost_more_than_right_ones():
    label = _label()
    cand = label_candidates(label, ALL)[None]
    right = F.one_hot(label[0], 4).permute(2, 0, 1)[None].float() * 10
    wrong = F.one_hot((label[0] + 1) % 4, 4).permute(2, 0, 1)[None].float() * 10
    loss = PartialLabelDiceCELoss()
    assert loss(right, cand) < 0.05 < 1.0 < loss(wrong, cand)
