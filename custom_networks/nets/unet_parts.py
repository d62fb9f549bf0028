"""Encoder and decoder of the Gemini-GAN U-Net, built from MONAI blocks.

The encoder is the usual U-Net contracting path (MONAI :class:`~monai.networks.nets.basic_unet.TwoConv` then
:class:`~monai.networks.nets.basic_unet.Down` = max-pool + two conv-norm-act blocks). A decoder stage follows the
original code (the bilinear variant of the common PyTorch U-Net): x2 up-sampling without change of width,
concatenation with the encoder skip, then two conv-norm-act blocks whose middle width is *half the concatenated
width*. With encoder widths ``(f0, ..., fL)`` (``fL == f(L-1)`` in the original, e.g. 64-128-256-512-512) the decoder
widths are ``(f(L-2), ..., f0, f0)``, e.g. 256-128-64-64.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from monai.networks.blocks import Convolution, UpSample
from monai.networks.nets.basic_unet import Down, TwoConv

__all__ = ["DoubleConv", "UNetDecoder", "UNetEncoder", "UpDoubleConv", "decoder_widths"]


def decoder_widths(features: Sequence[int]) -> tuple[int, ...]:
    """Output widths of the decoder stages mirroring encoder widths ``features``.

    Args:
        features: encoder widths ``(f0, ..., fL)``, from the full-resolution level to the bottleneck.

    Returns:
        ``(f(L-2), ..., f0, f0)``: one width per decoder stage (``L`` stages), e.g. 256-128-64-64 for 64-...-512-512.
    """
    last = len(features) - 1
    return tuple(features[max(last - 1 - k, 0)] for k in range(1, last + 1))


class DoubleConv(nn.Sequential):
    """Two 3x3 conv-norm-act blocks, ``in_channels -> mid_channels -> out_channels``.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: input width.
        out_channels: output width.
        mid_channels: width after the first convolution; ``None`` = ``out_channels``.
        act: activation type and arguments (MONAI factory name or ``(name, kwargs)``).
        norm: normalisation type and arguments (MONAI factory name or ``(name, kwargs)``).
        bias: whether the convolutions have a bias term.
        dropout: dropout rate after each normalisation.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        mid_channels: int | None = None,
        act: str | tuple = "relu",
        norm: str | tuple = "batch",
        bias: bool = True,
        dropout: float | tuple = 0.0,
    ) -> None:
        super().__init__()
        mid_channels = out_channels if mid_channels is None else mid_channels
        for i, (c_in, c_out) in enumerate(((in_channels, mid_channels), (mid_channels, out_channels))):
            conv = Convolution(
                spatial_dims, c_in, c_out, kernel_size=3, act=act, norm=norm, dropout=dropout, bias=bias, padding=1
            )
            self.add_module(f"conv_{i}", conv)


class UpDoubleConv(nn.Module):
    """Decoder stage: x2 up-sampling, concatenation ``[skip, upsampled]``, :class:`DoubleConv` with half middle width.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: width of the features to up-sample (kept by the up-sampling).
        skip_channels: width of the encoder skip features.
        out_channels: output width.
        act: activation type and arguments.
        norm: normalisation type and arguments.
        bias: whether the convolutions have a bias term.
        dropout: dropout rate.
        upsample: MONAI :class:`~monai.networks.blocks.UpSample` mode: ``"nontrainable"`` (interpolation, the
            original), ``"deconv"`` (transposed convolution) or ``"pixelshuffle"``.
        interp_mode: interpolation for ``"nontrainable"``; ``"linear"`` means bilinear in 2D, trilinear in 3D.
        align_corners: ``align_corners`` of the interpolation (``True`` in the original).
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        act: str | tuple = "relu",
        norm: str | tuple = "batch",
        bias: bool = True,
        dropout: float | tuple = 0.0,
        upsample: str = "nontrainable",
        interp_mode: str = "linear",
        align_corners: bool | None = True,
    ) -> None:
        super().__init__()
        self.upsample = UpSample(
            spatial_dims,
            in_channels,
            in_channels,
            scale_factor=2,
            mode=upsample,
            interp_mode=interp_mode,
            align_corners=align_corners,
        )
        cat_channels = skip_channels + in_channels
        self.convs = DoubleConv(spatial_dims, cat_channels, out_channels, cat_channels // 2, act, norm, bias, dropout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Up-sample ``x`` to the size of ``skip``, concatenate and convolve.

        Args:
            x: coarse features ``(B, in_channels, *S)``.
            skip: encoder features ``(B, skip_channels, *2S)``.

        Returns:
            ``(B, out_channels, *2S)``.
        """
        return self.convs(torch.cat([skip, self.upsample(x)], dim=1))


class UNetEncoder(nn.Module):
    """U-Net contracting path returning the features of every level.

    Level 0 is :class:`~monai.networks.nets.basic_unet.TwoConv` at full resolution, level ``i > 0`` is
    :class:`~monai.networks.nets.basic_unet.Down` (2x max-pool, two conv-norm-act). Spatial sizes must be divisible
    by ``2 ** (len(features) - 1)``.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: input width.
        features: widths of the levels, full resolution first (at least 2 levels).
        act: activation type and arguments.
        norm: normalisation type and arguments.
        bias: whether the convolutions have a bias term.
        dropout: dropout rate.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        features: Sequence[int],
        act: str | tuple = "relu",
        norm: str | tuple = "batch",
        bias: bool = True,
        dropout: float | tuple = 0.0,
    ) -> None:
        super().__init__()
        levels: list[nn.Module] = [TwoConv(spatial_dims, in_channels, features[0], act, norm, bias, dropout)]
        for c_in, c_out in zip(features[:-1], features[1:], strict=True):
            levels.append(Down(spatial_dims, c_in, c_out, act, norm, bias, dropout))
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encode ``x``.

        Args:
            x: ``(B, in_channels, *S)``.

        Returns:
            The features of every level, full resolution first: ``(B, features[i], *S / 2**i)``.
        """
        outputs: list[torch.Tensor] = []
        for level in self.levels:
            x = level(x)
            outputs.append(x)
        return outputs


class UNetDecoder(nn.Module):
    """U-Net expanding path mirroring :class:`UNetEncoder`, with a linear 1x1 convolution head.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        features: the encoder widths, full resolution first; stage widths follow :func:`decoder_widths`.
        out_channels: channels of the head output.
        act: activation type and arguments.
        norm: normalisation type and arguments.
        bias: whether the convolutions have a bias term.
        dropout: dropout rate.
        upsample: up-sampling mode (see :class:`UpDoubleConv`).
        interp_mode: interpolation for ``upsample="nontrainable"``.
        align_corners: ``align_corners`` of the interpolation.
    """

    def __init__(
        self,
        spatial_dims: int,
        features: Sequence[int],
        out_channels: int,
        act: str | tuple = "relu",
        norm: str | tuple = "batch",
        bias: bool = True,
        dropout: float | tuple = 0.0,
        upsample: str = "nontrainable",
        interp_mode: str = "linear",
        align_corners: bool | None = True,
    ) -> None:
        super().__init__()
        widths = decoder_widths(features)
        skips = tuple(features[-2::-1])
        in_widths = (features[-1], *widths[:-1])
        self.stages = nn.ModuleList(
            UpDoubleConv(
                spatial_dims, c_in, c_skip, c_out, act, norm, bias, dropout, upsample, interp_mode, align_corners
            )
            for c_in, c_skip, c_out in zip(in_widths, skips, widths, strict=True)
        )
        self.head = Convolution(spatial_dims, widths[-1], out_channels, kernel_size=1, conv_only=True, bias=True)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Decode encoder features.

        Args:
            features: output of :class:`UNetEncoder` (full resolution first).

        Returns:
            The head output ``(B, out_channels, *S)`` at full resolution (no activation).
        """
        x = features[-1]
        for i, stage in enumerate(self.stages):
            x = stage(x, features[-(i + 2)])
        return self.head(x)
