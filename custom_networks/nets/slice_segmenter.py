"""The stage-1 slice segmenter: a 2D U-Net that labels every acquired short-axis slice of a real stack.

A real stack holds a handful of well-resolved 2D slices; what a heart looks like on a scanner is a 2D question, cheap
to learn from labelled real slices on two CPU cores. The 3D shape between the slices is left to the HR step.
"""

from __future__ import annotations

from collections.abc import Sequence

from monai.networks.nets import UNet

from custom_networks.core.labels import NUM_CLASSES

__all__ = ["SliceSegmenter"]


class SliceSegmenter(UNet):
    """MONAI's 2D :class:`~monai.networks.nets.UNet` with the defaults chosen for short-axis slices.

    Input ``(B, 1, H, W)`` slices at the in-plane spacing it was trained at (the configs' ``slice_spacing``, 1.5 mm),
    intensities scaled to [0, 1] per stack (0.5-99.5 percentiles); output ``(B, num_classes, H, W)`` class logits.
    H and W must be multiples of ``2 ** (len(channels) - 1)`` (16 by default: pad, e.g. with ``DivisiblePadd``).

    The default (5 levels, 16-256 channels, one residual unit per level, instance norm; 0.84 M parameters) was
    chosen over the 4-level 32-256 U-Net of the first probe: twice the receptive field at the bottom (the RV beside
    the LV needs context) for about half the CPU time per step (``benchmarks/bench_slice_segmenter.py`` times this one).

    Args:
        num_classes: output classes, background included.
        channels: features per level.
        num_res_units: residual units per level.
        dropout: dropout probability.
    """

    def __init__(
        self,
        num_classes: int = NUM_CLASSES,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        num_res_units: int = 1,
        dropout: float = 0.0,
    ):
        channels = tuple(int(c) for c in channels)
        super().__init__(
            spatial_dims=2,
            in_channels=1,
            out_channels=int(num_classes),
            channels=channels,
            strides=(2,) * (len(channels) - 1),
            num_res_units=int(num_res_units),
            norm="instance",
            dropout=dropout,
        )
        self.num_classes = int(num_classes)
        #: What the slice size must be a multiple of (an attribute, not a property: TorchScript exports the module).
        self.divisor = 2 ** (len(channels) - 1)
