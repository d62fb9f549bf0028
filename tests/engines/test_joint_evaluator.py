"""Tests of JointEvaluator: sliding-window inference of two-task generators and MONAI metric handlers."""

from __future__ import annotations

import math

import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader
from monai.handlers import HausdorffDistance, IgniteMetricHandler, MeanDice, PeakSignalToNoiseRatio, from_engine
from monai.inferers import SimpleInferer, SlidingWindowInferer
from monai.metrics import SSIMMetric
from monai.transforms import AsDiscreted, Compose
from torch import nn

from custom_networks.engines import JointEvaluator

SPATIAL = (16, 16, 8)
THRESHOLDS = torch.tensor([0.25, 0.5, 0.75])
POSTPROCESSING = Compose([AsDiscreted(keys="pred", argmax=True, to_onehot=4), AsDiscreted(keys="label", to_onehot=4)])


class OracleGenerator(nn.Module):
    """Stand-in generator whose labels are the thresholded input and whose SR output is the input, slightly scaled.

    On data built by ``make_items`` it segments perfectly and super-resolves almost perfectly.
    """

    def __init__(self, output: str = "both", scale: float = 0.999) -> None:
        super().__init__()
        self.output = output
        self.scale = scale
        self.dummy = nn.Parameter(torch.zeros(()))  # so the module has a device and parameters

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        sr = x * self.scale + self.dummy
        logits = 10.0 * nn.functional.one_hot(torch.bucketize(x[:, 0], THRESHOLDS), 4).movedim(-1, 1).float()
        if self.output == "sr":
            return sr
        if self.output == "seg":
            return logits
        return sr, logits


class TinyConvGenerator(nn.Module):
    """Stand-in convolutional two-task generator (random weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.output = "both"
        self.body = nn.Conv3d(1, 4, 3, padding=1)
        self.sr_head = nn.Conv3d(4, 1, 1)
        self.seg_head = nn.Conv3d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.body(x))
        return self.sr_head(h), self.seg_head(h)


def make_items(n: int = 3, seed: int = 0, with_label: bool = True) -> list[dict[str, torch.Tensor]]:
    """Smooth volumes in [0, 1] with every class present; the network input equals the HR grey volume."""
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0.05, 0.95, SPATIAL[0]).view(1, -1, 1, 1).expand(1, *SPATIAL)
    items = []
    for _ in range(n):
        hr = (ramp + 0.04 * torch.rand((1, *SPATIAL), generator=g)).clamp(0, 1)
        item = {"image": hr.clone(), "hr_image": hr}
        if with_label:
            item["label"] = torch.bucketize(hr, THRESHOLDS).float()
        items.append(item)
    return items


def metric_handlers(with_seg: bool = True, with_sr: bool = True) -> dict:
    metrics: dict = {}
    if with_seg:
        seg = from_engine(["pred", "label"])
        metrics["dice"] = MeanDice(include_background=False, output_transform=seg)
        metrics["hd95"] = HausdorffDistance(include_background=False, percentile=95, output_transform=seg)
    if with_sr:
        sr = from_engine(["sr", "hr_image"])
        metrics["psnr"] = PeakSignalToNoiseRatio(max_val=1.0, output_transform=sr)
        ssim = SSIMMetric(spatial_dims=3, data_range=1.0, win_size=5)
        metrics["ssim"] = IgniteMetricHandler(metric_fn=ssim, output_transform=sr)
    return metrics


def evaluator(network: nn.Module, metrics: dict | None, inferer=None, batch_size: int = 2, **kwargs) -> JointEvaluator:
    items = kwargs.pop("items", None) or make_items()
    metrics = metrics or {}
    key, *others = list(metrics) or [None]
    return JointEvaluator(
        device="cpu",
        val_data_loader=DataLoader(items, batch_size=batch_size),
        network=network,
        inferer=inferer or SlidingWindowInferer(roi_size=(8, 8, 8), sw_batch_size=2, overlap=0.25),
        postprocessing=kwargs.pop("postprocessing", POSTPROCESSING),
        key_val_metric=None if key is None else {key: metrics[key]},
        additional_metrics={k: metrics[k] for k in others},
        **kwargs,
    )


@pytest.fixture(autouse=True)
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_perfect_prediction_with_sliding_window():
    engine = evaluator(OracleGenerator(), metric_handlers())
    engine.run()
    metrics = engine.state.metrics
    assert set(metrics) == {"dice", "hd95", "psnr", "ssim"}
    assert metrics["dice"] == pytest.approx(1.0)
    assert metrics["hd95"] == pytest.approx(0.0)
    assert metrics["psnr"] > 50.0
    assert metrics["ssim"] == pytest.approx(1.0, abs=1e-3)
    assert engine.state.best_metric == pytest.approx(1.0) and engine.state.best_metric_epoch == 1
    # the last batch holds one item (3 items, batch size 2); outputs are decollated, channel-first
    out = engine.state.output
    assert isinstance(out, list) and len(out) == 1
    assert out[0]["pred"].shape == (4, *SPATIAL) and out[0]["sr"].shape == (1, *SPATIAL)
    assert {"image", "label", "hr_image"} <= set(out[0])


def test_sliding_window_matches_whole_volume_for_tuple_outputs():
    torch.manual_seed(0)
    net = TinyConvGenerator()
    captured: dict[str, list] = {"window": [], "whole": []}
    for name, inferer in (
        ("window", SlidingWindowInferer(roi_size=(16, 16, 8), sw_batch_size=1)),
        ("whole", SimpleInferer()),
    ):
        engine = evaluator(net, None, inferer=inferer, postprocessing=None, decollate=False)
        engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e, n=name: captured[n].append(e.state.output))
        engine.run()
    for window, whole in zip(captured["window"], captured["whole"], strict=True):
        assert window["pred"].shape == (2, 4, *SPATIAL) or window["pred"].shape == (1, 4, *SPATIAL)
        torch.testing.assert_close(window["pred"], whole["pred"])
        torch.testing.assert_close(window["sr"], whole["sr"])


def test_imperfect_prediction_scores_lower():
    torch.manual_seed(0)
    engine = evaluator(TinyConvGenerator(), metric_handlers())
    engine.run()
    metrics = engine.state.metrics
    assert 0.0 <= metrics["dice"] < 0.9
    assert metrics["psnr"] < 30.0
    assert math.isfinite(metrics["ssim"]) and metrics["ssim"] < 0.9


def test_sr_only_generator_without_labels():
    items = make_items(with_label=False)
    engine = evaluator(OracleGenerator("sr"), metric_handlers(with_seg=False), items=items, postprocessing=None)
    engine.run()
    assert engine.state.metrics["psnr"] > 50.0
    assert "pred" not in engine.state.output[0] and "sr" in engine.state.output[0]


def test_seg_only_generator():
    engine = evaluator(OracleGenerator("seg"), metric_handlers(with_sr=False))
    engine.run()
    assert engine.state.metrics["dice"] == pytest.approx(1.0)
    assert "sr" not in engine.state.output[0]


def test_generator_output_override():
    class Bare(nn.Module):  # a single-task network without an `output` attribute
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return OracleGenerator("seg")(x)

    net = Bare()
    engine = evaluator(net, metric_handlers(with_sr=False), generator_output="seg")
    engine.run()
    assert engine.state.metrics["dice"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="single tensor"):
        evaluator(net, metric_handlers(with_sr=False)).run()


def test_amp_on_cpu_returns_float32():
    torch.manual_seed(0)
    engine = evaluator(TinyConvGenerator(), None, amp=True, postprocessing=None, decollate=False)
    engine.run()
    assert engine.state.output["pred"].dtype == torch.float32 and engine.state.output["sr"].dtype == torch.float32
