"""Classic intensity-harmonisation baseline for domain adaptation: histogram matching onto the source cohort.

The simplest answer to "my scanner's images look different" is a monotone intensity remapping: map the quantiles
of each target image's foreground histogram onto the mean foreground quantiles of the source cohort, piecewise
linearly between quantiles (histogram matching; with a few landmarks this is Nyul-Udupa histogram
standardisation). It changes no structure: what it cannot fix (blur, noise, texture, contrasts that swap order)
is left to the learned translations. Any learned domain adaptation must beat it to be worth its cost.

:class:`HistogramMatching` is an ``nn.Module`` with the same deployable interface as the translation models
(``forward(target) -> translation``, same shape, [0, 1] range), so the V-AMA bundle evaluates it like a
comparator; its "training" is :meth:`HistogramMatching.fit` on source-domain images, and its state dict
(the reference quantiles) is its checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["HistogramMatching", "interp_monotone"]


def interp_monotone(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation ``f(x)`` through the points ``(xp, fp)``, constant beyond the ends.

    ``xp`` must be non-decreasing; at tied abscissae the ordinate of the *last* of them is used (like
    ``numpy.interp``).

    Args:
        x: where to evaluate, any shape.
        xp: abscissae ``(N,)``, non-decreasing.
        fp: ordinates ``(N,)``.

    Returns:
        ``f(x)``, same shape as ``x``.
    """
    flat = x.reshape(-1)
    idx = torch.searchsorted(xp, flat, right=True).clamp(1, xp.numel() - 1)
    x0, x1 = xp[idx - 1], xp[idx]
    y0, y1 = fp[idx - 1], fp[idx]
    width = x1 - x0
    t = torch.where(width > 0, (flat - x0) / width.clamp_min(1e-30), torch.ones_like(flat))
    out = y0 + t.clamp(0.0, 1.0) * (y1 - y0)
    out = torch.where(flat <= xp[0], fp[0], out)
    out = torch.where(flat >= xp[-1], fp[-1], out)
    return out.reshape(x.shape)


def _foreground_quantiles(image: torch.Tensor, levels: torch.Tensor, threshold: float) -> torch.Tensor:
    """Quantiles ``levels`` of the voxels of ``image`` above ``threshold`` (linear interpolation between order
    statistics, as ``numpy.quantile``; by sorting, so no size limit). Positions are computed in float64: in float32
    they round past the last voxel above 2**24 voxels."""
    values = image.reshape(-1)
    values = values[values > threshold]
    if values.numel() == 0:
        raise ValueError(f"the image has no voxel above the foreground threshold {threshold}.")
    values, _ = torch.sort(values.double())
    last = values.numel() - 1
    pos = levels.double() * last
    lo = pos.floor().long().clamp(0, last)
    hi = pos.ceil().long().clamp(0, last)
    return (values[lo] + (pos - lo.double()) * (values[hi] - values[lo])).float()


class HistogramMatching(nn.Module):
    """Histogram matching of each input volume onto the source cohort's mean foreground quantiles.

    For every volume of a batch: its voxels above ``foreground_threshold`` (after the pipeline's percentile scaling
    only the clipped lowest 0.5 % and zero padding are 0, so this is nearly the whole field of view, air included) are
    mapped through the piecewise-linear function taking their own ``num_quantiles`` quantiles onto the reference
    quantiles; the other voxels are left unchanged, and so is a volume without any. The reference is the mean, over
    the source images given to :meth:`fit`, of their quantiles. The mapping is monotone: anatomy and edges stay where
    they are. Apply it to whole volumes: on the windows of a sliding-window inferer each window would be matched on
    its own.

    Args:
        num_quantiles: number of equally spaced quantile levels from 0 to 1 (landmarks of the mapping; at least 2).
        foreground_threshold: voxels at or below it are background (neither measured nor changed).

    Raises:
        ValueError: for fewer than 2 quantiles.
    """

    def __init__(self, num_quantiles: int = 101, foreground_threshold: float = 0.0) -> None:
        super().__init__()
        if int(num_quantiles) < 2:
            raise ValueError(f"num_quantiles must be at least 2, got {num_quantiles}.")
        self.register_buffer("threshold", torch.tensor(float(foreground_threshold)))  # saved with the reference
        self.register_buffer("levels", torch.linspace(0.0, 1.0, int(num_quantiles)))
        self.register_buffer("reference", torch.linspace(0.0, 1.0, int(num_quantiles)))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, images: Iterable[torch.Tensor]) -> HistogramMatching:
        """Set the reference quantiles from source-domain images.

        Args:
            images: source-domain volumes (any shape each, e.g. ``(1, H, W, D)``), scaled as the network inputs.

        Returns:
            ``self``.

        Raises:
            ValueError: when no image is given or one has no foreground.
        """
        quantiles = [_foreground_quantiles(torch.as_tensor(img), self.levels, float(self.threshold)) for img in images]
        if not quantiles:
            raise ValueError("fit needs at least one source-domain image.")
        self.reference.copy_(torch.stack(quantiles).mean(0).to(self.reference))
        self.fitted.fill_(True)
        return self

    def forward(self, target: torch.Tensor) -> torch.Tensor:
        """Match every volume of a batch onto the reference histogram.

        Args:
            target: ``(B, C, *spatial)`` volumes, scaled as the network inputs.

        Returns:
            The matched volumes, same shape and dtype.

        Raises:
            RuntimeError: when the module was neither fitted nor loaded from a fitted state dict.
        """
        if not bool(self.fitted):
            raise RuntimeError("HistogramMatching has no reference: call fit(source_images) or load its checkpoint.")
        threshold = float(self.threshold)
        out = []
        for volume in target:
            foreground = volume > threshold
            if not bool(foreground.any()):  # nothing to match (e.g. an all-zero window or translation)
                out.append(volume)
                continue
            own = _foreground_quantiles(volume, self.levels, threshold)
            mapped = interp_monotone(volume.float(), own, self.reference.float()).to(volume.dtype)
            out.append(torch.where(foreground, mapped, volume))
        return torch.stack(out)
