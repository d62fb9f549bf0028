"""SRGAN-style discriminator of the original Gemini-GAN, on ``[grey volume, label probabilities]``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import Convolution
from monai.networks.layers import Act, Pool
from torch import nn

from custom_networks.nets.discriminator_input import conditioned_pair
from custom_networks.nets.layout import fold_slices, layout_spatial_dims, validate_layout

__all__ = ["SRGANDiscriminator"]


class SRGANDiscriminator(nn.Module):
    """SRGAN discriminator (Ledig et al. 2017) as used by the original Gemini-GAN, fully convolutional.

    Layers: conv3x3 (``features[0]`` wide, LeakyReLU, no norm), then for every width ``w`` of ``features`` a
    conv3x3-norm-LeakyReLU block (stride 1, skipped for the first width) and a stride-2 one (64-64, 128-128,
    256-256, 512-512 with the default widths), global average pooling, a 1x1 convolution to ``hidden_channels`` with
    LeakyReLU and a 1x1 convolution to one score.

    Input: the conditioned pair ``(B, in_channels + num_classes, H, W, D)`` (see :meth:`conditioned_pair`). The
    original uses the ``"2d"`` layout (``num_slices=100``): the slices are folded into channels,
    ``(B, (in_channels + num_classes) * D, H, W)``, and 2D convolutions are used. The ``"3d"`` layout uses 3D
    convolutions on the volume as it is.

    Output: one score per sample, ``(B, 1)``. The original applied a sigmoid; this class returns raw scores by
    default (``sigmoid=False``), as the least-squares GAN loss of Gemini-GAN (e.g.
    ``monai.losses.PatchAdversarialLoss(criterion="least_squares")``) expects unbounded scores.

    Args:
        in_channels: channels of the grey volume.
        num_classes: number of label classes in the condition (0 = unconditioned, image-only discriminator).
        layout: ``"3d"`` or ``"2d"`` (slices as channels, the original).
        num_slices: depth D of the input volume; required for ``"2d"``, ignored for ``"3d"``.
        features: widths of the conv blocks (each used twice, the second time with stride 2).
        hidden_channels: width of the 1x1 convolution after the global pooling.
        act: activation type and arguments (LeakyReLU 0.2).
        norm: normalisation type and arguments (batch norm).
        dropout: dropout rate of the conv blocks.
        sigmoid: apply a sigmoid to the scores (original behaviour, for a BCE loss).

    Raises:
        ValueError: for an unknown layout, a missing ``num_slices`` with ``"2d"``, bad channel counts or widths.
    """

    conditioned_pair = staticmethod(conditioned_pair)

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 4,
        layout: str = "3d",
        num_slices: int | None = None,
        features: Sequence[int] = (64, 128, 256, 512),
        hidden_channels: int = 1024,
        act: str | tuple = (Act.LEAKYRELU, {"negative_slope": 0.2}),
        norm: str | tuple = "batch",
        dropout: float | tuple = 0.0,
        sigmoid: bool = False,
    ) -> None:
        super().__init__()
        self.layout, self.num_slices = validate_layout(layout, num_slices)
        features = tuple(features)
        if in_channels < 1 or num_classes < 0 or hidden_channels < 1 or not features or min(features) < 1:
            raise ValueError(
                "need in_channels >= 1, num_classes >= 0, hidden_channels >= 1 and non-empty positive features, "
                f"got {in_channels}, {num_classes}, {hidden_channels} and {features}."
            )
        self.num_classes = num_classes
        self.condition_channels = in_channels + num_classes
        self.sigmoid = sigmoid
        self._folded_slices: int = self.num_slices or 0
        dims = layout_spatial_dims(self.layout)

        layers: list[nn.Module] = [
            Convolution(dims, self.condition_channels * max(self._folded_slices, 1), features[0], act=act, norm=None)
        ]
        previous = features[0]
        for i, width in enumerate(features):
            if i > 0:
                layers.append(Convolution(dims, previous, width, act=act, norm=norm, dropout=dropout))
            layers.append(Convolution(dims, width, width, strides=2, act=act, norm=norm, dropout=dropout))
            previous = width
        self.conv_blocks = nn.Sequential(*layers)
        self.pool = Pool[Pool.ADAPTIVEAVG, dims](1)
        self.classifier = nn.Sequential(
            Convolution(dims, previous, hidden_channels, kernel_size=1, act=act, norm=None),
            Convolution(dims, hidden_channels, 1, kernel_size=1, conv_only=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score a conditioned pair.

        Args:
            x: ``(B, in_channels + num_classes, H, W, D)``.

        Returns:
            ``(B, 1)`` scores (raw unless ``sigmoid=True``).
        """
        if x.ndim != 5 or x.shape[1] != self.condition_channels:
            raise ValueError(
                f"expected a (B, {self.condition_channels}, H, W, D) conditioned input, got shape {list(x.shape)}."
            )
        if self._folded_slices > 0:
            if x.shape[-1] != self._folded_slices:
                raise ValueError(f"the '2d' layout was built for {self._folded_slices} slices, got {x.shape[-1]}.")
            x = fold_slices(x)
        scores = self.classifier(self.pool(self.conv_blocks(x))).flatten(1)
        return torch.sigmoid(scores) if self.sigmoid else scores
