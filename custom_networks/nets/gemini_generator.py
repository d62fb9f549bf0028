"""Gemini-GAN generator: one shared U-Net encoder, two identical decoders (super-resolution and segmentation)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from custom_networks.nets.generator_base import TASKS, JointSRSegGenerator
from custom_networks.nets.unet_parts import UNetDecoder, UNetEncoder

__all__ = ["DEFAULT_FEATURES_2D", "DEFAULT_FEATURES_3D", "GeminiGenerator"]

#: CPU-friendly default encoder widths of the 3D layout.
DEFAULT_FEATURES_3D: tuple[int, ...] = (16, 32, 64, 128, 128)
#: Encoder widths of the original (2D, slices-as-channels) Gemini-GAN.
DEFAULT_FEATURES_2D: tuple[int, ...] = (64, 128, 256, 512, 512)


class GeminiGenerator(JointSRSegGenerator):
    """Gemini-GAN generator (Savioli et al., arXiv 2107.07975): joint super-resolution and segmentation.

    One shared U-Net encoder (two conv3x3-norm-act per level, 2x max-pool down) feeds **two decoders of identical
    structure** that both receive the same encoder skips (x2 up-sampling, concatenation, two conv3x3-norm-act with
    half middle width; decoder widths mirror the encoder, e.g. 256-128-64-64 for 64-128-256-512-512). Heads are
    1x1 convolutions: a linear one to the super-resolved grey volume, one to the class logits.

    Tensor contract (both layouts): the input is the low-resolution stack already interpolated onto the
    high-resolution grid, ``(B, in_channels, H, W, D)``, slice axis last, intensities normalised to [0, 1]. Outputs
    are on the same grid: the SR volume ``(B, in_channels, H, W, D)`` (linear, no output activation: it regresses
    the [0, 1] intensities) and the logits ``(B, num_classes, H, W, D)`` (labels 0 background, 1 LV blood pool,
    2 LV myocardium, 3 RV). ``forward`` returns them according to :attr:`output` (see
    :class:`~custom_networks.nets.generator_base.JointSRSegGenerator`).

    Layouts:

    * ``"3d"`` (default): true 3D convolutions. H, W and D must each be divisible by ``2 ** (len(features) - 1)``
      (16 with the default 5 levels); use a sliding-window inferer with such a ROI for volumes of any size. Default
      widths ``(16, 32, 64, 128, 128)``: 4.7 M parameters for both tasks.
    * ``"2d"``: the original layout, a 2D U-Net with the ``D = num_slices`` slices as channels. The volume is folded
      to ``(B, in_channels * D, H, W)``; the SR head has ``in_channels * D`` outputs and the segmentation head
      ``num_classes * D`` outputs (class-major), unfolded back to ``(B, C, H, W, D)``. H and W must be divisible
      by ``2 ** (len(features) - 1)``; D must equal ``num_slices``. With the original widths
      ``(64, 128, 256, 512, 512)`` and ``num_slices=100`` the network has 25.2 M parameters (the published ~25 M).

    Single-task U-Net baselines are the same class with ``tasks=("seg",)`` (segmentation U-Net) or ``tasks=("sr",)``
    (SR U-Net): only the needed decoder is built.

    Args:
        layout: ``"3d"`` or ``"2d"`` (see above).
        num_slices: depth D of the input volume; required for the ``"2d"`` layout, ignored for ``"3d"``.
        in_channels: channels of the input volume (and of the SR output).
        num_classes: number of segmentation classes, background included.
        features: encoder widths, full resolution first (at least 2 levels); ``None`` = ``(16, 32, 64, 128, 128)``
            for ``"3d"``, ``(64, 128, 256, 512, 512)`` for ``"2d"``.
        tasks: decoders to build, a non-empty subset of ``("sr", "seg")``.
        output: initial output selector ``"both"``, ``"sr"`` or ``"seg"``; ``None`` = every built task. Must be
            consistent with ``tasks``; changeable later through the :attr:`output` attribute.
        act: activation type and arguments (MONAI factory name or ``(name, kwargs)``); ReLU in the original.
        norm: normalisation type and arguments; batch norm in the original.
        dropout: dropout rate after each normalisation.
        bias: whether the 3x3 convolutions have a bias term.
        upsample: decoder up-sampling: ``"nontrainable"`` (interpolation, the original), ``"deconv"`` or
            ``"pixelshuffle"``.
        interp_mode: interpolation for ``"nontrainable"``: ``"linear"`` (bilinear in 2D, trilinear in 3D, the
            original) or ``"nearest"``.
        align_corners: ``align_corners`` of the interpolation (``True`` in the original).
        sr_channels: channels of the SR output; ``None`` = ``in_channels`` (a conditioned generator whose input
            carries more than the image sets 1).

    Raises:
        ValueError: for an unknown layout, a missing ``num_slices`` with the ``"2d"`` layout, bad widths or class
            counts, or an ``output`` inconsistent with ``tasks``.

    Example::

        net = GeminiGenerator()  # 3D layout, both tasks
        sr, seg_logits = net(torch.rand(1, 1, 64, 64, 32))
        net.output = "seg"  # e.g. for MONAI Label / TorchScript export
        seg_logits = net(torch.rand(1, 1, 64, 64, 32))
    """

    def __init__(
        self,
        layout: str = "3d",
        num_slices: int | None = None,
        in_channels: int = 1,
        num_classes: int = 4,
        features: Sequence[int] | None = None,
        tasks: Sequence[str] | str = TASKS,
        output: str | None = None,
        act: str | tuple = "relu",
        norm: str | tuple = "batch",
        dropout: float | tuple = 0.0,
        bias: bool = True,
        upsample: str = "nontrainable",
        interp_mode: str = "linear",
        align_corners: bool | None = True,
        sr_channels: int | None = None,
    ) -> None:
        if features is None:
            features = DEFAULT_FEATURES_2D if str(layout).lower() == "2d" else DEFAULT_FEATURES_3D
        features = tuple(features)
        if len(features) < 2 or any(isinstance(f, bool) or int(f) != f or f < 1 for f in features):
            raise ValueError(f"features must be at least 2 positive ints (encoder widths), got {features!r}.")
        super().__init__(layout, num_slices, in_channels, num_classes, tasks, output, 2 ** (len(features) - 1))
        self.features = features

        common = {"act": act, "norm": norm, "bias": bias, "dropout": dropout}
        decoder = {"upsample": upsample, "interp_mode": interp_mode, "align_corners": align_corners, **common}
        dims = self.spatial_dims
        self.encoder = UNetEncoder(dims, self.internal_channels(in_channels), features, **common)
        self.sr_decoder: nn.Module | None = None
        self.seg_decoder: nn.Module | None = None
        if "sr" in self.tasks:
            sr_out = in_channels if sr_channels is None else int(sr_channels)
            self.sr_decoder = UNetDecoder(dims, features, self.internal_channels(sr_out), **decoder)
        if "seg" in self.tasks:
            self.seg_decoder = UNetDecoder(dims, features, self.internal_channels(num_classes), **decoder)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Shared encoder features of every level.

        Args:
            x: the input in the internal layout (slices folded into channels for ``"2d"``).

        Returns:
            The features of every encoder level, full resolution first.
        """
        return self.encoder(x)

    def decode_sr(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Super-resolved grey volume in the internal layout (linear).

        Args:
            features: output of :meth:`encode`.
        """
        if self.sr_decoder is None:
            raise RuntimeError("this GeminiGenerator was built without the 'sr' task.")
        return self.sr_decoder(features)

    def decode_seg(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Segmentation logits in the internal layout.

        Args:
            features: output of :meth:`encode`.
        """
        if self.seg_decoder is None:
            raise RuntimeError("this GeminiGenerator was built without the 'seg' task.")
        return self.seg_decoder(features)
