"""Gemini-GAN generator conditioned on the slice segmenter: the 3D step of the staged pipeline."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from custom_networks.nets.gemini_generator import GeminiGenerator

__all__ = ["ConditionedGeminiGenerator"]

#: Floor of the stage-1 probabilities before their logarithm (the segmentation residual's prior).
PROBABILITY_FLOOR = 1e-3


class ConditionedGeminiGenerator(GeminiGenerator):
    """Gemini-GAN generator whose input is the stack **and** the slice segmenter's class probabilities.

    The 3D step of the staged pipeline: stage 1 (:class:`~custom_networks.nets.SliceSegmenter`) labels every
    acquired slice; its probabilities and the stack are both carried onto the HR grid in world coordinates (linear
    between slices), and this generator turns them into the super-resolved volume and the 3D segmentation. What it
    has to learn is the shape between 10 mm slices and across breath-hold shifts, not what a heart looks like on a
    given scanner, so it trains on the data engine's HR label maps with simulated stage-1 errors
    (:class:`~custom_networks.transforms.SimulateStage1d`).

    Same architecture as :class:`GeminiGenerator` (one shared 3D U-Net encoder, two identical decoders), with
    ``1 + num_classes`` input channels (image first) and both outputs **residual** on their input: the SR volume is
    the interpolated image plus the SR decoder's output, and the logits are ``log(max(p, 1e-3))`` of the stage-1
    probabilities plus the segmentation decoder's output. Both heads start at zero, so an untrained generator returns
    exactly the interpolated stack and the interpolated stage-1 segmentation: training can only add to what stage 1
    shows, and a short CPU run starts from the floor instead of from noise.

    Args:
        num_classes: segmentation classes, background included (stage-1 probability channels).
        features: encoder widths, full resolution first; 4 levels (input sizes divisible by 8) by default.
        norm: normalisation (instance: batches of one or two crops on CPU).
        residual: add the inputs to the outputs as above; ``False`` gives the plain conditioned generator.
        kwargs: further :class:`GeminiGenerator` arguments (``act``, ``dropout``, ``upsample``, ``tasks``,
            ``output``...); ``layout`` is always ``"3d"``.

    Example::

        net = ConditionedGeminiGenerator()
        x = torch.cat([image, probs], dim=1)  # (B, 1 + 4, H, W, D) on the HR grid
        sr, seg_logits = net(x)
    """

    def __init__(
        self,
        num_classes: int = 4,
        features: Sequence[int] = (8, 16, 32, 64),
        norm: str | tuple = "instance",
        residual: bool = True,
        **kwargs,
    ) -> None:
        kwargs.pop("layout", None)
        super().__init__(
            layout="3d",
            in_channels=1 + num_classes,
            num_classes=num_classes,
            features=features,
            norm=norm,
            sr_channels=1,
            **kwargs,
        )
        self.residual = bool(residual)
        if self.residual:
            for decoder in (self.sr_decoder, self.seg_decoder):
                if decoder is not None:
                    for param in decoder.head.parameters():
                        nn.init.zeros_(param)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Run the generator.

        Args:
            x: ``(B, 1 + num_classes, H, W, D)``: the stack on the HR grid (intensities in [0, 1]) then the stage-1
                class probabilities on the same grid.

        Returns:
            ``(sr, seg_logits)`` for ``output="both"``, else the one selected: ``sr`` ``(B, 1, H, W, D)``,
            ``seg_logits`` ``(B, num_classes, H, W, D)``.
        """
        if not torch.jit.is_tracing():
            self.check_input(x)
        features = self.encode(x)
        sr = seg = None
        if self._output in ("sr", "both"):
            sr = self.decode_sr(features)
            if self.residual:
                sr = sr + x[:, :1]
        if self._output in ("seg", "both"):
            seg = self.decode_seg(features)
            if self.residual:
                seg = seg + torch.log(x[:, 1:].clamp_min(PROBABILITY_FLOOR))
        if self._output == "seg":
            return seg
        if self._output == "sr":
            return sr
        return sr, seg
