"""Tests of CycleGAN (and of the shared least-squares GAN helpers and the pyramid patch discriminator)."""

from __future__ import annotations

import pytest
import torch
from conftest import checked_translation_step, random_pair
from torch import nn

from custom_networks.losses import frozen_parameters, lsgan_discriminator_loss, lsgan_generator_loss
from custom_networks.nets import CycleGAN
from custom_networks.nets.cyclegan import PyramidPatchDiscriminator, ResnetGenerator, large_kernel

torch.set_num_threads(1)

SHAPE_3D = (2, 1, 32, 32, 24)  # the default discriminator (3 layers) needs every size >= 24
SHAPE_2D = (2, 1, 32, 32)
SMALL = {"channels": 4, "num_res_blocks": 2, "disc_channels": 4}


class _Affine(nn.Module):
    """A stub generator ``x -> scale * x + shift``."""

    def __init__(self, scale: float, shift: float) -> None:
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x + self.shift


def test_lsgan_helpers_single_and_multiscale():
    ones, zeros = torch.ones(2, 1, 3, 3), torch.zeros(2, 1, 3, 3)
    assert lsgan_generator_loss(ones) == 0 and lsgan_generator_loss(zeros) == 1
    assert lsgan_generator_loss([zeros, zeros, ones]) == 2  # summed over scales
    assert lsgan_discriminator_loss(ones, zeros) == 0
    assert lsgan_discriminator_loss([zeros, ones], [ones, zeros]) == pytest.approx(1.0)  # 0.5 * (1 + 1)
    with pytest.raises(ValueError):
        lsgan_discriminator_loss([ones], [zeros, zeros])


def test_frozen_parameters_blocks_parameter_gradient_but_not_input_gradient():
    layer = nn.Linear(3, 1)
    x = torch.rand(4, 3, requires_grad=True)
    with frozen_parameters(layer):
        y = layer(x).sum()
    assert all(p.requires_grad for p in layer.parameters())  # restored
    y.backward()
    assert x.grad is not None and layer.weight.grad is None and layer.bias.grad is None


@pytest.mark.parametrize("shape", [SHAPE_3D, SHAPE_2D])
def test_shapes_range_and_discriminator_outputs(shape):
    model = CycleGAN(spatial_dims=len(shape) - 2, **SMALL)
    source, target = random_pair(shape)
    fake = model(target)
    assert fake.shape == shape and fake.min() >= 0 and fake.max() <= 1
    scores = model.d_s(source)
    assert isinstance(scores, list) and len(scores) == 1 and scores[0].shape[:2] == (2, 1)
    out = model.generator_loss(source, target)
    assert set(out) == {"loss", "adv_t2s", "adv_s2t", "cycle_s", "cycle_t", "idt_s", "idt_t"}
    assert set(model.discriminator_loss(source, target)) == {"loss", "d_s", "d_t"}


def test_default_model_builds_and_translates_deterministically():
    model = CycleGAN()
    assert model.lambda_cycle == 10 and model.lambda_identity == 5 and model.pool_s.pool_size == 50
    _, target = random_pair(SHAPE_3D)
    with torch.no_grad():
        torch.testing.assert_close(model(target), model(target), rtol=0, atol=0)
    assert len(list(model.generator_modules())) == 2 and len(list(model.discriminator_modules())) == 2


@pytest.mark.parametrize("shape", [SHAPE_3D, SHAPE_2D])
def test_one_training_iteration_trains_every_module(shape):
    model = CycleGAN(spatial_dims=len(shape) - 2, **SMALL)
    checked_translation_step(model, *random_pair(shape))
    assert len(model.pool_s) == 2 and len(model.pool_t) == 2  # fakes went through the replay buffers
    checked_translation_step(model, *random_pair(shape, seed=1))


def test_cycle_identity_and_adversarial_terms_use_the_right_generators_and_discriminators():
    model = CycleGAN(**SMALL, pool_size=0)
    model.g_t2s = _Affine(0.5, 0.0)  # target -> source
    model.g_s2t = _Affine(1.0, 0.25)  # source -> target
    source, target = random_pair(SHAPE_3D)
    out = model.generator_loss(source, target)
    # cycle_t = |g_s2t(g_t2s(t)) - t| ; a swapped generator would give |0.25 t - t| or |t + 0.5 - t|
    torch.testing.assert_close(out["cycle_t"], (0.5 * target + 0.25 - target).abs().mean())
    torch.testing.assert_close(out["cycle_s"], (0.5 * (source + 0.25) - source).abs().mean())
    torch.testing.assert_close(out["idt_s"], (0.5 * source - source).abs().mean())
    torch.testing.assert_close(out["idt_t"], torch.tensor(0.25))
    with torch.no_grad():
        adv_t2s = lsgan_generator_loss(model.d_s(0.5 * target))
        adv_s2t = lsgan_generator_loss(model.d_t(source + 0.25))
        torch.testing.assert_close(out["adv_t2s"], adv_t2s)
        torch.testing.assert_close(out["adv_s2t"], adv_s2t)
        expected = adv_t2s + adv_s2t + 10 * (out["cycle_s"] + out["cycle_t"]) + 5 * (out["idt_s"] + out["idt_t"])
        torch.testing.assert_close(out["loss"], expected)
        d_out = model.discriminator_loss(source, target)  # pool disabled: the fakes of this batch
        torch.testing.assert_close(d_out["d_s"], lsgan_discriminator_loss(model.d_s(source), model.d_s(0.5 * target)))
        torch.testing.assert_close(d_out["d_t"], lsgan_discriminator_loss(model.d_t(target), model.d_t(source + 0.25)))
    torch.testing.assert_close(model.translate(target), 0.5 * target)


def test_identity_weight_zero_skips_identity_terms():
    model = CycleGAN(**SMALL, lambda_identity=0.0)
    out = model.generator_loss(*random_pair(SHAPE_3D))
    assert "idt_s" not in out and "idt_t" not in out


def test_discriminator_loss_without_generator_pass_generates_fakes():
    model = CycleGAN(**SMALL)
    out = model.discriminator_loss(*random_pair(SHAPE_3D))
    assert torch.isfinite(out["loss"]) and out["loss"].requires_grad


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore:.*is deprecated")
def test_torchscript_trace_of_translate():
    model = CycleGAN(**SMALL).eval()
    _, target = random_pair(SHAPE_3D)
    traced = torch.jit.trace(model, target)
    with torch.no_grad():
        torch.testing.assert_close(traced(target), model(target))


def test_parts_and_bad_arguments():
    assert large_kernel(None, 2) == 7 and large_kernel(None, 3) == 3 and large_kernel(5, 3) == 5
    gen = ResnetGenerator(spatial_dims=2, channels=4, num_res_blocks=1, output_act="clamp")
    assert gen(torch.rand(1, 1, 16, 16)).shape == (1, 1, 16, 16)
    disc = PyramidPatchDiscriminator(spatial_dims=2, channels=4, num_layers_d=2, num_scales=3, norm=None)
    assert [s.shape[-1] for s in disc(torch.rand(1, 1, 64, 64))] == [14, 6, 2]
    with pytest.raises(ValueError):
        ResnetGenerator(output_act="tanh")
    with pytest.raises(ValueError):
        CycleGAN(pad_mode="circular")
    with pytest.raises(ValueError):
        PyramidPatchDiscriminator(num_scales=0)
