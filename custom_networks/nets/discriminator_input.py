"""Conditioned inputs of the discriminators: ``[grey volume, label probabilities]`` on the high-resolution grid.

The original Gemini-GAN fed the discriminator the *argmax* of the predicted logits, which has no gradient, so the
adversarial term never reached the segmentation decoder (DESIGN 2.5). Here fake pairs carry the *softmax
probabilities* of the logits and real pairs the one-hot encoding of the reference labels, so both live on the
probability simplex and the adversarial gradient flows back to the segmentation branch.
"""

from __future__ import annotations

import torch
from monai.networks.utils import one_hot

__all__ = ["discriminator_input", "real_discriminator_input"]


def discriminator_input(sr: torch.Tensor, seg_logits: torch.Tensor | None = None) -> torch.Tensor:
    """Conditioned discriminator input for a generated (fake) pair, differentiable w.r.t. both outputs.

    Args:
        sr: super-resolved grey volume ``(B, C, H, W, D)``.
        seg_logits: segmentation logits ``(B, num_classes, H, W, D)``; ``None`` for an image-only discriminator
            (SR-GAN baseline), in which case ``sr`` is returned unchanged.

    Returns:
        ``cat([sr, softmax(seg_logits, dim=1)], dim=1)``: ``(B, C + num_classes, H, W, D)``.
    """
    if seg_logits is None:
        return sr
    if seg_logits.shape[0] != sr.shape[0] or seg_logits.shape[2:] != sr.shape[2:]:
        raise ValueError(f"sr {tuple(sr.shape)} and seg_logits {tuple(seg_logits.shape)} must share batch and grid.")
    return torch.cat([sr, torch.softmax(seg_logits, dim=1)], dim=1)


def real_discriminator_input(
    image: torch.Tensor, labels: torch.Tensor | None = None, num_classes: int = 4
) -> torch.Tensor:
    """Conditioned discriminator input for a real (reference) pair.

    Args:
        image: high-resolution reference grey volume ``(B, C, H, W, D)``.
        labels: reference labels, either a label map ``(B, 1, H, W, D)`` of integer values ``0..num_classes-1``
            (any dtype) or already one-hot / probabilities ``(B, num_classes, H, W, D)``; ``None`` for an image-only
            discriminator, in which case ``image`` is returned unchanged.
        num_classes: number of classes, background included.

    Returns:
        ``cat([image, one_hot(labels)], dim=1)``: ``(B, C + num_classes, H, W, D)``, floating point.

    Raises:
        ValueError: if ``labels`` has neither 1 nor ``num_classes`` channels, or does not match ``image``.
    """
    if labels is None:
        return image
    if labels.shape[0] != image.shape[0] or labels.shape[2:] != image.shape[2:]:
        raise ValueError(f"image {tuple(image.shape)} and labels {tuple(labels.shape)} must share batch and grid.")
    if labels.shape[1] == 1 and num_classes != 1:
        probabilities = one_hot(labels.round().long(), num_classes=num_classes, dtype=image.dtype, dim=1)
    elif labels.shape[1] == num_classes:
        probabilities = labels.to(image.dtype)
    else:
        raise ValueError(
            f"labels must have 1 channel (label map) or num_classes={num_classes} channels (one-hot), "
            f"got shape {tuple(labels.shape)}."
        )
    return torch.cat([image, probabilities], dim=1)
