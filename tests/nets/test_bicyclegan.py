"""Tests of BicycleGAN: latent-conditioned U-Net generator, encoder, both discriminators, losses, translation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import checked_translation_step, random_pair

from custom_networks.losses import lsgan_discriminator_loss
from custom_networks.nets import BicycleGAN
from custom_networks.nets.bicyclegan import LatentEncoder, LatentUNetGenerator

torch.set_num_threads(1)

SHAPE_3D = (2, 1, 32, 32, 24)  # the default 2-scale discriminators need every size >= 24
SHAPE_2D = (2, 1, 32, 32)
SMALL = {"features": (4, 8, 16, 16), "encoder_channels": 4, "disc_channels": 4}


@pytest.mark.parametrize("shape", [SHAPE_3D, SHAPE_2D])
def test_shapes_and_range(shape):
    model = BicycleGAN(spatial_dims=len(shape) - 2, **SMALL)
    source, target = random_pair(shape)
    mu, logvar = model.encoder(source)
    assert mu.shape == logvar.shape == (2, 8)
    fake = model(target)
    assert fake.shape == shape and fake.min() >= 0 and fake.max() <= 1
    assert len(model.d_vae(source)) == len(model.d_lr(source)) == 2  # two scales each
    out = model.generator_loss(source, target)
    assert set(out) == {"loss", "adv_vae", "adv_lr", "pixel", "kl", "latent"}
    assert set(model.discriminator_loss(source, target)) == {"loss", "d_vae", "d_lr"}


def test_default_model_weights_and_deterministic_translation():
    model = BicycleGAN()
    weights = (model.lambda_adv, model.lambda_adv_lr, model.lambda_pixel, model.lambda_kl, model.lambda_latent)
    assert model.z_dim == 8 and weights == (1, 1, 10, 0.01, 0.5)
    _, target = random_pair(SHAPE_3D)
    with torch.no_grad():
        first = model(target)
        torch.testing.assert_close(first, model(target), rtol=0, atol=0)
        torch.testing.assert_close(first, model.generator(target, torch.zeros(2, 8)))  # z = 0
        sampled = model.translate(target, torch.randn(2, 8, generator=torch.Generator().manual_seed(0)) * 3)
        assert (sampled - first).abs().max() > 1e-4  # z is injected and changes the output


def test_latent_code_is_broadcast_and_concatenated_at_the_input():
    gen = LatentUNetGenerator(spatial_dims=2, z_dim=3, features=(4, 8, 8))
    assert gen.encoder.levels[0].conv_0.conv.in_channels == 1 + 3
    x = torch.rand(1, 1, 16, 16)
    assert gen(x, torch.zeros(1, 3)).shape == (1, 1, 16, 16)
    enc = LatentEncoder(spatial_dims=2, z_dim=3, channels=4)
    assert [t.shape for t in enc(x)] == [(1, 3), (1, 3)]


@pytest.mark.parametrize("shape", [SHAPE_3D, SHAPE_2D])
def test_one_training_iteration_trains_every_module_and_both_discriminators(shape):
    model = BicycleGAN(spatial_dims=len(shape) - 2, **SMALL)
    calls = {"d_vae": 0, "d_lr": 0}
    for name in calls:
        getattr(model, name).register_forward_hook(lambda *_, n=name: calls.__setitem__(n, calls[n] + 1))
    checked_translation_step(model, *random_pair(shape))
    assert calls == {"d_vae": 3, "d_lr": 3}  # once in generator_loss, twice (real, fake) in discriminator_loss
    checked_translation_step(model, *random_pair(shape, seed=1))


def test_latent_regression_trains_the_generator_only():
    model = BicycleGAN(**SMALL)
    out = model.generator_loss(*random_pair(SHAPE_3D))
    enc, gen = list(model.encoder.parameters()), list(model.generator.parameters())
    grads = torch.autograd.grad(out["latent"], enc + gen, allow_unused=True, retain_graph=True)
    assert all(g is None for g in grads[: len(enc)]), "the latent regression must not update the encoder"
    assert all(g is not None for g in grads[len(enc) :]) and sum(g.abs().sum() for g in grads[len(enc) :]) > 0
    for term in ("kl", "pixel"):  # the encoder is trained by the cVAE-GAN terms
        grads = torch.autograd.grad(out[term], enc, allow_unused=True, retain_graph=True)
        assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    grads = torch.autograd.grad(out["adv_vae"], enc, allow_unused=True, retain_graph=True)
    assert all(g is not None for g in grads)  # adversarial gradient reaches E through z_vae


def test_loss_terms_values_and_discriminator_pairing():
    model = BicycleGAN(**SMALL)
    source, target = random_pair(SHAPE_3D)
    out = model.generator_loss(source, target)
    fake_vae, fake_lr = model._fakes
    with torch.no_grad():
        mu, logvar = model.encoder(source)
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1).mean()  # summed over z, averaged over the batch
        torch.testing.assert_close(out["kl"], kl)
        torch.testing.assert_close(out["pixel"], F.l1_loss(fake_vae, source))
        expected = out["adv_vae"] + out["adv_lr"] + 10 * out["pixel"] + 0.01 * out["kl"] + 0.5 * out["latent"]
        torch.testing.assert_close(out["loss"], expected)
        d_out = model.discriminator_loss(source, target)
        torch.testing.assert_close(d_out["d_vae"], lsgan_discriminator_loss(model.d_vae(source), model.d_vae(fake_vae)))
        torch.testing.assert_close(d_out["d_lr"], lsgan_discriminator_loss(model.d_lr(source), model.d_lr(fake_lr)))


def test_discriminator_loss_without_generator_pass_generates_fakes():
    model = BicycleGAN(**SMALL)
    out = model.discriminator_loss(*random_pair(SHAPE_3D))
    assert torch.isfinite(out["loss"]) and out["loss"].requires_grad


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore:.*is deprecated")
def test_torchscript_trace_of_translate():
    model = BicycleGAN(**SMALL).eval()
    _, target = random_pair(SHAPE_3D)
    traced = torch.jit.trace(model, target)
    with torch.no_grad():
        torch.testing.assert_close(traced(target), model(target))
