"""Conditional patch discriminator on ``[grey volume, label probabilities]`` (MONAI PatchDiscriminator)."""

from __future__ import annotations

import torch
from monai.networks.layers import Act
from monai.networks.nets import PatchDiscriminator

from custom_networks.nets.discriminator_input import conditioned_pair
from custom_networks.nets.layout import fold_slices, layout_spatial_dims, validate_layout

__all__ = ["ConditionalPatchDiscriminator"]


class ConditionalPatchDiscriminator(PatchDiscriminator):
    """Patch discriminator conditioned on the segmentation: judges ``[grey volume, class probabilities]`` pairs.

    Built on :class:`monai.networks.nets.PatchDiscriminator` (pix2pix-style: a stride-2 conv4x4 + LeakyReLU, then
    ``num_layers_d`` conv4x4-norm-LeakyReLU layers doubling the width, stride 2 except the last, then a final
    convolution to one channel) but returns only the final patch map, a tensor, instead of the list of
    intermediate features. With the default ``num_layers_d=3`` it is the 5-layer conv4x4 patch discriminator of the
    SR-GAN / SegSR-GAN baselines.

    Input: ``(B, in_channels + num_classes, H, W, D)`` as built by :meth:`conditioned_pair` (generated pairs
    ``conditioned_pair(sr, seg_logits)`` = ``[sr, softmax(seg_logits)]``, so the adversarial gradient reaches the
    segmentation decoder; reference pairs ``conditioned_pair(image, labels)`` = ``[image, one_hot(labels)]``). With
    the ``"2d"`` layout the slices are folded into channels and 2D convolutions are used. Output: raw scores (no
    sigmoid, for the least-squares GAN loss, e.g. ``monai.losses.PatchAdversarialLoss(criterion="least_squares")``),
    ``(B, 1, h, w, d)`` (``(B, 1, h, w)`` for ``"2d"``). With ``kernel_size=4`` every convolved spatial size must be
    at least ``3 * 2 ** num_layers_d`` (24 for the default).

    Args:
        in_channels: channels of the grey volume.
        num_classes: number of label classes in the condition (0 = unconditioned, image-only discriminator).
        layout: ``"3d"`` (3D convolutions) or ``"2d"`` (slices as channels of a 2D network).
        num_slices: depth D of the input volume; required for ``"2d"``, ignored for ``"3d"``.
        channels: width of the first convolution (doubled at each following layer).
        num_layers_d: number of conv-norm-act layers after the first convolution.
        kernel_size: kernel size of the convolutions.
        activation: activation type and arguments (LeakyReLU 0.2 by default).
        norm: normalisation type and arguments (batch norm by default).
        bias: whether the intermediate convolutions have a bias term.
        dropout: dropout rate.
        last_conv_kernel_size: kernel size of the final convolution; ``None`` = ``kernel_size``.

    Raises:
        ValueError: for an unknown layout, a missing ``num_slices`` with ``"2d"`` or bad channel counts.
    """

    conditioned_pair = staticmethod(conditioned_pair)

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 4,
        layout: str = "3d",
        num_slices: int | None = None,
        channels: int = 32,
        num_layers_d: int = 3,
        kernel_size: int = 4,
        activation: str | tuple = (Act.LEAKYRELU, {"negative_slope": 0.2}),
        norm: str | tuple = "BATCH",
        bias: bool = False,
        dropout: float | tuple = 0.0,
        last_conv_kernel_size: int | None = None,
    ) -> None:
        layout, num_slices = validate_layout(layout, num_slices)
        if in_channels < 1 or num_classes < 0 or channels < 1 or num_layers_d < 1:
            raise ValueError(
                "need in_channels >= 1, num_classes >= 0, channels >= 1 and num_layers_d >= 1, got "
                f"{in_channels}, {num_classes}, {channels} and {num_layers_d}."
            )
        super().__init__(
            spatial_dims=layout_spatial_dims(layout),
            channels=channels,
            in_channels=(in_channels + num_classes) * (num_slices or 1),
            out_channels=1,
            num_layers_d=num_layers_d,
            kernel_size=kernel_size,
            activation=activation,
            norm=norm,
            bias=bias,
            padding=(kernel_size - 1) // 2,
            dropout=dropout,
            last_conv_kernel_size=last_conv_kernel_size,
        )
        self.layout = layout
        self.num_slices = num_slices
        self.num_classes = num_classes
        self.condition_channels = in_channels + num_classes
        self._folded_slices: int = num_slices or 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Score a conditioned pair.

        Args:
            x: ``(B, in_channels + num_classes, H, W, D)``.

        Returns:
            The patch score map ``(B, 1, h, w, d)`` (``(B, 1, h, w)`` for ``"2d"``), raw (no sigmoid).
        """
        if x.ndim != 5 or x.shape[1] != self.condition_channels:
            raise ValueError(
                f"expected a (B, {self.condition_channels}, H, W, D) conditioned input, got shape {list(x.shape)}."
            )
        if self._folded_slices > 0:
            if x.shape[-1] != self._folded_slices:
                raise ValueError(f"the '2d' layout was built for {self._folded_slices} slices, got {x.shape[-1]}.")
            x = fold_slices(x)
        for layer in self.children():
            x = layer(x)
        return x
