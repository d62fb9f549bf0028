"""Polynomial learning-rate decay in closed form, resumable from a checkpoint (also with a longer ``max_epochs``)."""

from __future__ import annotations

from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["PolynomialDecayLR"]


class PolynomialDecayLR(LRScheduler):
    """``lr(epoch) = base_lr * max(0, 1 - epoch / max_epochs) ** power``, stepped once per epoch.

    Unlike ``torch.optim.lr_scheduler.PolynomialLR``, whose rate is a running product of the previous one, the rate
    is computed from the epoch alone. Saved in the bundles' resume checkpoints, it therefore resumes exactly: loading
    its state restores the epoch count and sets the optimiser's rate to the schedule's value there (the optimiser's
    own restored state holds the last rate of the interrupted run). ``max_epochs`` and ``power`` are not restored:
    the current run's values win, so a run resumed with a larger ``max_epochs`` continues on the longer schedule
    (with ``PolynomialLR``, an optimiser restored at the end of a run has a rate of 0 and stays there).

    Args:
        optimizer: the optimiser.
        max_epochs: epochs of the whole run (the rate reaches 0 there).
        power: exponent of the decay (0.9 as in the bundles).
        last_epoch: index of the last epoch (-1: a new run).
    """

    def __init__(self, optimizer: Optimizer, max_epochs: int, power: float = 0.9, last_epoch: int = -1) -> None:
        if int(max_epochs) < 1:
            raise ValueError(f"max_epochs must be >= 1, got {max_epochs}")
        self.max_epochs = int(max_epochs)
        self.power = float(power)
        super().__init__(optimizer, last_epoch)

    def factor(self, epoch: int) -> float:
        """Multiplier of the base rates at ``epoch``.

        Args:
            epoch: epoch index.
        """
        return max(0.0, 1.0 - epoch / self.max_epochs) ** self.power

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """Rates of the optimiser's parameter groups at the current epoch."""
        return [base * self.factor(self.last_epoch) for base in self.base_lrs]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the epoch count and base rates (not ``max_epochs`` / ``power``) and apply the rate there.

        Args:
            state_dict: as returned by :meth:`state_dict`.
        """
        super().load_state_dict({k: v for k, v in state_dict.items() if k not in ("max_epochs", "power")})
        rates = [base * self.factor(self.last_epoch) for base in self.base_lrs]
        for group, rate in zip(self.optimizer.param_groups, rates, strict=True):
            group["lr"] = rate
        self._last_lr = rates
