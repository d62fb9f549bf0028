"""Tests of TranslationGanTrainer with a small V-AMA on random paired volumes."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.distributed as dist
from ignite.engine import Events
from monai.engines.utils import IterationEvents
from monai.utils import AdversarialIterationEvents
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from custom_networks.engines import TranslationGanTrainer, TranslationPrepareBatch
from custom_networks.engines.translation_trainer import call_translation_model
from custom_networks.nets import VAMA

torch.set_num_threads(1)

SHAPE = (1, 32, 32, 16)


def fixed_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    """One batch of 2 aligned pairs; the source is a contrast change of the target."""
    g = torch.Generator().manual_seed(seed)
    target = torch.rand((2, *SHAPE), generator=g)
    return {"source": (1.0 - target) * 0.6 + 0.2, "target": target}


def build(model: nn.Module | None = None, iterations: int = 4, lr: float = 2e-3, **kwargs):
    torch.manual_seed(0)
    model = model or VAMA(features=(8, 16, 32), disc_channels=8, disc_num_layers=2, train_sample=False)
    inner = model.module if isinstance(model, DistributedDataParallel) else model
    g_opt = torch.optim.Adam(inner.generator_parameters(), lr=lr, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(inner.discriminator_parameters(), lr=lr, betas=(0.5, 0.999))
    batch = fixed_batch()
    trainer = TranslationGanTrainer("cpu", 1, [batch] * iterations, model, g_opt, d_opt, **kwargs)
    return trainer, inner, batch


def generator_loss(model: VAMA, batch: dict[str, torch.Tensor]) -> dict[str, float]:
    with torch.no_grad():
        return {k: float(v) for k, v in model.generator_loss(batch["source"], batch["target"]).items()}


def test_training_lowers_generator_loss_and_updates_discriminators():
    trainer, model, batch = build(iterations=6)
    before = generator_loss(model, batch)
    d_before = [copy.deepcopy(d.state_dict()) for d in model.discriminator_modules()]
    trainer.run()
    after = generator_loss(model, batch)
    assert after["loss"] < before["loss"]
    assert after["source_mse"] + after["target_mse"] < before["source_mse"] + before["target_mse"]
    for disc, state in zip(model.discriminator_modules(), d_before, strict=True):
        assert any(not torch.equal(p, state[n]) for n, p in disc.named_parameters())

    out = trainer.state.output
    g_terms = {f"g_{b}_{k}" for b in ("source", "target") for k in ("loss", "mse", "l1", "kl", "adv")}
    d_terms = {f"d_{b}_{k}" for b in ("source", "target") for k in ("loss", "real", "fake")}
    assert set(out) == {"source", "target", "loss", "d_loss"} | g_terms | d_terms
    for key in {"loss", "d_loss"} | g_terms | d_terms:
        assert out[key].ndim == 0 and not out[key].requires_grad
    torch.testing.assert_close(out["source"], batch["source"])
    assert trainer.network is model


def test_events_fire_in_order():
    trainer, _, _ = build(iterations=1)
    fired: list[str] = []
    events = [
        IterationEvents.FORWARD_COMPLETED,
        AdversarialIterationEvents.GENERATOR_FORWARD_COMPLETED,
        AdversarialIterationEvents.GENERATOR_DISCRIMINATOR_FORWARD_COMPLETED,
        IterationEvents.LOSS_COMPLETED,
        AdversarialIterationEvents.GENERATOR_LOSS_COMPLETED,
        IterationEvents.BACKWARD_COMPLETED,
        AdversarialIterationEvents.GENERATOR_BACKWARD_COMPLETED,
        AdversarialIterationEvents.GENERATOR_MODEL_COMPLETED,
        AdversarialIterationEvents.DISCRIMINATOR_REALS_FORWARD_COMPLETED,
        AdversarialIterationEvents.DISCRIMINATOR_FAKES_FORWARD_COMPLETED,
        AdversarialIterationEvents.DISCRIMINATOR_LOSS_COMPLETED,
        AdversarialIterationEvents.DISCRIMINATOR_BACKWARD_COMPLETED,
        AdversarialIterationEvents.DISCRIMINATOR_MODEL_COMPLETED,
        IterationEvents.MODEL_COMPLETED,
    ]
    for event in events:
        trainer.add_event_handler(event, lambda _, e=event: fired.append(str(e)))
    seen_loss: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen_loss.append(float(e.state.output["loss"])))
    trainer.run()
    assert fired == [str(e) for e in events]
    assert len(seen_loss) == 1


def test_prepare_batch_and_custom_keys():
    prepare = TranslationPrepareBatch("a", "b")
    x, y = torch.zeros(1), torch.ones(1)
    assert prepare({"a": x, "b": y}) == (x, y)
    assert prepare([x, y]) == (x, y)
    with pytest.raises(KeyError, match="'b'"):
        prepare({"a": x})
    with pytest.raises(ValueError, match="source, target"):
        prepare([x])
    trainer, _, batch = build(iterations=1, source_key="src", target_key="tgt")
    trainer.data_loader = [{"src": batch["source"], "tgt": batch["target"]}]
    trainer.run()
    assert "g_source_mse" in trainer.state.output


def test_rejects_non_translation_models():
    with pytest.raises(TypeError, match="TranslationModel"):
        TranslationGanTrainer("cpu", 1, [], nn.Linear(1, 1), torch.optim.SGD([nn.Parameter(torch.zeros(1))], 0.1), None)
    with pytest.raises(TypeError, match="DataParallel"):
        call_translation_model(nn.DataParallel(VAMA()), "generator_loss")


def test_amp_bf16_on_cpu():
    torch.manual_seed(0)
    model = VAMA(spatial_dims=2, features=(4, 8), disc_channels=4, disc_num_layers=2)
    g_opt = torch.optim.Adam(model.generator_parameters(), lr=1e-3)
    d_opt = torch.optim.Adam(model.discriminator_parameters(), lr=1e-3)
    batch = {"source": torch.rand(2, 1, 32, 32), "target": torch.rand(2, 1, 32, 32)}
    trainer = TranslationGanTrainer("cpu", 1, [batch] * 2, model, g_opt, d_opt, amp=True)
    assert trainer.scaler is None
    trainer.run()
    out = trainer.state.output
    assert out["loss"].dtype == torch.float32 and torch.isfinite(out["loss"]) and torch.isfinite(out["d_loss"])


def test_ddp_calls_go_through_the_wrapper(tmp_path):
    """Both loss calls run through DDP's forward: with find_unused_parameters=False DDP's reducer notices that the
    discriminator step leaves the generators unused (so it was engaged); with True, training runs."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        model = VAMA(features=(4, 8, 16), disc_channels=4, disc_num_layers=2)
        ddp = DistributedDataParallel(model, find_unused_parameters=True)
        trainer, inner, _ = build(ddp, iterations=2)
        assert inner is model
        trainer.run()
        assert "forward" not in model.__dict__  # the temporary forward was removed
        assert torch.isfinite(trainer.state.output["loss"])
        strict = DistributedDataParallel(VAMA(features=(4, 8, 16), disc_channels=4, disc_num_layers=2))
        trainer, _, _ = build(strict, iterations=2)
        with pytest.raises(RuntimeError, match="find_unused_parameters"):
            trainer.run()
    finally:
        dist.destroy_process_group()
