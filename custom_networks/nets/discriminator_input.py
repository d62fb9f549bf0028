"""Conditioned inputs of the discriminators: ``[grey volume, label probabilities]`` on the high-resolution grid.

This module is the single implementation of the discriminators' input contract, used by the discriminators
(``ConditionalPatchDiscriminator.conditioned_pair``, ``SRGANDiscriminator.conditioned_pair``), the GAN trainer and
the losses.

The original Gemini-GAN fed the discriminator the *argmax* of the predicted logits, which has no gradient, so the
adversarial term never reached the segmentation decoder. Here fake pairs carry the *softmax probabilities* of the
logits and real pairs the one-hot encoding of the reference labels, so both live on the probability simplex and the
adversarial gradient flows back to the segmentation branch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.data import MetaTensor

__all__ = ["conditioned_pair", "label_to_onehot"]


def _plain(t: torch.Tensor) -> torch.Tensor:
    """Return ``t`` as a plain ``torch.Tensor`` (drops MetaTensor metadata, keeps the autograd graph)."""
    return t.as_tensor() if isinstance(t, MetaTensor) else t


def label_to_onehot(label: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Convert a label map of shape (B, 1, *spatial) with integer class values into a float one-hot tensor.

    Args:
        label: label map (B, 1, *spatial); integer, bool or float dtype holding whole class numbers
            (labels read from NIfTI files are usually float).
        num_classes: number of classes C of the one-hot output.

    Returns:
        A float32 tensor of shape (B, C, *spatial) without gradient.

    Raises:
        ValueError: when ``label`` does not have exactly one channel.
    """
    label = _plain(label)
    if label.ndim < 3 or label.shape[1] != 1:
        raise ValueError(f"expected a label map of shape (B, 1, *spatial), got {tuple(label.shape)}.")
    index = label[:, 0].round().long() if torch.is_floating_point(label) else label[:, 0].long()
    onehot = F.one_hot(index, num_classes=num_classes)  # (B, *spatial, C)
    return onehot.movedim(-1, 1).float()


def conditioned_pair(
    grey: torch.Tensor | None,
    seg: torch.Tensor | None,
    num_classes: int = 4,
    softmax: bool = True,
) -> torch.Tensor:
    """Build the discriminator input ``cat([grey, label probabilities], dim=1)`` of a fake or a real pair.

    ``seg`` is interpreted by its channel count:

    - one channel (B, 1, *spatial): an integer label map (any dtype holding whole numbers), converted to a float
      one-hot tensor with ``num_classes`` channels (no gradient; this is the real pair);
    - C > 1 channels: class logits from the generator, turned into probabilities with a softmax over the channel
      axis that keeps the autograd graph, so the adversarial term reaches the segmentation decoder (the fake
      pair). Pass ``softmax=False`` when the C channels already hold probabilities or a one-hot encoding.

    Either input may be ``None`` for single-task adversarial baselines (grey-only SR-GAN or label-only pairs);
    ``conditioned_pair(grey, None)`` returns ``grey`` itself when it is a plain float32 tensor.

    Args:
        grey: grey volume (B, 1, *spatial), e.g. the super-resolved or the high-resolution image, or ``None``.
        seg: label map (B, 1, *spatial), class logits or probabilities (B, C, *spatial), or ``None``.
        num_classes: number of classes used to one-hot a label map; ignored for multi-channel ``seg``.
        softmax: apply a softmax to multi-channel ``seg`` (logits). Set ``False`` for probabilities / one-hot.

    Returns:
        A plain float32 tensor (B, 1 + C, *spatial) (or only the available part) to feed the discriminator.

    Raises:
        ValueError: when both inputs are ``None`` or their batch/spatial shapes differ.
    """
    parts: list[torch.Tensor] = []
    if grey is not None:
        parts.append(_plain(grey).float())
    if seg is not None:
        seg = _plain(seg)
        if seg.shape[1] == 1:
            parts.append(label_to_onehot(seg, num_classes))
        elif softmax:
            parts.append(torch.softmax(seg.float(), dim=1))
        else:
            parts.append(seg.float())
    if not parts:
        raise ValueError("conditioned_pair needs at least one of `grey` and `seg`.")
    if len(parts) == 2 and (parts[0].shape[0] != parts[1].shape[0] or parts[0].shape[2:] != parts[1].shape[2:]):
        raise ValueError(
            f"grey {tuple(parts[0].shape)} and seg {tuple(parts[1].shape)} differ in batch or spatial shape."
        )
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
