"""The V-AMA objective: per-branch reconstruction + KL + least-squares adversarial terms, and the discriminator loss.

V-AMA (variational adversarial mixture autoencoder, Savioli et al., arXiv 2107.07975) trains two variational U-Nets
(source and target branch, :class:`custom_networks.nets.VAMA`). Each branch is trained with

``w_mse * MSE(pred, reference) + w_l1 * L1(pred, reference) + w_kl * KL(q(z|x) || N(0, I)) + w_adv * LSGAN(D(pred))``

with the original weights ``(1, 1, 0.5, 0.05)``; each branch's discriminator is trained with the least-squares loss
``0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2))``. The optimiser of the original (Adam, lr 2e-4, betas
(0.5, 0.999), for both the generators and the discriminators) is set in the bundle configs.

Unlike the original, the KL divergence is the **mean per latent element** (the original summed it over 320,000
latent dimensions, which swamps every other term) and is computed in closed form (:func:`gaussian_kl`).

This module depends on torch and MONAI only, so :mod:`custom_networks.nets` can import it without an import cycle.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.losses import PatchAdversarialLoss
from torch import nn

__all__ = ["VAMALoss", "gaussian_kl"]

BRANCHES = ("source", "target")


def _plain(t: torch.Tensor) -> torch.Tensor:
    """``t`` as a plain float32 ``torch.Tensor`` (drops MetaTensor metadata, keeps the autograd graph)."""
    return (t.as_tensor() if isinstance(t, MetaTensor) else t).float()


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Closed-form KL divergence ``KL(N(mu, exp(logvar)) || N(0, 1))``, averaged over every latent element.

    Per element ``0.5 * (mu^2 + exp(logvar) - 1 - logvar)``; the mean over batch, channels and space is returned
    (e.g. ``mu = 1, logvar = 0`` gives 0.5, ``mu = 0, logvar = 0`` gives 0).

    Args:
        mu: posterior means, any shape.
        logvar: posterior log-variances ``log(sigma^2)``, same shape as ``mu``.

    Returns:
        A 0-d float32 tensor.
    """
    mu, logvar = _plain(mu), _plain(logvar)
    return 0.5 * torch.mean(mu.square() + logvar.exp() - 1.0 - logvar)


class VAMALoss(nn.Module):
    """Generator and discriminator losses of V-AMA, returning every term.

    Generator, per branch (:meth:`branch_terms`)::

        loss = w_mse * MSE(pred, reference) + w_l1 * L1(pred, reference) + w_kl * KL + w_adv * mean((D(pred) - 1)^2)

    where KL is :func:`gaussian_kl` of the posterior the branch decoded from (mean per element). :meth:`forward`
    sums the two branches. Discriminator, per branch (:meth:`discriminator_terms`):
    ``0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2))`` (MONAI ``PatchAdversarialLoss``, least squares, applied to
    the raw scores); :meth:`discriminator_forward` sums the two branches.

    A weight of 0 skips its term (reported as 0). Terms are computed in float32 (safe under autocast).

    Args:
        w_mse: weight of the MSE reconstruction term. Original: 1.
        w_l1: weight of the L1 reconstruction term. Original: 1.
        w_kl: weight of the KL term. Original: 0.5.
        w_adv: weight of the least-squares adversarial term. Original: 0.05.
    """

    def __init__(self, w_mse: float = 1.0, w_l1: float = 1.0, w_kl: float = 0.5, w_adv: float = 0.05) -> None:
        super().__init__()
        if min(w_mse, w_l1, w_kl, w_adv) < 0:
            raise ValueError(f"loss weights must be non-negative, got {(w_mse, w_l1, w_kl, w_adv)}.")
        if w_mse == 0 and w_l1 == 0:
            raise ValueError("at least one reconstruction weight (w_mse, w_l1) must be positive.")
        self.w_mse = float(w_mse)
        self.w_l1 = float(w_l1)
        self.w_kl = float(w_kl)
        self.w_adv = float(w_adv)
        self.adversarial = PatchAdversarialLoss(criterion="least_squares", no_activation_leastsq=True)

    def branch_terms(
        self,
        pred: torch.Tensor,
        reference: torch.Tensor,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        fake_scores: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Generator loss of one branch.

        Args:
            pred: the branch output ``(B, C, *spatial)``.
            reference: what it should equal, same shape.
            mu: means of the posterior the output was decoded from.
            logvar: log-variances of that posterior.
            fake_scores: the branch discriminator's raw scores of ``pred``; ``None`` skips the adversarial term.

        Returns:
            ``{"loss", "mse", "l1", "kl", "adv"}``: weighted total and unweighted terms (0-d tensors).
        """
        if pred.shape != reference.shape:
            raise ValueError(f"prediction and reference shapes differ: {list(pred.shape)} vs {list(reference.shape)}.")
        pred, reference = _plain(pred), _plain(reference)
        zero = torch.zeros((), device=pred.device)
        mse = F.mse_loss(pred, reference) if self.w_mse > 0 else zero
        l1 = F.l1_loss(pred, reference) if self.w_l1 > 0 else zero
        kl = gaussian_kl(mu, logvar) if self.w_kl > 0 else zero
        adv = zero
        if fake_scores is not None and self.w_adv > 0:
            adv = self.adversarial(_plain(fake_scores), target_is_real=True, for_discriminator=False)
        total = self.w_mse * mse + self.w_l1 * l1 + self.w_kl * kl + self.w_adv * adv
        return {"loss": total, "mse": mse, "l1": l1, "kl": kl, "adv": adv}

    def forward(
        self,
        source: dict[str, torch.Tensor | None],
        target: dict[str, torch.Tensor | None],
    ) -> dict[str, torch.Tensor]:
        """Generator loss of both branches.

        Args:
            source: keyword arguments of :meth:`branch_terms` for the source branch (``pred``, ``reference``,
                ``mu``, ``logvar``, ``fake_scores``).
            target: the same for the target branch.

        Returns:
            ``{"loss": source total + target total}`` and every branch term prefixed with its branch:
            ``"source_loss"``, ``"source_mse"``, ``"source_l1"``, ``"source_kl"``, ``"source_adv"``,
            ``"target_loss"``, ... .
        """
        out: dict[str, torch.Tensor] = {}
        for name, kwargs in zip(BRANCHES, (source, target), strict=True):
            out.update({f"{name}_{k}": v for k, v in self.branch_terms(**kwargs).items()})  # type: ignore[arg-type]
        return {"loss": out["source_loss"] + out["target_loss"], **out}

    def discriminator_terms(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> dict[str, torch.Tensor]:
        """Least-squares loss of one discriminator.

        Args:
            real_scores: raw scores of real images of its domain.
            fake_scores: raw scores of the (detached) generated images.

        Returns:
            ``{"loss": 0.5 * (real + fake), "real": mean((D(real) - 1)^2), "fake": mean(D(fake)^2)}``.
        """
        real = self.adversarial(_plain(real_scores), target_is_real=True, for_discriminator=True)
        fake = self.adversarial(_plain(fake_scores), target_is_real=False, for_discriminator=True)
        return {"loss": 0.5 * (real + fake), "real": real, "fake": fake}

    def discriminator_forward(
        self,
        source_real: torch.Tensor,
        source_fake: torch.Tensor,
        target_real: torch.Tensor,
        target_fake: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Loss of both discriminators (their parameters are disjoint, so the total is the sum).

        Args:
            source_real: source discriminator scores of real source images.
            source_fake: source discriminator scores of the translations.
            target_real: target discriminator scores of real target images.
            target_fake: target discriminator scores of the target reconstructions.

        Returns:
            ``{"loss"}`` and ``"source_loss"``, ``"source_real"``, ``"source_fake"``, ``"target_loss"``, ... .
        """
        out: dict[str, torch.Tensor] = {}
        out.update({f"source_{k}": v for k, v in self.discriminator_terms(source_real, source_fake).items()})
        out.update({f"target_{k}": v for k, v in self.discriminator_terms(target_real, target_fake).items()})
        return {"loss": out["source_loss"] + out["target_loss"], **out}
