"""Tests of the V-AMA loss: closed-form KL, per-branch terms and weights, discriminator loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from custom_networks.losses import VAMALoss, gaussian_kl

torch.set_num_threads(1)


def test_gaussian_kl_closed_form():
    shape = (2, 3, 4, 4, 2)
    assert gaussian_kl(torch.zeros(shape), torch.zeros(shape)).item() == pytest.approx(0.0)
    assert gaussian_kl(torch.ones(shape), torch.zeros(shape)).item() == pytest.approx(0.5)
    # sigma^2 = e: 0.5 * (e - 1 - 1) per element, whatever the number of elements (mean, not sum)
    expected = 0.5 * (math.e - 2.0)
    assert gaussian_kl(torch.zeros(shape), torch.ones(shape)).item() == pytest.approx(expected, rel=1e-6)
    assert gaussian_kl(torch.zeros(7), torch.ones(7)).item() == pytest.approx(expected, rel=1e-6)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p).mean()
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected)


def test_branch_terms_and_weights():
    g = torch.Generator().manual_seed(1)
    pred, ref = torch.rand(2, 1, 8, 8, 4, generator=g), torch.rand(2, 1, 8, 8, 4, generator=g)
    mu, logvar = torch.ones(2, 4, 2, 2, 1), torch.zeros(2, 4, 2, 2, 1)
    scores = torch.full((2, 1, 3, 3, 1), 0.5)
    loss = VAMALoss()
    assert (loss.w_mse, loss.w_l1, loss.w_kl, loss.w_adv) == (1.0, 1.0, 0.5, 0.05)
    terms = loss.branch_terms(pred, ref, mu, logvar, scores)
    assert set(terms) == {"loss", "mse", "l1", "kl", "adv"}
    torch.testing.assert_close(terms["mse"], F.mse_loss(pred, ref))
    torch.testing.assert_close(terms["l1"], F.l1_loss(pred, ref))
    assert terms["kl"].item() == pytest.approx(0.5)
    assert terms["adv"].item() == pytest.approx(0.25)  # mean((0.5 - 1)^2)
    expected = terms["mse"] + terms["l1"] + 0.5 * 0.5 + 0.05 * 0.25
    torch.testing.assert_close(terms["loss"], expected)
    no_adv = VAMALoss(w_adv=0.0).branch_terms(pred, ref, mu, logvar, scores)
    assert no_adv["adv"].item() == 0.0
    torch.testing.assert_close(no_adv["loss"], terms["mse"] + terms["l1"] + 0.25)


def test_forward_sums_branches_and_discriminator_terms():
    loss = VAMALoss()
    x = torch.rand(1, 1, 8, 8)
    branch = {"pred": x, "reference": x, "mu": torch.zeros(1, 2, 2, 2), "logvar": torch.zeros(1, 2, 2, 2)}
    out = loss(source={**branch, "fake_scores": torch.zeros(1, 1, 2, 2)}, target={**branch, "fake_scores": None})
    assert set(out) == {"loss"} | {f"{b}_{k}" for b in ("source", "target") for k in ("loss", "mse", "l1", "kl", "adv")}
    assert out["source_adv"].item() == pytest.approx(1.0) and out["target_adv"].item() == 0.0
    torch.testing.assert_close(out["loss"], out["source_loss"] + out["target_loss"])
    assert out["loss"].item() == pytest.approx(0.05)

    d = loss.discriminator_forward(
        source_real=torch.ones(1, 1, 2, 2),
        source_fake=torch.zeros(1, 1, 2, 2),
        target_real=torch.zeros(1, 1, 2, 2),
        target_fake=torch.ones(1, 1, 2, 2),
    )
    assert d["source_loss"].item() == pytest.approx(0.0)
    assert d["target_real"].item() == pytest.approx(1.0) and d["target_fake"].item() == pytest.approx(1.0)
    assert d["target_loss"].item() == pytest.approx(1.0)
    assert d["loss"].item() == pytest.approx(1.0)


def test_validation():
    with pytest.raises(ValueError, match="non-negative"):
        VAMALoss(w_kl=-1.0)
    with pytest.raises(ValueError, match="reconstruction"):
        VAMALoss(w_mse=0.0, w_l1=0.0)
    with pytest.raises(ValueError, match="shapes differ"):
        VAMALoss().branch_terms(torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 2), torch.zeros(1), torch.zeros(1))
