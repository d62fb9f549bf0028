"""Image loss counted only where a target exists: the dropped slices of a real stack (self-supervised SR)."""

from __future__ import annotations

import torch
from monai.losses import MaskedLoss
from torch import nn
from torch.nn.modules.loss import _Loss

__all__ = ["MaskedImageLoss"]

_LOSSES = {"mse": nn.MSELoss, "l1": nn.L1Loss}


class MaskedImageLoss(_Loss):
    """Mean squared (or absolute) error over the voxels of a binary mask only.

    MONAI's :class:`~monai.losses.MaskedLoss` multiplies input and target by the mask before the wrapped loss; with a
    ``reduction="sum"`` loss that is the sum over the mask's voxels, divided here by their number (times the channels),
    so the loss is the mean over masked voxels whatever the mask's size, voxels outside the mask get no gradient, and
    a batch without any masked voxel gives 0.

    Usable as the ``loss_function(pred, label)`` of :class:`monai.engines.SupervisedTrainer`: when ``mask`` is not
    given, the **last** channel of ``target`` is the mask and the others the target (``label = cat([target, mask])``,
    e.g. by ``ConcatItemsd``).

    Args:
        loss: ``"mse"`` or ``"l1"``.

    Example::

        loss = MaskedImageLoss("mse")
        value = loss(sr, torch.cat([target, mask], dim=1))
    """

    def __init__(self, loss: str = "mse") -> None:
        super().__init__()
        if loss not in _LOSSES:
            raise ValueError(f"MaskedImageLoss loss {loss!r}: one of {', '.join(_LOSSES)}")
        self.masked = MaskedLoss(_LOSSES[loss], reduction="sum")

    def forward(self, input: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Masked mean error.

        Args:
            input: prediction ``(B, C, ...)``.
            target: ``(B, C, ...)``, or ``(B, C + 1, ...)`` with the mask last when ``mask`` is None.
            mask: binary ``(B, 1, ...)`` (or ``(1, 1, ...)``), 1 where the target counts.

        Raises:
            ValueError: shapes that do not match.
        """
        if mask is None:
            if target.shape[1] != input.shape[1] + 1:
                raise ValueError(
                    f"MaskedImageLoss: without a mask the target needs the input's {input.shape[1]} channels + 1 "
                    f"(the mask, last), got {tuple(target.shape)}"
                )
            target, mask = target[:, :-1], target[:, -1:]
        if target.shape != input.shape or mask.shape[1] != 1 or mask.shape[2:] != input.shape[2:]:
            raise ValueError(
                f"MaskedImageLoss: input {tuple(input.shape)}, target {tuple(target.shape)} and a one-channel mask "
                f"{tuple(mask.shape)} of the same spatial size expected"
            )
        mask = mask.to(input.dtype)
        count = mask.expand(input.shape[0], *mask.shape[1:]).sum() * input.shape[1]
        return self.masked(input, target.to(input.dtype), mask) / count.clamp_min(1.0)
