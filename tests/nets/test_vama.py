"""Tests of V-AMA: the variational U-Net branch, the mixed Gaussian, gradient routing, inference and TorchScript."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from custom_networks.nets import VAMA, TranslationModel, VariationalUNet, mix_gaussians
from custom_networks.nets.vama import mix_skips, reparameterize

torch.set_num_threads(1)

SHAPES = {3: (2, 1, 32, 32, 16), 2: (2, 1, 32, 32)}


def small_model(spatial_dims: int = 3, **kwargs) -> VAMA:
    torch.manual_seed(0)
    kwargs.setdefault("disc_num_layers", 2)  # 16-voxel depth: the 3-layer discriminator needs >= 24
    return VAMA(spatial_dims=spatial_dims, **kwargs)


def pair(spatial_dims: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(SHAPES[spatial_dims], generator=g)
    return (0.8 * target + 0.1).clamp(0, 1), target  # source = a contrast change of the target


def param_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def grad_norm(module: nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


@pytest.mark.parametrize("spatial_dims", [3, 2])
def test_shapes(spatial_dims):
    model = small_model(spatial_dims)
    source, target = pair(spatial_dims)
    assert isinstance(model, TranslationModel)
    out = model(target).detach()
    assert out.shape == target.shape
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    skips, mu, logvar = model.source_vae.encode(target)
    assert mu.shape == logvar.shape == (2, 64, *(s // 8 for s in target.shape[2:]))
    assert [s.shape[1] for s in skips] == [8, 16, 32]
    g = model.generator_loss(source, target)
    branch = {"loss", "mse", "l1", "kl", "adv"}
    assert set(g) == {"loss"} | {f"{b}_{k}" for b in ("source", "target") for k in branch}
    assert all(v.ndim == 0 and torch.isfinite(v) for v in g.values())
    d = model.discriminator_loss(source, target)
    assert set(d) == {"loss"} | {f"{b}_{k}" for b in ("source", "target") for k in ("loss", "real", "fake")}
    rec, mu2, _ = model.target_vae(target, sample=True)
    assert rec.shape == target.shape and mu2.shape == mu.shape


def test_default_size_and_modules():
    model = VAMA()
    vae = param_count(model.source_vae)
    assert 0.2e6 < vae < 0.6e6  # convolutional latent heads: no 186 M-parameter dense layers
    assert param_count(model) == 2 * vae + 2 * param_count(model.source_discriminator)
    assert model.generator_modules() == [model.source_vae, model.target_vae]
    assert model.discriminator_modules() == [model.source_discriminator, model.target_discriminator]
    g_ids = {id(p) for p in model.generator_parameters()}
    d_ids = {id(p) for p in model.discriminator_parameters()}
    assert not g_ids & d_ids and len(g_ids) + len(d_ids) == len(list(model.parameters()))


def test_mixed_gaussian_closed_form():
    zero, one = torch.zeros(3), torch.ones(3)
    mu, logvar = mix_gaussians(one, zero, 2 * one, zero)
    torch.testing.assert_close(mu, 3 * one)
    torch.testing.assert_close(logvar, torch.full((3,), 2 * math.log(2.0)))  # sigma = 1 + 1
    mu, logvar = mix_gaussians(zero, torch.full((3,), math.log(4.0)), zero, torch.full((3,), -1e4))
    torch.testing.assert_close(logvar, torch.full((3,), math.log(4.0)))  # sigma = 2 + 0
    torch.testing.assert_close(reparameterize(mu, logvar, sample=False), mu)
    a, b = [torch.ones(2), 3 * torch.ones(2)], [torch.ones(2), torch.ones(2)]
    torch.testing.assert_close(mix_skips(a, b, "sum"), [2 * torch.ones(2), 4 * torch.ones(2)])
    torch.testing.assert_close(mix_skips(a, b, "mean"), [torch.ones(2), 2 * torch.ones(2)])
    assert mix_skips(a, b, "none") is a


def test_gradients_reach_every_part():
    model = small_model()
    source, target = pair()
    model.generator_loss(source, target)["loss"].backward()
    for vae in (model.source_vae, model.target_vae):
        for part in (vae.encoder, vae.mu_head, vae.logvar_head, vae.decoder.stages, vae.decoder.head):
            assert grad_norm(part) > 0, part
    model.zero_grad(set_to_none=True)
    model.discriminator_loss(source, target)["loss"].backward()
    assert grad_norm(model.source_discriminator) > 0 and grad_norm(model.target_discriminator) > 0
    assert all(p.grad is None for p in model.generator_parameters())  # the fakes are detached


def test_source_terms_do_not_reach_target_branch():
    model = small_model()
    source, target = pair()
    g = model.generator_loss(source, target)
    g["source_loss"].backward(retain_graph=True)
    assert grad_norm(model.source_vae) > 0
    assert grad_norm(model.target_vae) == 0.0  # the target posterior and skips are detached
    assert grad_norm(model.target_discriminator) == 0.0
    model.zero_grad(set_to_none=True)
    g["target_loss"].backward()
    assert grad_norm(model.target_vae) > 0
    assert grad_norm(model.source_vae) == 0.0 and grad_norm(model.source_discriminator) == 0.0


def test_deterministic_and_sampled_translation():
    model = small_model().eval()
    _, target = pair()
    with torch.no_grad():
        a, b = model.translate(target), model(target)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.manual_seed(1)
        s1 = model.translate(target, sample=True)
        s2 = model.translate(target, sample=True)
    assert not torch.equal(s1, s2) and not torch.equal(s1, a)


def test_translate_is_the_training_source_path():
    model = small_model(train_sample=False)
    source, target = pair()
    model.train()
    model.generator_loss(source, target)
    train_translation = model._fakes["source"]
    with torch.no_grad():
        torch.testing.assert_close(model.translate(target), train_translation)
        model.eval()  # no batch statistics: evaluation mode computes the same function
        torch.testing.assert_close(model.translate(target), train_translation)


def test_residual_decoder_and_clamp():
    torch.manual_seed(0)
    vae = VariationalUNet(spatial_dims=3)
    x = torch.rand(1, 1, 16, 16, 8)
    nn.init.zeros_(vae.decoder.head.conv.weight)
    nn.init.zeros_(vae.decoder.head.conv.bias)
    out, _, _ = vae(x, sample=True)
    torch.testing.assert_close(out, x, rtol=0, atol=0)
    # an out-of-range residual is clamped to [0, 1] but still gets a (straight-through) gradient
    nn.init.constant_(vae.decoder.head.conv.bias, 2.0)
    out, _, _ = vae(x)
    torch.testing.assert_close(out, torch.ones_like(x), rtol=0, atol=0)
    out.sub(0.5).square().mean().backward()
    assert float(vae.decoder.head.conv.bias.grad.abs().sum()) > 0
    unclamped = VariationalUNet(spatial_dims=3, clamp_output=False)
    unclamped.load_state_dict(vae.state_dict())
    assert float(unclamped(x)[0].detach().min()) > 1.5


def test_validation():
    model = small_model()
    _, target = pair()
    with pytest.raises(RuntimeError, match="generator_loss"):
        model.discriminator_loss(target, target)
    with pytest.raises(ValueError, match="multiples of 8"):
        model(torch.rand(1, 1, 32, 32, 12))
    with pytest.raises(ValueError, match="spatial dims"):
        model(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="aligned pairs"):
        model.generator_loss(target, target[..., :8])
    with pytest.raises(ValueError, match="skip_mixing"):
        VAMA(skip_mixing="max")
    with pytest.raises(ValueError, match="features"):
        VariationalUNet(features=(8,))


def test_torchscript_script_and_trace():
    model = small_model().eval()
    _, target = pair()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = model(target)
        scripted = torch.jit.script(model)
        torch.testing.assert_close(scripted(target), expected)
        torch.testing.assert_close(scripted.translate(target, False), expected)
        traced = torch.jit.trace(model, target)
        torch.testing.assert_close(traced(target), expected)


def test_default_branches_have_no_normalisation_layers():
    """Instance norm would make the residual blind to absolute intensity (DEFAULT_VAMA_NORM); the discriminators keep
    their batch norm."""
    from torch.nn.modules.batchnorm import _BatchNorm
    from torch.nn.modules.instancenorm import _InstanceNorm

    model = VAMA()
    for branch in (model.source_vae, model.target_vae):
        assert not any(isinstance(m, (_InstanceNorm, _BatchNorm, nn.GroupNorm, nn.LayerNorm)) for m in branch.modules())
    assert any(isinstance(m, _BatchNorm) for m in model.source_discriminator.modules())
    normed = VAMA(norm=("instance", {"affine": True}))
    assert any(isinstance(m, _InstanceNorm) for m in normed.source_vae.modules())
