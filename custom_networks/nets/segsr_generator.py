"""Residual-block generators of the SR-GAN and SegSR-GAN baselines of the Gemini-GAN paper."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import Convolution, UpSample
from monai.networks.nets.basic_unet import Down, TwoConv
from torch import nn

from custom_networks.nets.generator_base import TASKS, JointSRSegGenerator

__all__ = ["SRResidualBlock", "SegSRGenerator"]


class SRResidualBlock(nn.Module):
    """SRGAN residual block: ``x + norm(conv(act(norm(conv(x)))))`` with 3x3 convolutions and PReLU.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        channels: width of the block (input = output).
        act: activation between the two convolutions (PReLU in SRGAN).
        norm: normalisation type and arguments (batch norm in SRGAN).
        bias: whether the convolutions have a bias term.
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        act: str | tuple = "prelu",
        norm: str | tuple = "batch",
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.conv_0 = Convolution(spatial_dims, channels, channels, kernel_size=3, act=act, norm=norm, bias=bias)
        self.conv_1 = Convolution(spatial_dims, channels, channels, kernel_size=3, act=None, norm=norm, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block.

        Args:
            x: ``(B, channels, *S)``.

        Returns:
            ``(B, channels, *S)``.
        """
        return x + self.conv_1(self.conv_0(x))


class SegSRGenerator(JointSRSegGenerator):
    """Generator of the SR-GAN (image only) and SegSR-GAN (image + labels) baselines.

    Architecture (as in the original code): two conv3x3-norm-ReLU (``features`` = 16 wide), two 2x
    max-pool down-samplings with two conv-norm-ReLU each (32, then 64 wide), ``num_res_blocks`` SRGAN residual
    blocks (conv-BN-PReLU-conv-BN) at the lowest resolution with a long skip around them, two x2 interpolation
    up-samplings each followed by two conv-norm-ReLU (64 wide), then 3x3 convolution heads shared-trunk style: a
    linear head to the grey volume and/or a head to the class logits.

    Same tensor contract and output selector as :class:`~custom_networks.nets.gemini_generator.GeminiGenerator`:
    input ``(B, in_channels, H, W, D)`` interpolated onto the high-resolution grid, intensities in [0, 1]; outputs
    ``(B, in_channels, H, W, D)`` (linear) and ``(B, num_classes, H, W, D)`` logits. With the ``"3d"`` layout
    (default) H, W and D must be multiples of 4; with the ``"2d"`` layout (the original: slices as channels of a 2D
    network, ``num_slices`` required) H and W must be.

    Args:
        layout: ``"3d"`` (3D convolutions) or ``"2d"`` (slices as channels).
        num_slices: depth D of the input volume; required for the ``"2d"`` layout, ignored for ``"3d"``.
        in_channels: channels of the input volume (and of the SR output).
        num_classes: number of segmentation classes, background included.
        features: width of the first level; the next levels are 2x and 4x as wide (16-32-64 in the original).
        num_res_blocks: number of residual blocks (5 to 11 in the original baselines).
        tasks: ``("sr",)`` for SR-GAN, ``("sr", "seg")`` for SegSR-GAN, ``("seg",)`` for a segmentation-only variant.
        output: initial output selector ``"both"``, ``"sr"`` or ``"seg"``; ``None`` = every built task. Must be
            consistent with ``tasks``; changeable later through the :attr:`output` attribute.
        act: activation of the down/up-sampling convolutions (ReLU in the original).
        res_act: activation inside the residual blocks (PReLU in the original).
        norm: normalisation type and arguments (batch norm in the original).
        dropout: dropout rate of the down/up-sampling convolutions.
        bias: whether the convolutions have a bias term.
        upsample: up-sampling mode of MONAI :class:`~monai.networks.blocks.UpSample`: ``"nontrainable"``
            (interpolation, the original), ``"deconv"`` or ``"pixelshuffle"``.
        interp_mode: interpolation for ``"nontrainable"``: ``"linear"`` (bilinear / trilinear) or ``"nearest"``.
        align_corners: ``align_corners`` of the interpolation (``True`` in the original).
        head_kernel_size: kernel size of the output heads (3 in the original).

    Raises:
        ValueError: for an unknown layout, a missing ``num_slices`` with the ``"2d"`` layout, a bad width or block
            count, or an ``output`` inconsistent with ``tasks``.
    """

    def __init__(
        self,
        layout: str = "3d",
        num_slices: int | None = None,
        in_channels: int = 1,
        num_classes: int = 4,
        features: int = 16,
        num_res_blocks: int = 8,
        tasks: Sequence[str] | str = TASKS,
        output: str | None = None,
        act: str | tuple = "relu",
        res_act: str | tuple = "prelu",
        norm: str | tuple = "batch",
        dropout: float | tuple = 0.0,
        bias: bool = True,
        upsample: str = "nontrainable",
        interp_mode: str = "linear",
        align_corners: bool | None = True,
        head_kernel_size: int = 3,
    ) -> None:
        if features < 1 or num_res_blocks < 0 or head_kernel_size < 1 or head_kernel_size % 2 == 0:
            raise ValueError(
                "need features >= 1, num_res_blocks >= 0 and an odd head_kernel_size, got "
                f"{features}, {num_res_blocks} and {head_kernel_size}."
            )
        super().__init__(layout, num_slices, in_channels, num_classes, tasks, output, size_divisor=4)
        self.num_res_blocks = num_res_blocks
        dims = self.spatial_dims
        width = 4 * features
        self.encoder = nn.Sequential(
            TwoConv(dims, self.internal_channels(in_channels), features, act, norm, bias, dropout),
            Down(dims, features, 2 * features, act, norm, bias, dropout),
            Down(dims, 2 * features, width, act, norm, bias, dropout),
        )
        self.res_blocks = nn.Sequential(
            *(SRResidualBlock(dims, width, res_act, norm, bias) for _ in range(num_res_blocks))
        )
        up: list[nn.Module] = []
        for _ in range(2):
            up.append(
                UpSample(dims, width, width, 2, mode=upsample, interp_mode=interp_mode, align_corners=align_corners)
            )
            up.append(TwoConv(dims, width, width, act, norm, bias, dropout))
        self.upsampling = nn.Sequential(*up)
        self.sr_head: nn.Module | None = None
        self.seg_head: nn.Module | None = None
        if "sr" in self.tasks:
            self.sr_head = Convolution(
                dims, width, self.internal_channels(in_channels), kernel_size=head_kernel_size, conv_only=True
            )
        if "seg" in self.tasks:
            self.seg_head = Convolution(
                dims, width, self.internal_channels(num_classes), kernel_size=head_kernel_size, conv_only=True
            )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Shared trunk: down-sampling, residual blocks with long skip, up-sampling.

        Args:
            x: the input in the internal layout (slices folded into channels for ``"2d"``).

        Returns:
            Full-resolution features ``(B, 4 * features, ...)``.
        """
        low = self.encoder(x)
        return self.upsampling(self.res_blocks(low) + low)

    def decode_sr(self, features: torch.Tensor) -> torch.Tensor:
        """Super-resolved grey volume in the internal layout (linear).

        Args:
            features: output of :meth:`encode`.
        """
        if self.sr_head is None:
            raise RuntimeError("this SegSRGenerator was built without the 'sr' task.")
        return self.sr_head(features)

    def decode_seg(self, features: torch.Tensor) -> torch.Tensor:
        """Segmentation logits in the internal layout.

        Args:
            features: output of :meth:`encode`.
        """
        if self.seg_head is None:
            raise RuntimeError("this SegSRGenerator was built without the 'seg' task.")
        return self.seg_head(features)
