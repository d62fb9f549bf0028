"""What the adversarial trainers share: the compute device, a ``run`` that keeps the grad scaler, and one
optimiser step (backward, events, step) with or without fp16 loss scaling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from monai.engines import Trainer
from monai.engines.workflow import Workflow
from torch.optim.optimizer import Optimizer

__all__ = ["TwoOptimizerTrainer"]


class TwoOptimizerTrainer(Trainer):
    """Base of :class:`~custom_networks.engines.JointGanTrainer` and
    :class:`~custom_networks.engines.TranslationGanTrainer` (a generator and a discriminator optimiser stepped in
    turn each iteration). Subclasses set ``self.scaler`` (``None`` without fp16) and implement ``_iteration``."""

    scaler: torch.amp.GradScaler | None = None

    @property
    def _compute_device(self) -> torch.device:
        return self.state.device if self.state.device is not None else torch.device("cpu")

    def run(self) -> None:  # type: ignore[override]
        """Run the training; calling it again continues from the current state (e.g. after ``CheckpointLoader``).

        Unlike ``monai.engines.Trainer.run`` this keeps the scaler built at construction (fp16 on CUDA only), so a
        checkpointed scaler state survives.
        """
        Workflow.run(self)

    def _backward_step(self, loss: torch.Tensor, optimizer: Optimizer, backward_events: Sequence[Any]) -> None:
        """Backward (scaled with fp16), fire ``backward_events`` (e.g. for gradient clipping), optimiser step."""
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        for event in backward_events:
            self.fire_event(event)
        if self.scaler is not None:
            self.scaler.step(optimizer)
        else:
            optimizer.step()
