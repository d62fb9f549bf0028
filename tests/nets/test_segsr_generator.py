"""Tests of the SR-GAN / SegSR-GAN baseline generator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from custom_networks.nets import SegSRGenerator, SRResidualBlock

torch.set_num_threads(1)

SHAPE = (2, 1, 16, 16, 8)
LAYOUTS = {"3d": {}, "2d": {"layout": "2d", "num_slices": SHAPE[-1]}}


def small_net(layout: str = "3d", **kwargs) -> SegSRGenerator:
    torch.manual_seed(0)
    kwargs = {"features": 4, "num_res_blocks": 2, **kwargs}
    return SegSRGenerator(**LAYOUTS[layout], **kwargs)


@pytest.mark.parametrize("layout", ["3d", "2d"])
def test_joint_outputs(layout):
    net = small_net(layout)
    x = torch.rand(SHAPE)
    sr, seg = net(x)
    assert sr.shape == SHAPE and seg.shape == (2, 4, *SHAPE[2:])
    net.eval()
    with torch.no_grad():
        sr, seg = net(x)
        net.output = "seg"
        torch.testing.assert_close(net(x), seg)
        net.output = "sr"
        torch.testing.assert_close(net(x), sr)


@pytest.mark.parametrize("layout", ["3d", "2d"])
@pytest.mark.parametrize(("tasks", "channels"), [(("sr",), 1), (("seg",), 4)])
def test_single_task_variants(layout, tasks, channels):
    net = small_net(layout, tasks=tasks)
    assert net.output == tasks[0]
    assert (net.sr_head is None) == (tasks[0] == "seg") and (net.seg_head is None) == (tasks[0] == "sr")
    out = net(torch.rand(SHAPE))
    assert isinstance(out, torch.Tensor) and out.shape == (2, channels, *SHAPE[2:])


def test_architecture_of_the_original():
    net = SegSRGenerator()
    assert net.layout == "3d" and net.spatial_dims == 3 and net.size_divisor == 4
    assert len(net.res_blocks) == 8
    assert net.encoder[0].conv_1.conv.out_channels == 16
    assert [net.encoder[i].convs.conv_1.conv.out_channels for i in (1, 2)] == [32, 64]
    assert net.seg_head.conv.kernel_size == (3, 3, 3) and net.seg_head.conv.out_channels == 4
    assert isinstance(net.res_blocks[0].conv_0.adn.A, torch.nn.PReLU)
    for n in (5, 11):
        assert len(SegSRGenerator(num_res_blocks=n).res_blocks) == n
    original_2d = SegSRGenerator(layout="2d", num_slices=100)
    assert original_2d.encoder[0].conv_0.conv.in_channels == 100
    assert original_2d.seg_head.conv.out_channels == 400


def test_residual_block_is_identity_plus_residual():
    block = SRResidualBlock(3, 4).eval()
    x = torch.rand(1, 4, 4, 4, 4)
    with torch.no_grad():
        block.conv_1.adn.N.weight.zero_()  # last batch norm scaled to zero: the residual vanishes
        block.conv_1.adn.N.bias.zero_()
        torch.testing.assert_close(block(x), x)


def test_long_skip_bypasses_residual_blocks():
    net = small_net(num_res_blocks=0).eval()  # no blocks: trunk = up(low + low)
    assert len(net.res_blocks) == 0
    with torch.no_grad():
        sr, seg = net(torch.rand(SHAPE))
    assert sr.shape == SHAPE and seg.shape == (2, 4, *SHAPE[2:])


@pytest.mark.parametrize("layout", ["3d", "2d"])
def test_gradients_reach_every_parameter(layout):
    net = small_net(layout)
    sr, seg = net(torch.rand(SHAPE))
    loss = F.mse_loss(sr, torch.rand_like(sr)) + F.cross_entropy(seg, torch.randint(0, 4, (2, *SHAPE[2:])))
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        if p.ndim > 1 or "adn.A" in name:  # conv weights and PReLU slopes
            assert p.grad.abs().sum() > 0, name


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("layout", ["3d", "2d"])
def test_torchscript_and_trace_of_seg_output(layout):
    net = small_net(layout, output="seg").eval()
    x = torch.rand(SHAPE)
    with torch.no_grad():
        expected = net(x)
        torch.testing.assert_close(torch.jit.script(net)(x), expected)
        torch.testing.assert_close(torch.jit.trace(net, x)(x), expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layout": "3D+t"}, "layout must be one of"),
        ({"layout": "2d"}, "needs num_slices"),
        ({"output": "image"}, "output must be one of"),
        ({"tasks": ("sr",), "output": "both"}, "needs the task"),
        ({"tasks": ("seg",), "output": "sr"}, "needs the task"),
        ({"num_res_blocks": -1}, "num_res_blocks"),
        ({"features": 0}, "features"),
        ({"head_kernel_size": 4}, "head_kernel_size"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SegSRGenerator(**kwargs)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="multiples of 4"):
        small_net()(torch.rand(1, 1, 16, 14, 8))
    with pytest.raises(ValueError, match="num_slices=8"):
        small_net("2d")(torch.rand(1, 1, 16, 16, 4))
