"""Loss helpers shared by the domain-translation comparators (CycleGAN, MUNIT, BicycleGAN).

- :func:`lsgan_generator_loss` / :func:`lsgan_discriminator_loss`: least-squares GAN (LSGAN, Mao et al. 2017) terms on
  raw discriminator scores, a single patch map or a list of maps (one per scale of a multi-scale discriminator; the
  per-scale means are **summed**, as in pix2pixHD, MUNIT and BicycleGAN).
- :func:`frozen_parameters`: a context manager under which a forward pass builds no graph into some modules'
  parameters (the generator pass through a discriminator, BicycleGAN's latent regression through its encoder).

The KL divergence of a diagonal Gaussian is :func:`custom_networks.losses.vama_loss.gaussian_kl` (shared with V-AMA).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["frozen_parameters", "lsgan_discriminator_loss", "lsgan_generator_loss"]


def _as_list(scores: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``scores`` as a non-empty list of tensors."""
    out = [scores] if isinstance(scores, torch.Tensor) else list(scores)
    if not out:
        raise ValueError("expected at least one discriminator score tensor.")
    return out


def lsgan_generator_loss(fake_scores: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """Least-squares generator term ``sum_scales mean((D(fake) - 1) ** 2)``.

    Args:
        fake_scores: raw discriminator scores of generated images: one tensor or one tensor per scale.

    Returns:
        A scalar tensor.
    """
    terms = [torch.mean((s - 1.0) ** 2) for s in _as_list(fake_scores)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def lsgan_discriminator_loss(
    real_scores: torch.Tensor | Sequence[torch.Tensor], fake_scores: torch.Tensor | Sequence[torch.Tensor]
) -> torch.Tensor:
    """Least-squares discriminator term ``0.5 * sum_scales (mean((D(real) - 1) ** 2) + mean(D(fake) ** 2))``.

    The factor 0.5 is CycleGAN's (and this project's ``LeastSquaresDiscriminatorLoss``); MUNIT and BicycleGAN omit
    it, which only rescales the discriminator's gradient (and Adam is invariant to that scale).

    Args:
        real_scores: raw scores of real images: one tensor or one tensor per scale.
        fake_scores: raw scores of generated images (computed from detached fakes), same structure.

    Returns:
        A scalar tensor.

    Raises:
        ValueError: when the number of scales differs.
    """
    real, fake = _as_list(real_scores), _as_list(fake_scores)
    if len(real) != len(fake):
        raise ValueError(f"got {len(real)} real and {len(fake)} fake score maps.")
    total = torch.mean((real[0] - 1.0) ** 2) + torch.mean(fake[0] ** 2)
    for r, f in zip(real[1:], fake[1:], strict=True):
        total = total + torch.mean((r - 1.0) ** 2) + torch.mean(f**2)
    return 0.5 * total


@contextmanager
def frozen_parameters(*modules: nn.Module) -> Iterator[None]:
    """Within the block, the parameters of ``modules`` do not require gradient (restored on exit).

    A forward pass run inside the block still propagates gradient *through* the modules to their inputs, but the
    autograd graph holds no edge to their parameters, so a later ``backward`` leaves their ``.grad`` untouched even
    though it runs after the block. Used for the generator's adversarial terms (no gradient into the
    discriminators) and for BicycleGAN's latent regression (no gradient into the encoder).

    Args:
        modules: the modules whose parameters are frozen.
    """
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)
