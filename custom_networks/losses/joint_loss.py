"""The Gemini-GAN objective: joint super-resolution + segmentation generator loss and least-squares discriminator loss.

The generator of Gemini-GAN outputs a super-resolved grey volume and 3D class logits on the high-resolution grid.
It is trained with ``w_img * MSE(grey) + w_seg * CE(labels) + w_adv * LSGAN(D(fake pair))`` with the original weights
``(1, 1, 1e-3)``; the discriminator sees the *conditioned pair* ``cat([grey, label probabilities], dim=1)`` and is
trained with the least-squares loss ``0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2))``. The pair itself is built
by :func:`custom_networks.nets.conditioned_pair` (the discriminators' input contract).

Unlike the original code, the fake labels reach the discriminator as softmax probabilities (not through an argmax),
so the adversarial gradient reaches the segmentation decoder (an argmax has no gradient).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.losses import DiceCELoss, PatchAdversarialLoss
from monai.networks.utils import one_hot
from torch import nn

__all__ = ["JointSRSegLoss", "LeastSquaresDiscriminatorLoss"]

IMAGE_LOSSES = ("mse", "l1")
SEG_LOSSES = ("ce", "dice_ce")


def _plain(t: torch.Tensor) -> torch.Tensor:
    """Return ``t`` as a plain ``torch.Tensor`` (drops MetaTensor metadata, keeps the autograd graph)."""
    return t.as_tensor() if isinstance(t, MetaTensor) else t


class JointSRSegLoss(nn.Module):
    """Generator loss of Gemini-GAN: weighted image, segmentation and least-squares adversarial terms.

    ``loss = w_img * img + w_seg * seg + w_adv * adv`` where

    - ``img`` is the MSE (default, as in the original) or L1 between the super-resolved and the HR grey volume;
    - ``seg`` is the cross-entropy (default, as in the original) or MONAI's Dice + CE between the class logits and
      the HR label map;
    - ``adv`` is the least-squares generator term ``mean((D(fake) - 1)^2)`` (MONAI ``PatchAdversarialLoss``) on the
      discriminator's scores of the fake pair.

    A term whose inputs are missing (``None``) or whose weight is 0 is not computed and reported as 0, so the same
    loss serves Gemini-GAN, the joint U-Net (no discriminator) and the single-task U-Net baselines (SR-only or
    segmentation-only generators).

    Args:
        w_img: weight of the image (super-resolution) term. Original: 1.
        w_seg: weight of the segmentation term. Original: 1.
        w_adv: weight of the adversarial term. Original: 1e-3.
        img_loss: ``"mse"`` (original) or ``"l1"``.
        seg_loss: ``"ce"`` (original) or ``"dice_ce"`` (MONAI ``DiceCELoss`` with softmax, background included).
        no_activation_leastsq: passed to ``PatchAdversarialLoss``; ``True`` (default) applies the least-squares
            criterion to the raw discriminator scores (plain LSGAN; a discriminator ending in a sigmoid, as in the
            original, is then handled as is). ``False`` keeps MONAI's LeakyReLU(0.05) on the scores.
        dice_ce_kwargs: extra keyword arguments for ``DiceCELoss`` (e.g. ``{"lambda_dice": 1.0, "smooth_nr": 1e-5}``);
            ``softmax``/``to_onehot_y`` are fixed by this class.

    Returns from ``forward``:
        A dict of scalar tensors ``{"loss": total, "img": ..., "seg": ..., "adv": ...}``; the individual terms are
        unweighted, ``loss`` is the weighted sum and carries the gradient.
    """

    def __init__(
        self,
        w_img: float = 1.0,
        w_seg: float = 1.0,
        w_adv: float = 1e-3,
        img_loss: str = "mse",
        seg_loss: str = "ce",
        no_activation_leastsq: bool = True,
        dice_ce_kwargs: dict | None = None,
    ) -> None:
        super().__init__()
        img_loss, seg_loss = img_loss.lower(), seg_loss.lower()
        if img_loss not in IMAGE_LOSSES:
            raise ValueError(f"img_loss must be one of {IMAGE_LOSSES}, got {img_loss!r}.")
        if seg_loss not in SEG_LOSSES:
            raise ValueError(f"seg_loss must be one of {SEG_LOSSES}, got {seg_loss!r}.")
        if min(w_img, w_seg, w_adv) < 0:
            raise ValueError(f"loss weights must be non-negative, got {(w_img, w_seg, w_adv)}.")
        self.w_img = float(w_img)
        self.w_seg = float(w_seg)
        self.w_adv = float(w_adv)
        self.img_loss = img_loss
        self.seg_loss = seg_loss
        kwargs = dict(dice_ce_kwargs or {})
        kwargs.update(softmax=True, to_onehot_y=False)
        self.dice_ce = DiceCELoss(**kwargs) if seg_loss == "dice_ce" else None
        self.adversarial = PatchAdversarialLoss(criterion="least_squares", no_activation_leastsq=no_activation_leastsq)

    def image_term(self, sr: torch.Tensor, hr_image: torch.Tensor) -> torch.Tensor:
        """Unweighted image term (MSE or L1) between the super-resolved and the HR grey volume.

        Args:
            sr: super-resolved grey volume (B, 1, *spatial).
            hr_image: high-resolution reference (B, 1, *spatial).
        """
        sr, hr_image = _plain(sr).float(), _plain(hr_image).float()
        if self.img_loss == "mse":
            return F.mse_loss(sr, hr_image)
        return F.l1_loss(sr, hr_image)

    def seg_term(self, seg_logits: torch.Tensor, hr_label: torch.Tensor) -> torch.Tensor:
        """Unweighted segmentation term (CE or Dice + CE) between class logits and the HR labels.

        Args:
            seg_logits: class logits (B, C, *spatial).
            hr_label: label map (B, 1, *spatial) with class numbers, or one-hot / probabilities (B, C, *spatial).
        """
        seg_logits, hr_label = _plain(seg_logits).float(), _plain(hr_label)
        num_classes = seg_logits.shape[1]
        if self.dice_ce is not None:
            target = one_hot(hr_label.round(), num_classes, dim=1) if hr_label.shape[1] == 1 else hr_label.float()
            return self.dice_ce(seg_logits, target)
        if hr_label.shape[1] == 1:
            index = hr_label[:, 0].round().long() if torch.is_floating_point(hr_label) else hr_label[:, 0].long()
            return F.cross_entropy(seg_logits, index)
        return F.cross_entropy(seg_logits, hr_label.float())

    def adversarial_term(self, fake_scores: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        """Unweighted least-squares generator term ``mean((D(fake) - 1)^2)``.

        Args:
            fake_scores: discriminator scores of the fake pair (any shape), or a list for multi-scale discriminators.
        """
        if isinstance(fake_scores, (list, tuple)):
            fake_scores = [_plain(s).float() for s in fake_scores]
        else:
            fake_scores = _plain(fake_scores).float()
        return self.adversarial(fake_scores, target_is_real=True, for_discriminator=False)

    def forward(
        self,
        sr: torch.Tensor | None = None,
        hr_image: torch.Tensor | None = None,
        seg_logits: torch.Tensor | None = None,
        hr_label: torch.Tensor | None = None,
        fake_scores: torch.Tensor | list[torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Compute the generator loss and its terms.

        Args:
            sr: super-resolved grey volume (B, 1, *spatial) or ``None`` (segmentation-only generator).
            hr_image: HR grey reference (B, 1, *spatial) or ``None``.
            seg_logits: class logits (B, C, *spatial) or ``None`` (SR-only generator).
            hr_label: HR label map (B, 1, *spatial) or one-hot (B, C, *spatial), or ``None``.
            fake_scores: discriminator scores of the fake pair, or ``None`` without a discriminator.

        Returns:
            ``{"loss", "img", "seg", "adv"}``: weighted total and unweighted terms (0 when not computed).

        Raises:
            ValueError: when no term can be computed, or a prediction is given without its reference.
        """
        ref = next((t for t in (sr, seg_logits, fake_scores, hr_image, hr_label) if t is not None), None)
        if ref is None:
            raise ValueError("no inputs given to the loss.")
        ref = ref[0] if isinstance(ref, (list, tuple)) else ref
        zero = torch.zeros((), device=ref.device)
        terms = {"img": zero, "seg": zero, "adv": zero}
        total: torch.Tensor | None = None
        if sr is not None and self.w_img > 0:
            if hr_image is None:
                raise ValueError("`sr` was given without the HR grey reference `hr_image`.")
            terms["img"] = self.image_term(sr, hr_image)
            total = self.w_img * terms["img"]
        if seg_logits is not None and self.w_seg > 0:
            if hr_label is None:
                raise ValueError("`seg_logits` were given without the HR label map `hr_label`.")
            terms["seg"] = self.seg_term(seg_logits, hr_label)
            total = self.w_seg * terms["seg"] if total is None else total + self.w_seg * terms["seg"]
        if fake_scores is not None and self.w_adv > 0:
            terms["adv"] = self.adversarial_term(fake_scores)
            total = self.w_adv * terms["adv"] if total is None else total + self.w_adv * terms["adv"]
        if total is None:
            raise ValueError("no loss term could be computed: give `sr` and/or `seg_logits` with non-zero weights.")
        return {"loss": total, **terms}


class LeastSquaresDiscriminatorLoss(nn.Module):
    """Least-squares (LSGAN) discriminator loss: real pairs -> 1, fake pairs -> 0.

    ``loss = 0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2))``, computed with MONAI's ``PatchAdversarialLoss``.

    Args:
        no_activation_leastsq: ``True`` (default) applies the criterion to the raw scores (plain LSGAN);
            ``False`` keeps MONAI's LeakyReLU(0.05) on the scores. Use the same value as in ``JointSRSegLoss``.

    Returns from ``forward``:
        ``{"loss": total, "real": real term, "fake": fake term}``.
    """

    def __init__(self, no_activation_leastsq: bool = True) -> None:
        super().__init__()
        self.adversarial = PatchAdversarialLoss(criterion="least_squares", no_activation_leastsq=no_activation_leastsq)

    @staticmethod
    def _float(scores: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        if isinstance(scores, (list, tuple)):
            return [_plain(s).float() for s in scores]
        return _plain(scores).float()

    def forward(
        self, real_scores: torch.Tensor | list[torch.Tensor], fake_scores: torch.Tensor | list[torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Compute the discriminator loss.

        Args:
            real_scores: discriminator scores of the real pair (or a list for multi-scale discriminators).
            fake_scores: discriminator scores of the (detached) fake pair.

        Returns:
            ``{"loss", "real", "fake"}`` scalar tensors.
        """
        real = self.adversarial(self._float(real_scores), target_is_real=True, for_discriminator=True)
        fake = self.adversarial(self._float(fake_scores), target_is_real=False, for_discriminator=True)
        return {"loss": 0.5 * (real + fake), "real": real, "fake": fake}
