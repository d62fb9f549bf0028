"""Closed-form polynomial learning-rate decay: values, exact resume, resume with a longer schedule."""

from __future__ import annotations

import pytest
import torch

from custom_networks.engines import PolynomialDecayLR

BASE = 2e-4


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))], lr=BASE)


def _run(optimizer, scheduler, epochs: int) -> list[float]:
    rates = []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_closed_form_values():
    optimizer = _optimizer()
    scheduler = PolynomialDecayLR(optimizer, max_epochs=10, power=0.9)
    rates = _run(optimizer, scheduler, 10)
    assert rates[0] == pytest.approx(BASE)
    assert rates[5] == pytest.approx(BASE * 0.5**0.9)
    assert optimizer.param_groups[0]["lr"] == 0.0  # end of the run
    scheduler.step()  # past the end: stays at 0, never negative or complex
    assert optimizer.param_groups[0]["lr"] == 0.0


def test_resume_continues_exactly():
    optimizer = _optimizer()
    scheduler = PolynomialDecayLR(optimizer, max_epochs=20)
    uninterrupted = _run(optimizer, scheduler, 20)

    optimizer = _optimizer()
    scheduler = PolynomialDecayLR(optimizer, max_epochs=20)
    first = _run(optimizer, scheduler, 8)
    state = {"opt": optimizer.state_dict(), "lr": scheduler.state_dict()}
    optimizer = _optimizer()  # a new process: fresh objects, then the checkpoint (optimiser first, as the bundles)
    scheduler = PolynomialDecayLR(optimizer, max_epochs=20)
    optimizer.load_state_dict(state["opt"])
    scheduler.load_state_dict(state["lr"])
    assert first + _run(optimizer, scheduler, 12) == pytest.approx(uninterrupted)


def test_resume_with_a_longer_schedule():
    optimizer = _optimizer()
    scheduler = PolynomialDecayLR(optimizer, max_epochs=10)
    _run(optimizer, scheduler, 10)
    assert optimizer.param_groups[0]["lr"] == 0.0
    state = {"opt": optimizer.state_dict(), "lr": scheduler.state_dict()}
    optimizer = _optimizer()
    scheduler = PolynomialDecayLR(optimizer, max_epochs=30)  # --max_epochs 30 --resume True
    optimizer.load_state_dict(state["opt"])  # restores the finished run's rate of 0
    scheduler.load_state_dict(state["lr"])
    assert scheduler.last_epoch == 10 and scheduler.max_epochs == 30
    assert optimizer.param_groups[0]["lr"] == pytest.approx(BASE * (1 - 10 / 30) ** 0.9)
    # torch's PolynomialLR, restored the same way, stays at 0: the defect this class removes
    optimizer = _optimizer()
    torch_scheduler = torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=30, power=0.9)
    optimizer.load_state_dict(state["opt"])
    optimizer.step()
    torch_scheduler.step()
    assert optimizer.param_groups[0]["lr"] == 0.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_epochs"):
        PolynomialDecayLR(_optimizer(), max_epochs=0)
