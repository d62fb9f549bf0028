"""Sliding-window inference whose window is bounded by a voxel budget, chosen per input from its size."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from monai.inferers import SlidingWindowInferer

__all__ = ["BoundedWindowInferer", "bounded_roi_size"]

logger = logging.getLogger(__name__)


def bounded_roi_size(
    spatial_shape: Sequence[int],
    requested: Sequence[int],
    max_window_voxels: int,
    fallback: Sequence[int] = (192, 192, 64),
) -> tuple[int, ...]:
    """The window for an input of ``spatial_shape``.

    Args:
        spatial_shape: the input's spatial size.
        requested: the configured window (``-1`` along an axis: the whole axis).
        max_window_voxels: largest window (voxels) run in one piece; 0 or negative: no bound.
        fallback: the window used instead when the requested one exceeds the bound (each axis capped at the
            input's size and halved, keeping multiples of 16, until it fits).

    Returns:
        The window to use (``requested`` resolved against ``spatial_shape`` when it fits).
    """
    shape = [int(s) for s in spatial_shape]
    window = [s if int(r) <= 0 else min(int(r), s) for r, s in zip(requested, shape, strict=True)]
    if max_window_voxels <= 0 or math.prod(window) <= max_window_voxels:
        return tuple(window)
    window = [min(int(f), s) for f, s in zip(fallback, shape, strict=True)]
    while math.prod(window) > max_window_voxels and max(window) > 16:
        axis = max(range(len(window)), key=lambda a: window[a])
        window[axis] = max(16, (window[axis] // 2) // 16 * 16)
    return tuple(window)


class BoundedWindowInferer(SlidingWindowInferer):
    """:class:`~monai.inferers.SlidingWindowInferer` whose window never exceeds ``max_window_voxels``.

    The configured ``roi_size`` (``-1`` for a whole axis, e.g. ``[-1, -1, -1]``: the whole volume in one window, as
    in training validation) is used when it fits the budget; a larger input runs in sliding windows of
    :func:`bounded_roi_size` (logged), so memory stays bounded whatever the input's size. The window used for the
    last input is kept in ``last_roi_size``.

    Args:
        roi_size: requested window.
        max_window_voxels: voxel budget of one window (0: unbounded).
        fallback_roi_size: window used above the budget.
        kwargs: the other arguments of :class:`~monai.inferers.SlidingWindowInferer`.
    """

    def __init__(
        self,
        roi_size: Sequence[int] | int,
        max_window_voxels: int = 12_000_000,
        fallback_roi_size: Sequence[int] = (192, 192, 64),
        **kwargs: Any,
    ) -> None:
        super().__init__(roi_size=roi_size, **kwargs)
        self.requested_roi_size = tuple(self.roi_size) if isinstance(self.roi_size, Sequence) else self.roi_size
        self.max_window_voxels = int(max_window_voxels)
        self.fallback_roi_size = tuple(int(s) for s in fallback_roi_size)
        self.last_roi_size: tuple[int, ...] | None = None

    def __call__(self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Choose the window for ``inputs`` (batch, channel, spatial...), then run the sliding-window inference."""
        spatial = tuple(int(s) for s in inputs.shape[2:])
        requested = self.requested_roi_size
        if not isinstance(requested, Sequence):
            requested = (int(requested),) * len(spatial)
        roi = bounded_roi_size(spatial, requested, self.max_window_voxels, self.fallback_roi_size)
        whole = tuple(s if int(r) <= 0 else min(int(r), s) for r, s in zip(requested, spatial, strict=True))
        if roi != whole:
            logger.info(
                "input of %s voxels (%.1f M) exceeds the %.1f M-voxel window budget: sliding windows of %s",
                "x".join(map(str, spatial)),
                math.prod(spatial) / 1e6,
                self.max_window_voxels / 1e6,
                "x".join(map(str, roi)),
            )
        self.roi_size = roi
        self.last_roi_size = roi
        return super().__call__(inputs, network, *args, **kwargs)
