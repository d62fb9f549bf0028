"""Tests of JointGanTrainer with tiny stand-in networks on a small synthetic SR + segmentation problem."""

from __future__ import annotations

import copy

import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader
from monai.handlers import CheckpointLoader, CheckpointSaver, MeanDice, StatsHandler, from_engine
from monai.transforms import AsDiscreted
from monai.utils import set_determinism
from torch import nn

from custom_networks.engines import JointGanTrainer, JointPrepareBatch, amp_autocast, make_grad_scaler
from custom_networks.losses import JointSRSegLoss

SPATIAL = (16, 16, 8)
THRESHOLDS = torch.tensor([0.25, 0.5, 0.75])


class TinyGenerator(nn.Module):
    """Stand-in generator with the project's contract: (B,1,H,W,D) -> (sr, seg_logits) or one of them."""

    def __init__(self, output: str = "both", width: int = 6) -> None:
        super().__init__()
        self.output = output
        self.body = nn.Sequential(nn.Conv3d(1, width, 3, padding=1), nn.ReLU())
        self.sr_head = nn.Conv3d(width, 1, 1)
        self.seg_head = nn.Conv3d(width, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        sr = x + self.sr_head(h)
        if self.output == "sr":
            return sr
        if self.output == "seg":
            return self.seg_head(h)
        return sr, self.seg_head(h)


class TinyDiscriminator(nn.Module):
    """Stand-in conditional patch discriminator on cat([grey, label probabilities])."""

    def __init__(self, in_channels: int = 5) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(in_channels, 4, 3, stride=2, padding=1),
            nn.BatchNorm3d(4),
            nn.LeakyReLU(0.2),
            nn.Conv3d(4, 1, 3, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def make_items(n: int = 4, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """Smooth HR volumes, a degraded copy as network input and intensity-threshold labels."""
    g = torch.Generator().manual_seed(seed)
    items = []
    for _ in range(n):
        coarse = torch.rand((1, 1, 4, 4, 2), generator=g)
        hr = nn.functional.interpolate(coarse, size=SPATIAL, mode="trilinear", align_corners=True)[0]
        image = (hr + 0.05 * torch.randn(hr.shape, generator=g)).clamp(0, 1)
        label = torch.bucketize(hr, THRESHOLDS).float()
        items.append({"image": image, "label": label, "hr_image": hr})
    return items


def build(
    seed: int = 0,
    with_d: bool = True,
    max_epochs: int = 1,
    output: str = "both",
    lr: float = 1e-2,
    batch_size: int = 2,
    device: str = "cpu",
    **kwargs,
) -> JointGanTrainer:
    set_determinism(seed)
    generator = TinyGenerator(output).to(device)
    discriminator = None
    d_optimizer = None
    if with_d:
        in_channels = {"both": 5, "sr": 1, "seg": 4}[output]
        discriminator = TinyDiscriminator(in_channels).to(device)
        d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=lr)
    loader = DataLoader(make_items(), batch_size=batch_size, shuffle=True, num_workers=0)
    return JointGanTrainer(
        device=device,
        max_epochs=max_epochs,
        train_data_loader=loader,
        generator=generator,
        g_optimizer=torch.optim.Adam(generator.parameters(), lr=lr, weight_decay=1e-6),
        g_loss=kwargs.pop("g_loss", JointSRSegLoss()),
        discriminator=discriminator,
        d_optimizer=d_optimizer,
        **kwargs,
    )


def record_outputs(trainer: JointGanTrainer) -> list[dict]:
    """Collect ``engine.state.output`` (a dict, or a list of dicts when decollated) after every iteration."""
    outputs: list = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: outputs.append(copy.copy(e.state.output)))
    return outputs


@pytest.fixture(autouse=True)
def _single_thread_and_reset_determinism():
    """Tiny tensors: one intra-op thread is faster and immune to contention from other processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    set_determinism(None)


def test_output_holds_every_term_with_batch_of_two():
    trainer = build(max_epochs=1)
    outputs = record_outputs(trainer)
    trainer.run()
    assert len(outputs) == 2 and trainer.state.iteration == 2
    out = outputs[-1]
    expected = {"image", "label", "hr_image", "pred", "sr", "loss", "g_img", "g_seg", "g_adv"}
    expected |= {"d_loss", "d_real", "d_fake"}
    assert expected <= set(out)
    assert out["pred"].shape == (2, 4, *SPATIAL) and out["sr"].shape == (2, 1, *SPATIAL)
    assert not out["pred"].requires_grad and not out["sr"].requires_grad
    for key in ("loss", "g_img", "g_seg", "g_adv", "d_loss", "d_real", "d_fake"):
        assert out[key].ndim == 0 and torch.isfinite(out[key]) and not out[key].requires_grad
    torch.testing.assert_close(out["loss"], out["g_img"] + out["g_seg"] + 1e-3 * out["g_adv"])
    torch.testing.assert_close(out["d_loss"], 0.5 * (out["d_real"] + out["d_fake"]))
    assert out["g_adv"] > 0


def test_generator_and_discriminator_both_change_every_iteration():
    trainer = build(max_epochs=2)
    snapshots: dict[str, list[torch.Tensor]] = {}
    changed: list[tuple[bool, bool]] = []

    def flat(module: nn.Module) -> torch.Tensor:
        return torch.cat([p.detach().flatten().clone() for p in module.parameters()])

    @trainer.on(Events.ITERATION_STARTED)
    def _before(engine):
        snapshots["g"], snapshots["d"] = flat(engine.generator), flat(engine.discriminator)

    @trainer.on(Events.ITERATION_COMPLETED)
    def _after(engine):
        changed.append(
            (
                not torch.equal(snapshots["g"], flat(engine.generator)),
                not torch.equal(snapshots["d"], flat(engine.discriminator)),
            )
        )

    trainer.run()
    assert changed == [(True, True)] * 4


def test_generator_loss_decreases():
    trainer = build(max_epochs=30, lr=3e-2)
    outputs = record_outputs(trainer)
    trainer.run()
    losses = torch.stack([o["loss"] for o in outputs]).view(30, 2).mean(dim=1)
    assert losses[-2:].mean() < 0.8 * losses[:2].mean()
    assert (
        torch.stack([o["g_seg"] for o in outputs[-2:]]).mean() < torch.stack([o["g_seg"] for o in outputs[:2]]).mean()
    )


def test_discriminator_free_mode():
    trainer = build(with_d=False, max_epochs=2)
    outputs = record_outputs(trainer)
    trainer.run()
    assert trainer.discriminator is None and trainer.d_optimizer is None
    out = outputs[-1]
    assert not any(k.startswith("d_") for k in out)
    assert out["g_adv"].item() == 0.0
    torch.testing.assert_close(out["loss"], out["g_img"] + out["g_seg"])


@pytest.mark.parametrize(("output", "with_d"), [("sr", True), ("seg", True), ("seg", False)])
def test_single_task_generators(output, with_d):
    trainer = build(output=output, with_d=with_d, max_epochs=1)
    outputs = record_outputs(trainer)
    trainer.run()
    out = outputs[-1]
    assert ("sr" in out) == (output == "sr") and ("pred" in out) == (output == "seg")
    assert (out["g_img"].item() > 0) == (output == "sr") and (out["g_seg"].item() > 0) == (output == "seg")
    assert ("d_loss" in out) == with_d


def test_generator_output_override_and_errors():
    # a single-tensor generator without an `output` attribute needs `generator_output`
    class Bare(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv3d(1, 4, 1)

        def forward(self, x):
            return self.conv(x)

    loader = DataLoader(make_items(2), batch_size=2)
    net = Bare()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    JointGanTrainer("cpu", 1, loader, net, opt, generator_output="seg").run()
    with pytest.raises(ValueError, match="single tensor"):
        JointGanTrainer("cpu", 1, loader, net, opt).run()
    with pytest.raises(ValueError, match="d_optimizer"):
        JointGanTrainer("cpu", 1, loader, net, opt, discriminator=TinyDiscriminator())


def test_seeded_runs_are_identical():
    def losses(seed: int) -> list[list[float]]:
        trainer = build(seed=seed, max_epochs=2)
        outputs = record_outputs(trainer)
        trainer.run()
        return [[o[k].item() for k in ("loss", "g_img", "g_seg", "g_adv", "d_loss")] for o in outputs]

    first, second = losses(3), losses(3)
    assert first == second
    assert losses(4) != first


def test_decollate_postprocessing_training_metric_and_stats_handler():
    post = AsDiscreted(keys=["pred", "label"], argmax=[True, False], to_onehot=4)
    trainer = build(
        max_epochs=1,
        decollate=True,
        postprocessing=post,
        key_train_metric={"train_dice": MeanDice(output_transform=from_engine(["pred", "label"]))},
        train_handlers=[StatsHandler(output_transform=from_engine(["loss"], first=True), name="joint_test")],
    )
    outputs = record_outputs(trainer)
    trainer.run()
    assert isinstance(trainer.state.output, list) and len(trainer.state.output) == 2
    assert trainer.state.output[0]["pred"].shape == (4, *SPATIAL)
    assert 0.0 <= trainer.state.metrics["train_dice"] <= 1.0
    loss = from_engine(["loss"], first=True)(outputs[-1])  # what StatsHandler logs
    assert isinstance(loss, float) and 0 < loss < 10


def test_amp_on_cpu_uses_bf16_without_scaler():
    trainer = build(max_epochs=1, amp=True)
    outputs = record_outputs(trainer)
    trainer.run()
    assert trainer.scaler is None
    for key in ("loss", "d_loss"):
        assert outputs[-1][key].dtype == torch.float32 and torch.isfinite(outputs[-1][key])


def test_checkpoint_round_trip_resumes_epoch_and_optimisers(tmp_path):
    first = build(max_epochs=2)

    def save_dict(t: JointGanTrainer) -> dict:
        return {
            "generator": t.generator,
            "discriminator": t.discriminator,
            "g_opt": t.g_optimizer,
            "d_opt": t.d_optimizer,
            "trainer": t,
        }

    CheckpointSaver(str(tmp_path), save_dict(first), save_final=True, final_filename="resume.pt").attach(first)
    first.run()
    path = tmp_path / "resume.pt"
    assert path.exists()

    second = build(seed=1, max_epochs=4)
    CheckpointLoader(str(path), save_dict(second)).attach(second)
    restored: dict = {}

    @second.on(Events.STARTED)
    def _after_load(engine):  # registered after the loader, so it sees the restored state
        restored["epoch"], restored["iteration"] = engine.state.epoch, engine.state.iteration
        restored["g_opt"] = copy.deepcopy(engine.g_optimizer.state_dict())
        restored["d_opt"] = copy.deepcopy(engine.d_optimizer.state_dict())
        restored["g_params"] = [p.detach().clone() for p in engine.generator.parameters()]

    epochs_run: list[int] = []
    second.add_event_handler(Events.EPOCH_STARTED, lambda e: epochs_run.append(e.state.epoch))
    second.run()

    assert restored["epoch"] == 2 and restored["iteration"] == 4
    assert epochs_run == [3, 4] and second.state.epoch == 4
    for mine, saved in (
        (restored["g_opt"], first.g_optimizer.state_dict()),
        (restored["d_opt"], first.d_optimizer.state_dict()),
    ):
        assert mine["state"].keys() == saved["state"].keys()
        for idx, state in saved["state"].items():
            for name, value in state.items():
                torch.testing.assert_close(mine["state"][idx][name], value)
    for mine, saved in zip(restored["g_params"], first.generator.parameters(), strict=True):
        torch.testing.assert_close(mine, saved.detach())


def test_amp_helpers_pick_bf16_on_cpu():
    cpu = torch.device("cpu")
    assert make_grad_scaler(cpu, enabled=True) is None
    with amp_autocast(cpu, enabled=True):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    with amp_autocast(cpu, enabled=False):
        assert not torch.is_autocast_enabled("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_amp_on_cuda_uses_fp16_with_grad_scaler():
    trainer = build(max_epochs=1, amp=True, device="cuda")
    outputs = record_outputs(trainer)
    trainer.run()
    assert isinstance(trainer.scaler, torch.amp.GradScaler)
    assert torch.isfinite(outputs[-1]["loss"]) and torch.isfinite(outputs[-1]["d_loss"])


def test_prepare_batch_variants():
    prepare = JointPrepareBatch()
    image, label, hr = torch.rand(1, 1, 2, 2, 2), torch.zeros(1, 1, 2, 2, 2), torch.rand(1, 1, 2, 2, 2)
    out = prepare({"image": image, "label": label}, "cpu")
    assert out[0] is image and out[1] is label and out[2] is None
    assert prepare((image, label, hr), "cpu")[2] is hr
    assert prepare(image, "cpu")[1:] == (None, None)
    custom = JointPrepareBatch(image_key="lr", label_key="seg", target_key="hr")
    out = custom({"lr": image, "seg": label, "hr": hr}, "cpu")
    assert out[0] is image and out[1] is label and out[2] is hr
    with pytest.raises(KeyError):
        prepare({"label": label}, "cpu")


def test_missing_reference_for_discriminator_fails_before_any_update():
    items = [{k: v for k, v in item.items() if k != "label"} for item in make_items(2)]
    trainer = build(with_d=True, max_epochs=1)
    trainer.data_loader = DataLoader(items, batch_size=2)
    before = [p.detach().clone() for p in trainer.generator.parameters()]
    with pytest.raises(ValueError, match="label map"):
        trainer.run()
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.generator.parameters(), strict=True))
