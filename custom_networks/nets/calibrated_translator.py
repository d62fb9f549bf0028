"""A domain translation followed by an intensity calibration onto the source cohort (histogram matching).

A learned translation (V-AMA, or a comparator) can reproduce the source domain's contrast and texture and still be
globally off in intensity (brightness and contrast drift with the adversarial game, and the frozen Gemini-GAN is
sensitive to them). Mapping the translation's histogram onto the source cohort's
(:class:`~custom_networks.baselines.HistogramMatching`, a monotone remapping that moves no edge) removes that drift;
the V-AMA bundle deploys V-AMA this way (``calibrate``) and reports every method with and without it.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CalibratedTranslator"]


class CalibratedTranslator(nn.Module):
    """``forward(target) = calibration(translator(target))``.

    Args:
        translator: the translation network (``forward(target) -> translation``, same shape).
        calibration: the intensity calibration applied to the translation (a fitted
            :class:`~custom_networks.baselines.HistogramMatching`).
    """

    def __init__(self, translator: nn.Module, calibration: nn.Module) -> None:
        super().__init__()
        self.translator = translator
        self.calibration = calibration

    def forward(self, target: torch.Tensor) -> torch.Tensor:
        """Translate, then calibrate the translation's intensities.

        Args:
            target: ``(B, C, *spatial)`` target-domain volumes; whole volumes (the calibration of a window would
                match that window on its own).
        """
        return self.calibration(self.translator(target))
