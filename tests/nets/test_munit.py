"""Tests of MUNIT: content / style encoders, AdaIN decoder, multi-scale discriminators, losses, translation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import checked_translation_step, random_pair

from custom_networks.losses import lsgan_discriminator_loss
from custom_networks.nets import MUNIT
from custom_networks.nets.munit import AdaINDecoder, adaptive_instance_norm

torch.set_num_threads(1)

SHAPE_3D = (2, 1, 32, 32, 32)  # the default 3-scale discriminators need every size >= 32
SHAPE_2D = (2, 1, 32, 32)
SMALL = {"channels": 4, "num_res_blocks": 2, "mlp_dim": 16, "disc_channels": 4}


def test_adaptive_instance_norm_sets_per_sample_channel_statistics():
    x = torch.randn(2, 3, 8, 8, 4) * 5 + 2
    weight, bias = torch.tensor([[1.0, 2.0, 0.5], [3.0, 1.0, 1.0]]), torch.tensor([[0.0, 1.0, -1.0], [2.0, 0.0, 0.5]])
    y = adaptive_instance_norm(x, weight, bias)
    torch.testing.assert_close(y.mean(dim=(2, 3, 4)), bias, atol=1e-4, rtol=0)
    torch.testing.assert_close(y.std(dim=(2, 3, 4), unbiased=False), weight, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("shape", [SHAPE_3D, SHAPE_2D])
def test_shapes_style_dim_and_range(shape):
    model = MUNIT(spatial_dims=len(shape) - 2, **SMALL)
    source, target = random_pair(shape)
    assert model.style_s(source).shape == (2, 8) and model.style_t(target).shape == (2, 8)
    content = model.content_t(target)
    assert content.shape == (2, 16, *(s // 4 for s in shape[2:]))
    fake = model(target)
    assert fake.shape == shape and fake.min() >= 0 and fake.max() <= 1
    scores = model.d_s(source)
    assert isinstance(scores, list) and len(scores) == 3  # multi-scale
    out = model.generator_loss(source, target)
    assert set(out) == {"loss", "adv", "recon_x", "recon_c", "recon_s"}
    assert set(model.discriminator_loss(source, target)) == {"loss", "d_s", "d_t"}


def test_default_model_weights_and_deterministic_translation():
    model = MUNIT()
    assert model.style_dim == 8 and model.decoder_s.mlp[-1].out_features == model.decoder_s.num_adain_params
    weights = (model.lambda_adv, model.lambda_image, model.lambda_content, model.lambda_style, model.lambda_cycle)
    assert weights == (1, 10, 1, 1, 0)
    _, target = random_pair(SHAPE_3D)
    with torch.no_grad():
        first, second = model(target), model(target)
        torch.testing.assert_close(first, second, rtol=0, atol=0)
        # translate = source decoder (target content, zero style: the prior mean)
        torch.testing.assert_close(first, model.decoder_s(model.content_t(target), torch.zeros(2, 8)))


def test_adain_parameters_depend_on_the_style_code():
    decoder = AdaINDecoder(spatial_dims=3, in_channels=8, num_upsamplings=1, num_res_blocks=2, mlp_dim=16)
    content = torch.randn(1, 8, 8, 8, 4)
    styles = torch.randn(2, 8, generator=torch.Generator().manual_seed(3))
    assert decoder.mlp(styles).shape == (2, 4 * 8 * 2)
    assert not torch.allclose(decoder.mlp(styles[:1]), decoder.mlp(styles[1:]))
    out_a, out_b = decoder(content, styles[:1]), decoder(content, styles[1:])
    assert out_a.shape == (1, 1, 16, 16, 8) and (out_a - out_b).abs().max() > 1e-4
    model = MUNIT(**SMALL)
    _, target = random_pair(SHAPE_3D)
    with torch.no_grad():
        sampled = model.translate(target, style=torch.randn(2, 8))
        assert (sampled - model(target)).abs().max() > 1e-4


@pytest.mark.parametrize("shape", [SHAPE_3D, SHAPE_2D])
def test_one_training_iteration_trains_every_module(shape):
    model = MUNIT(spatial_dims=len(shape) - 2, **SMALL)
    checked_translation_step(model, *random_pair(shape))
    checked_translation_step(model, *random_pair(shape, seed=1))


def test_cycle_term_and_loss_composition():
    model = MUNIT(**SMALL, lambda_cycle=10.0)
    torch.manual_seed(0)
    out = model.generator_loss(*random_pair(SHAPE_3D))
    assert "cycle" in out
    expected = out["adv"] + 10 * out["recon_x"] + out["recon_c"] + out["recon_s"] + 10 * out["cycle"]
    torch.testing.assert_close(out["loss"], expected)


def test_within_domain_reconstruction_and_discriminator_pairing():
    model = MUNIT(**SMALL)
    source, target = random_pair(SHAPE_3D)
    out = model.generator_loss(source, target)
    with torch.no_grad():
        rec_s = model.decoder_s(model.content_s(source), model.style_s(source))
        rec_t = model.decoder_t(model.content_t(target), model.style_t(target))
        torch.testing.assert_close(out["recon_x"], F.l1_loss(rec_s, source) + F.l1_loss(rec_t, target))
        fake_s, fake_t = model._fakes
        d_out = model.discriminator_loss(source, target)
        torch.testing.assert_close(d_out["d_s"], lsgan_discriminator_loss(model.d_s(source), model.d_s(fake_s)))
        torch.testing.assert_close(d_out["d_t"], lsgan_discriminator_loss(model.d_t(target), model.d_t(fake_t)))


def test_mean_style_mode_tracks_the_source_styles():
    model = MUNIT(**SMALL, style_mode="mean", style_momentum=0.1)
    source, target = random_pair(SHAPE_3D)
    torch.testing.assert_close(model.source_style(2), torch.zeros(2, 8))  # before training: the prior mean
    model.generator_loss(source, target)
    with torch.no_grad():
        first = model.style_s(source).mean(0)
    torch.testing.assert_close(model.source_style(1)[0], first)  # bias-corrected: exactly the first batch mean
    model.eval()
    with torch.no_grad():
        translated = model(target)
        torch.testing.assert_close(translated, model.decoder_s(model.content_t(target), first.expand(2, 8)))
        torch.testing.assert_close(translated, model(target), rtol=0, atol=0)
    state = model.state_dict()
    assert "source_style_ema" in state and int(state["source_style_steps"]) == 1
    model.generator_loss(source, target)  # eval mode: the running mean is frozen
    assert int(model.source_style_steps) == 1
    with pytest.raises(ValueError):
        MUNIT(style_mode="random")


def test_discriminator_loss_without_generator_pass_generates_fakes():
    model = MUNIT(**SMALL)
    out = model.discriminator_loss(*random_pair(SHAPE_3D))
    assert torch.isfinite(out["loss"]) and out["loss"].requires_grad


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore:.*is deprecated")
def test_torchscript_trace_of_translate():
    model = MUNIT(**SMALL).eval()
    _, target = random_pair(SHAPE_3D)
    traced = torch.jit.trace(model, target)
    with torch.no_grad():
        torch.testing.assert_close(traced(target), model(target))
