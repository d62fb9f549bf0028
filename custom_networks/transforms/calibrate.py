"""Dictionary transform applying an intensity calibration (a fitted histogram matching) to whole volumes."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform
from torch import nn

__all__ = ["CalibrateIntensityd"]


class CalibrateIntensityd(MapTransform):
    """Apply ``calibration`` (e.g. :class:`~custom_networks.baselines.HistogramMatching`) to channel-first volumes.

    Used after the inferer, so that the calibration sees each whole volume (inside a sliding-window inferer every
    window would be matched on its own). Metadata and the record of applied operations of a ``MetaTensor`` are kept,
    so inverting the preprocessing afterwards (``Invertd``) still works.

    Args:
        keys: keys of the volumes ``(C, *spatial)`` to calibrate.
        calibration: module mapping ``(B, C, *spatial)`` to the same shape; run without gradients.
        allow_missing_keys: do not raise for a missing key.
    """

    def __init__(
        self, keys: Sequence[Hashable] | Hashable, calibration: nn.Module, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.calibration = calibration

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Calibrate every key of ``data``; returns a new dict."""
        d = dict(data)
        for key in self.key_iterator(d):
            volume = d[key]
            with torch.no_grad():
                out = self.calibration(torch.as_tensor(volume)[None])[0]
            if isinstance(volume, MetaTensor):
                calibrated = volume.clone()
                calibrated.copy_(out)
                out = calibrated
            d[key] = out
        return d
