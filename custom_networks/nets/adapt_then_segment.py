"""A target-domain image translated into source appearance, then segmented by a frozen source-domain model: the
V-AMA bundle's validation network, so that its key metric is the frozen Gemini-GAN's Dice on translated target
images (the quantity domain adaptation is for), with the translation exposed as a second output."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AdaptThenSegment"]


class AdaptThenSegment(nn.Module):
    """Translate a target-domain image into source appearance, then segment it with a (frozen) source-domain model.

    Args:
        translator: the domain-translation network (``forward(target) -> translation``, e.g. ``VAMA``).
        segmenter: the segmentation network applied to the translation (e.g. ``GeminiGenerator(output="seg")``),
            returning class logits.
        adapt: ``False`` skips the translation (the segmenter sees the target image itself: the "no adaptation"
            reference); the first output is then the input.
    """

    def __init__(self, translator: nn.Module, segmenter: nn.Module, adapt: bool = True) -> None:
        super().__init__()
        self.translator = translator
        self.segmenter = segmenter
        self.adapt = adapt

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(translation, segmentation logits of the translation)``.

        Args:
            x: target-domain images ``(B, 1, *spatial)``, intensities in [0, 1].
        """
        translated = self.translator(x) if self.adapt else x
        if translated is x:  # sliding-window inference scales each window's outputs in place: never return the input
            translated = x.clone()
        return translated, self.segmenter(translated)
