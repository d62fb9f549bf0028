"""Tests of the Gemini-GAN generator (both layouts, every task set and output selector)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from monai.inferers import sliding_window_inference

from custom_networks.nets import GeminiGenerator, fold_slices, unfold_slices
from custom_networks.nets.unet_parts import decoder_widths

torch.set_num_threads(1)

SMALL = {"features": (4, 8, 8)}  # 3 levels: sizes must be multiples of 4
SHAPE = (2, 1, 16, 16, 8)
LAYOUTS = {"3d": {}, "2d": {"layout": "2d", "num_slices": SHAPE[-1]}}


def small_net(layout: str = "3d", **kwargs) -> GeminiGenerator:
    torch.manual_seed(0)
    return GeminiGenerator(**LAYOUTS[layout], **SMALL, **kwargs)


def param_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("layout", ["3d", "2d"])
def test_output_selector_shapes(layout):
    net = small_net(layout)
    x = torch.rand(SHAPE)
    assert net.output == "both" and net.tasks == ("sr", "seg")
    sr, seg = net(x)
    assert sr.shape == SHAPE
    assert seg.shape == (2, 4, *SHAPE[2:])
    net.output = "seg"
    assert net(x).shape == (2, 4, *SHAPE[2:])
    net.output = "sr"
    assert net(x).shape == SHAPE
    net.eval()
    net.output = "both"
    sr_both, seg_both = net(x)
    net.output = "seg"
    torch.testing.assert_close(net(x), seg_both)
    net.output = "sr"
    torch.testing.assert_close(net(x), sr_both)


@pytest.mark.parametrize("layout", ["3d", "2d"])
@pytest.mark.parametrize(("tasks", "out_channels"), [(("seg",), 4), (("sr",), 1), ("seg", 4)])
def test_single_task_unet(layout, tasks, out_channels):
    net = small_net(layout, tasks=tasks)
    task = tasks if isinstance(tasks, str) else tasks[0]
    assert net.tasks == (task,) and net.output == task
    assert (net.sr_decoder is None) == (task == "seg")
    assert (net.seg_decoder is None) == (task == "sr")
    out = net(torch.rand(SHAPE))
    assert isinstance(out, torch.Tensor) and out.shape == (2, out_channels, *SHAPE[2:])
    with pytest.raises(ValueError, match="needs the task"):
        net.output = "both"


def test_single_task_has_one_decoder_of_same_structure():
    joint, seg_only = small_net(), small_net(tasks=("seg",))
    assert param_count(joint) - param_count(seg_only) == param_count(joint.sr_decoder)
    sr_keys = {k: v.shape for k, v in joint.sr_decoder.state_dict().items() if not k.startswith("head.")}
    seg_keys = {k: v.shape for k, v in joint.seg_decoder.state_dict().items() if not k.startswith("head.")}
    assert sr_keys == seg_keys  # two decoders of identical structure, only the heads differ
    assert joint.sr_decoder.head.conv.out_channels == 1
    assert joint.seg_decoder.head.conv.out_channels == 4


def test_original_2d_layout_widths_and_parameter_count():
    assert decoder_widths((64, 128, 256, 512, 512)) == (256, 128, 64, 64)
    net = GeminiGenerator(layout="2d", num_slices=100)
    assert net.features == (64, 128, 256, 512, 512)
    assert [stage.convs.conv_1.conv.out_channels for stage in net.seg_decoder.stages] == [256, 128, 64, 64]
    assert net.encoder.levels[0].conv_0.conv.in_channels == 100
    assert net.sr_decoder.head.conv.out_channels == 100
    assert net.seg_decoder.head.conv.out_channels == 400
    count = param_count(net)
    assert abs(count - 25e6) / 25e6 < 0.2, count
    assert 25.0e6 < count < 25.5e6  # documented: 25.2 M


def test_3d_default_widths_and_parameter_count():
    net = GeminiGenerator()
    assert net.layout == "3d" and net.features == (16, 32, 64, 128, 128) and net.size_divisor == 16
    assert net.encoder.levels[0].conv_0.conv.kernel_size == (3, 3, 3)
    assert 4.5e6 < param_count(net) < 5e6  # documented: 4.7 M


def test_2d_layout_maps_slices_to_channels():
    x = torch.rand(2, 3, 4, 4, 5)
    folded = fold_slices(x)
    assert folded.shape == (2, 15, 4, 4)
    torch.testing.assert_close(folded[:, 1 * 5 + 2], x[:, 1, :, :, 2])  # channel c * D + z = slice z of channel c
    torch.testing.assert_close(unfold_slices(folded, 5), x)
    # with the 2D layout, the output on slice z depends only on the head channels of slice z: a head that zeroes
    # every class logit except those of slice 3 must give zero logits on every other slice
    net = small_net("2d", output="seg").eval()
    with torch.no_grad():
        weight = net.seg_decoder.head.conv.weight.view(4, SHAPE[-1], -1)
        weight[:, [z for z in range(SHAPE[-1]) if z != 3]] = 0
        net.seg_decoder.head.conv.bias.zero_()
        seg = net(torch.rand(SHAPE))
    assert seg[..., 3].abs().sum() > 0
    assert seg[..., :3].abs().sum() == 0 and seg[..., 4:].abs().sum() == 0


@pytest.mark.parametrize("layout", ["3d", "2d"])
def test_gradients_reach_every_parameter(layout):
    net = small_net(layout)
    x = torch.rand(SHAPE)
    sr, seg = net(x)
    loss = F.mse_loss(sr, torch.rand_like(sr)) + F.cross_entropy(seg, torch.randint(0, 4, (2, *SHAPE[2:])))
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        if p.ndim > 1:  # conv weights (conv biases before batch norm get a zero gradient by construction)
            assert p.grad.abs().sum() > 0, name


def test_seg_output_runs_only_the_seg_decoder():
    net = small_net(output="seg")
    F.cross_entropy(net(torch.rand(SHAPE)), torch.randint(0, 4, (2, *SHAPE[2:]))).backward()
    assert all(p.grad is None for p in net.sr_decoder.parameters())
    assert all(p.grad is not None for p in net.seg_decoder.parameters())
    assert all(p.grad is not None for p in net.encoder.parameters())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("layout", ["3d", "2d"])
def test_torchscript_and_trace_of_seg_output(layout):
    net = small_net(layout, output="seg").eval()
    x = torch.rand(SHAPE)
    with torch.no_grad():
        expected = net(x)
        scripted = torch.jit.script(net)
        torch.testing.assert_close(scripted(x), expected)
        traced = torch.jit.trace(net, x)
        torch.testing.assert_close(traced(x), expected)
    with pytest.raises(Exception, match="multiples of 4"):
        scripted(torch.rand(1, 1, 18, 16, 8))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_torchscript_of_both_outputs_returns_a_tuple():
    net = small_net().eval()
    x = torch.rand(SHAPE)
    with torch.no_grad():
        sr, seg = torch.jit.script(net)(x)
        sr_eager, seg_eager = net(x)
    torch.testing.assert_close(sr, sr_eager)
    torch.testing.assert_close(seg, seg_eager)


def test_sliding_window_inference_on_arbitrary_size():
    net = small_net().eval()
    x = torch.rand(1, 1, 21, 19, 10)
    with torch.no_grad():
        sr, seg = sliding_window_inference(x, roi_size=(16, 16, 8), sw_batch_size=2, predictor=net, overlap=0.25)
    assert sr.shape == x.shape and seg.shape == (1, 4, 21, 19, 10)


def test_alternative_blocks():
    for kwargs in ({"upsample": "deconv"}, {"upsample": "pixelshuffle"}, {"norm": "instance", "dropout": 0.1}):
        sr, seg = small_net(**kwargs)(torch.rand(SHAPE))
        assert sr.shape == SHAPE and seg.shape == (2, 4, *SHAPE[2:])
    net = GeminiGenerator(in_channels=2, num_classes=3, features=(4, 8))
    sr, seg = net(torch.rand(1, 2, 8, 6, 4))
    assert sr.shape == (1, 2, 8, 6, 4) and seg.shape == (1, 3, 8, 6, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layout": "2.5d"}, "layout must be one of"),
        ({"layout": "2d"}, "needs num_slices"),
        ({"layout": "2d", "num_slices": 0}, "needs num_slices"),
        ({"output": "labels"}, "output must be one of"),
        ({"tasks": ("seg",), "output": "both"}, "needs the task"),
        ({"tasks": ("sr",), "output": "seg"}, "needs the task"),
        ({"tasks": ()}, "tasks must be"),
        ({"tasks": ("seg", "seg")}, "tasks must be"),
        ({"tasks": ("segmentation",)}, "tasks must be"),
        ({"features": (16,)}, "features must be"),
        ({"features": (16, 0)}, "features must be"),
        ({"num_classes": 1}, "num_classes"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GeminiGenerator(**kwargs)


def test_bad_inputs_and_selector_raise():
    net = small_net()
    with pytest.raises(ValueError, match="output must be one of"):
        net.output = "all"
    assert net.output == "both"
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.rand(1, 1, 16, 16, 6))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W, D\)"):
        net(torch.rand(1, 2, 16, 16, 8))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W, D\)"):
        net(torch.rand(1, 16, 16, 8))
    net_2d = small_net("2d")
    with pytest.raises(ValueError, match="num_slices=8"):
        net_2d(torch.rand(1, 1, 16, 16, 12))
    assert net_2d(torch.rand(1, 1, 16, 16, 8))[0].shape == (1, 1, 16, 16, 8)  # D need not be a multiple of 4
