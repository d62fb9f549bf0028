"""Metric handlers for validation: surface distances in millimetres and per-class selections."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from monai.data import MetaTensor
from monai.handlers import IgniteMetricHandler, from_engine
from monai.metrics import CumulativeIterationMetric

__all__ = ["SpacingAwareMetricHandler", "select_class"]


def _spacings(batch: torch.Tensor, n: int) -> list[list[float] | None]:
    """Voxel spacing of each of the ``n`` cases of a batched channel-first tensor, from its affine(s)."""
    if not isinstance(batch, MetaTensor):
        return [None] * n
    dims = batch.ndim - 2
    affine = batch.affine
    affines = affine[None].expand(n, *affine.shape) if affine.ndim == 2 else affine
    return [torch.sqrt((a[:dims, :dims].float() ** 2).sum(0)).tolist() for a in affines]


class SpacingAwareMetricHandler(IgniteMetricHandler):
    """``IgniteMetricHandler`` that passes each case's voxel spacing (from the prediction's affine) to the metric,
    so that e.g. ``HausdorffDistanceMetric`` / ``SurfaceDistanceMetric`` report millimetres on anisotropic grids.

    Args:
        metric_fn: a MONAI cumulative metric accepting ``spacing=`` (Hausdorff / surface distance).
        output_transform: maps the engine output to ``(y_pred, y)`` lists of channel-first tensors.
        save_details: keep per-case details in ``engine.state.metric_details``.
    """

    def __init__(
        self,
        metric_fn: CumulativeIterationMetric,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)

    def update(self, output: Sequence[Any]) -> None:
        """Compute the metric for a batch (list of cases), each with its own spacing."""
        if len(output) != 2:
            raise ValueError(f"output must have length 2, got {len(output)}.")
        y_pred, y = output
        if isinstance(y_pred, list | tuple):
            y_pred, y = torch.stack(list(y_pred)), torch.stack(list(y))
        n = y_pred.shape[0]
        pred_spacing, label_spacing = _spacings(y_pred, n), _spacings(y, n)
        for i in range(n):
            spacing = pred_spacing[i] or label_spacing[i]
            self.metric_fn(
                y_pred[i : i + 1].as_tensor() if isinstance(y_pred, MetaTensor) else y_pred[i : i + 1],
                y[i : i + 1].as_tensor() if isinstance(y, MetaTensor) else y[i : i + 1],
                spacing=spacing,
            )


def select_class(index: int, keys: Sequence[str] = ("pred", "label")) -> Callable:
    """Output transform selecting one class channel of decollated one-hot ``pred``/``label`` (for per-class Dice).

    Args:
        index: class channel.
        keys: output keys of the prediction and the reference.
    """
    getter = from_engine(list(keys))

    def transform(output: Any) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        preds, labels = getter(output)
        return [p[index : index + 1] for p in preds], [t[index : index + 1] for t in labels]

    return transform
