"""CalibratedTranslator: a translation followed by the histogram calibration onto the source cohort."""

from __future__ import annotations

import torch

from custom_networks.baselines import HistogramMatching
from custom_networks.nets import VAMA, CalibratedTranslator


def _calibration() -> HistogramMatching:
    g = torch.Generator().manual_seed(0)
    source = [torch.rand(1, 16, 16, 8, generator=g).square() for _ in range(2)]  # a skewed source histogram
    return HistogramMatching(num_quantiles=21).fit(source)


def test_forward_is_the_calibrated_translation_and_scripts():
    torch.manual_seed(0)
    translator = VAMA(features=(4, 8, 16, 32), disc_channels=8).eval()
    calibration = _calibration()
    model = CalibratedTranslator(translator, calibration).eval()
    x = torch.rand(1, 1, 32, 32, 16)
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(out, calibration(translator(x)))
        # the output's foreground follows the reference histogram, whatever the translation's own
        fg = out[out > 0]
        levels = calibration.levels[2:-2]
        torch.testing.assert_close(torch.quantile(fg, levels), calibration.reference[2:-2], atol=0.02, rtol=0)
        # deployable as TorchScript (the bundle's deployed pipeline)
        torch.testing.assert_close(torch.jit.script(model)(x), out)
