"""Dice + cross-entropy against partial labels given as candidate sets (what a voxel may be).

Real label maps are often partial: Sunnybrook draws the LV only, and the myocardium at end-diastole only. A voxel
labelled 0 on such a map may be any class that was not drawn. :func:`~custom_networks.transforms.label_candidates`
turns a map into per-voxel candidate sets; this loss then

- takes the cross-entropy of the *set*: ``-log(sum of the probabilities of its candidates)`` (the marginal
  likelihood; the usual cross-entropy on a fully labelled voxel, 0 on a voxel that may be anything);
- takes MONAI's batch Dice of each foreground class over the samples where that class is determined (no voxel of
  the sample leaves it open).

So a class or slice that was not labelled never counts as background, and garbage in it changes nothing.
"""

from __future__ import annotations

import torch
from monai.losses import DiceLoss
from torch import nn

__all__ = ["PartialLabelDiceCELoss"]


class PartialLabelDiceCELoss(nn.Module):
    """Dice + cross-entropy of class logits against candidate sets.

    Args:
        lambda_dice: weight of the Dice term.
        lambda_ce: weight of the cross-entropy term.
        smooth: Dice smoothing (numerator and denominator).
    """

    def __init__(self, lambda_dice: float = 1.0, lambda_ce: float = 1.0, smooth: float = 1e-5):
        super().__init__()
        self.lambda_dice = float(lambda_dice)
        self.lambda_ce = float(lambda_ce)
        self.dice = DiceLoss(include_background=False, batch=True, reduction="none", smooth_nr=smooth, smooth_dr=smooth)

    def forward(self, logits: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """The loss.

        Args:
            logits: ``(B, C, *spatial)`` class logits.
            candidates: ``(B, C, *spatial)`` 0 / 1 candidate sets (at least one candidate per voxel).
        """
        if logits.shape != candidates.shape:
            raise ValueError(f"logits {tuple(logits.shape)} and candidates {tuple(candidates.shape)} differ in shape")
        cand = candidates.to(logits.dtype)
        log_total = torch.logsumexp(logits, dim=1)
        log_set = torch.logsumexp(logits.masked_fill(cand <= 0, float("-inf")), dim=1)
        ce = (log_total - log_set).mean()
        # a class is determined in a sample when every voxel that may be it is only it
        open_voxels = cand.sum(dim=1, keepdim=True) > 1
        spatial = tuple(range(2, logits.ndim))
        determined = ~((cand > 0) & open_voxels).any(dim=spatial)  # (B, C)
        mask = determined.to(logits.dtype).view(*determined.shape, *([1] * len(spatial)))
        probs = torch.softmax(logits, dim=1)
        dice = self.dice(probs * mask, cand * mask).reshape(-1)
        return self.lambda_ce * ce + self.lambda_dice * dice.mean()
