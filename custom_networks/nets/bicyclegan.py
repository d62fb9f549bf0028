"""BicycleGAN (Zhu et al., NeurIPS 2017): multimodal paired translation, cVAE-GAN + cLR-GAN with one generator.

The generator ``G(target, z)`` is a U-Net whose input is the target image concatenated with the latent code ``z``
(dimension 8) broadcast over the image; the encoder ``E(source)`` gives the mean and log-variance of ``z``. Two
branches share ``G`` and ``E``:

- **cVAE-GAN**: ``z ~ E(source)`` (reparameterised), ``G(target, z)`` must reconstruct the paired ``source`` (L1) and
  fool the discriminator ``d_vae``; ``E``'s posterior is pulled to ``N(0, I)`` (KL);
- **cLR-GAN**: ``z ~ N(0, I)``, ``G(target, z)`` must fool the discriminator ``d_lr`` and ``E`` must recover ``z`` from
  it (latent regression); as in the paper's code, the latent regression trains ``G`` only, not ``E``.

Intensities are in [0, 1]: the generator ends in a sigmoid by default (the paper's ``tanh`` for [-1, 1] images).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution, ResidualUnit
from monai.networks.layers import Pool
from torch import nn

from custom_networks.losses.translation_losses import (
    frozen_parameters,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from custom_networks.losses.vama_loss import gaussian_kl
from custom_networks.nets.cyclegan import LEAKY_RELU, PyramidPatchDiscriminator, check_output_act, output_activation
from custom_networks.nets.translation_base import TranslationModel
from custom_networks.nets.unet_parts import UNetDecoder, UNetEncoder

__all__ = ["BicycleGAN", "LatentEncoder", "LatentUNetGenerator"]


class LatentUNetGenerator(nn.Module):
    """U-Net generator ``G(x, z)`` with the latent code injected at the input by broadcasting and concatenation.

    The input of the U-Net (:class:`~custom_networks.nets.unet_parts.UNetEncoder` /
    :class:`~custom_networks.nets.unet_parts.UNetDecoder`, MONAI blocks: max-pool + two conv-IN-LeakyReLU per level,
    linear up-sampling + skip concatenation + two conv-IN-ReLU per stage) is ``cat([x, z broadcast], dim=1)``, the
    paper's ``where_add="input"``. Spatial sizes must be divisible by ``2 ** (len(features) - 1)``.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: image channels of ``x``.
        out_channels: output image channels.
        z_dim: dimension of the latent code.
        features: widths of the U-Net levels, full resolution first (the last two equal, see ``decoder_widths``).
        norm: normalisation (instance norm, as BicycleGAN).
        output_act: ``"sigmoid"`` (default), ``"clamp"`` or ``None``.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 1,
        z_dim: int = 8,
        features: Sequence[int] = (8, 16, 32, 32),
        norm: str | tuple = "instance",
        output_act: str | None = "sigmoid",
    ) -> None:
        super().__init__()
        check_output_act(output_act)
        self.z_dim = z_dim
        self.output_act = output_act
        self.encoder = UNetEncoder(spatial_dims, in_channels + z_dim, features, act=LEAKY_RELU, norm=norm, bias=False)
        self.decoder = UNetDecoder(spatial_dims, features, out_channels, act="relu", norm=norm, bias=False)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Generate from ``x`` ``(B, in_channels, *S)`` and ``z`` ``(B, z_dim)``; returns ``(B, out_channels, *S)``."""
        z_map = z.reshape(*z.shape, *([1] * (x.ndim - 2))).expand(-1, -1, *x.shape[2:])
        return output_activation(self.decoder(self.encoder(torch.cat([x, z_map.to(x.dtype)], dim=1))), self.output_act)


class LatentEncoder(nn.Module):
    """Encoder ``E(image) -> (mu, logvar)`` of the latent code (the paper's ResNet encoder, from MONAI blocks).

    Conv3-LeakyReLU, ``num_downsamplings`` MONAI :class:`~monai.networks.blocks.ResidualUnit` (stride 2, two
    conv-IN-LeakyReLU sub-units, width doubled up to ``4 * channels``), global average pooling, two linear heads.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: image channels.
        z_dim: dimension of the latent code.
        channels: width of the first convolution (BicycleGAN 64).
        num_downsamplings: stride-2 residual units.
        norm: normalisation of the residual units (instance norm).
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        z_dim: int = 8,
        channels: int = 8,
        num_downsamplings: int = 3,
        norm: str | tuple = "instance",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            Convolution(spatial_dims, in_channels, channels, kernel_size=3, act=LEAKY_RELU, norm=None, bias=True)
        ]
        width = channels
        for _ in range(num_downsamplings):
            out = min(2 * width, 4 * channels)
            layers.append(
                ResidualUnit(spatial_dims, width, out, strides=2, subunits=2, act=LEAKY_RELU, norm=norm, bias=False)
            )
            width = out
        layers.append(Pool[Pool.ADAPTIVEAVG, spatial_dims](1))
        self.features = nn.Sequential(*layers)
        self.fc_mu = nn.Linear(width, z_dim)
        self.fc_logvar = nn.Linear(width, z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)``, each ``(B, z_dim)``, of images ``(B, in_channels, *S)``."""
        h = self.features(x).flatten(1)
        return self.fc_mu(h), self.fc_logvar(h)


class BicycleGAN(TranslationModel):
    """BicycleGAN translating target -> source on **paired** ``(source, target)`` batches, least-squares GAN.

    Sub-modules: ``generator`` (:class:`LatentUNetGenerator`, ``G(target, z) -> source``), ``encoder``
    (:class:`LatentEncoder`, ``E(source) -> (mu, logvar)``), ``d_vae`` and ``d_lr`` (two multi-scale patch
    discriminators on source-appearance images, :class:`PyramidPatchDiscriminator`; the paper's
    ``basic_256_multi`` with 2 scales, unconditional).

    Generator loss (``G`` and ``E`` are both in :meth:`generator_modules`; terms unweighted in the dict)::

        mu, logvar = E(s);  z_vae = mu + eps * exp(logvar / 2);  fake_vae = G(t, z_vae)
        z_lr ~ N(0, I);      fake_lr = G(t, z_lr)
        adv_vae = LSGAN_G(d_vae(fake_vae))      adv_lr = LSGAN_G(d_lr(fake_lr))
        pixel   = |fake_vae - s|_1              kl = KL(N(mu, exp(logvar)) || N(0, I))  (summed over z, batch mean)
        latent  = |mu(E(fake_lr)) - z_lr|_1    (E's parameters frozen: gradient reaches G only)
        loss = lambda_adv adv_vae + lambda_adv_lr adv_lr + lambda_pixel pixel + lambda_kl kl + lambda_latent latent

    Discriminator loss: ``LSGAN_D(d_vae(s), d_vae(fake_vae)) + LSGAN_D(d_lr(s), d_lr(fake_lr))`` on the cached,
    detached fakes: both discriminators are called and trained at every iteration.

    :meth:`translate` is deterministic with ``z = 0`` (the prior mean); ``translate(target, z)`` samples with an
    explicit code (e.g. ``torch.randn(B, 8)``).

    Spatial sizes: divisible by ``2 ** (len(features) - 1)`` (8 by default) and, for the discriminators, at least
    ``2 ** (disc_scales - 1) * 3 * 2 ** disc_layers`` (24 by default).

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: image channels.
        z_dim: dimension of the latent code (8).
        features: widths of the generator's U-Net levels.
        encoder_channels: width of the encoder's first convolution.
        encoder_downsamplings: stride-2 residual units of the encoder.
        disc_channels: width of the discriminators' first convolution.
        disc_layers: ``num_layers_d`` of each scale's patch discriminator.
        disc_scales: scales of each discriminator (BicycleGAN 2).
        norm: normalisation of generator, encoder and discriminators (instance norm).
        output_act: generator output activation, ``"sigmoid"`` (default), ``"clamp"`` or ``None``.
        lambda_adv: weight of the cVAE-GAN adversarial term (1).
        lambda_adv_lr: weight of the cLR-GAN adversarial term (1).
        lambda_pixel: weight of the L1 reconstruction of the paired source (10).
        lambda_kl: weight of the KL term (0.01).
        lambda_latent: weight of the latent regression (0.5).
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        z_dim: int = 8,
        features: Sequence[int] = (8, 16, 32, 32),
        encoder_channels: int = 8,
        encoder_downsamplings: int = 3,
        disc_channels: int = 16,
        disc_layers: int = 2,
        disc_scales: int = 2,
        norm: str | tuple = "instance",
        output_act: str | None = "sigmoid",
        lambda_adv: float = 1.0,
        lambda_adv_lr: float = 1.0,
        lambda_pixel: float = 10.0,
        lambda_kl: float = 0.01,
        lambda_latent: float = 0.5,
    ) -> None:
        super().__init__()
        self.generator = LatentUNetGenerator(spatial_dims, in_channels, in_channels, z_dim, features, norm, output_act)
        self.encoder = LatentEncoder(spatial_dims, in_channels, z_dim, encoder_channels, encoder_downsamplings, norm)
        disc_args = (spatial_dims, in_channels, disc_channels, disc_layers, disc_scales)
        self.d_vae = PyramidPatchDiscriminator(*disc_args, norm=norm)
        self.d_lr = PyramidPatchDiscriminator(*disc_args, norm=norm)
        self.z_dim = z_dim
        self.lambda_adv = lambda_adv
        self.lambda_adv_lr = lambda_adv_lr
        self.lambda_pixel = lambda_pixel
        self.lambda_kl = lambda_kl
        self.lambda_latent = lambda_latent
        self._fakes: tuple[torch.Tensor, torch.Tensor] | None = None

    def generator_modules(self) -> list[nn.Module]:
        """The generator and the encoder."""
        return [self.generator, self.encoder]

    def discriminator_modules(self) -> list[nn.Module]:
        """The cVAE-GAN and cLR-GAN discriminators."""
        return [self.d_vae, self.d_lr]

    def translate(self, target: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Target -> source appearance: ``G(target, z)``.

        Args:
            target: target-domain images ``(B, C, *S)``.
            z: latent codes ``(B, z_dim)``; ``None`` = zeros (deterministic).

        Returns:
            ``(B, C, *S)`` in source appearance.
        """
        if z is None:
            z = target.new_zeros(target.shape[0], self.z_dim)
        return self.generator(target, z)

    def generator_loss(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """cVAE-GAN and cLR-GAN terms on the paired batch; caches both fakes."""
        mu, logvar = self.encoder(source)
        z_vae = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        fake_vae = self.generator(target, z_vae)
        z_lr = torch.randn(target.shape[0], self.z_dim, device=target.device, dtype=mu.dtype)
        fake_lr = self.generator(target, z_lr)
        with frozen_parameters(self.d_vae, self.d_lr):
            adv_vae = lsgan_generator_loss(self.d_vae(fake_vae))
            adv_lr = lsgan_generator_loss(self.d_lr(fake_lr))
        with frozen_parameters(self.encoder):
            mu_lr, _ = self.encoder(fake_lr)
        pixel = F.l1_loss(fake_vae, source)
        kl = gaussian_kl(mu, logvar) * self.z_dim  # mean per element -> KL per sample (sum over z), batch mean
        latent = F.l1_loss(mu_lr, z_lr)
        loss = (
            self.lambda_adv * adv_vae
            + self.lambda_adv_lr * adv_lr
            + self.lambda_pixel * pixel
            + self.lambda_kl * kl
            + self.lambda_latent * latent
        )
        self._fakes = (fake_vae.detach(), fake_lr.detach())
        return {"loss": loss, "adv_vae": adv_vae, "adv_lr": adv_lr, "pixel": pixel, "kl": kl, "latent": latent}

    def discriminator_loss(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Least-squares loss of ``d_vae`` and ``d_lr`` on the real source and the cached, detached fakes.

        Without cached fakes (no preceding :meth:`generator_loss`) they are generated here without gradient.
        """
        if self._fakes is None:
            with torch.no_grad():
                mu, logvar = self.encoder(source)
                z_vae = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                self._fakes = (self.generator(target, z_vae), self.generator(target, torch.randn_like(mu)))
        fake_vae, fake_lr = self._fakes
        self._fakes = None
        d_vae = lsgan_discriminator_loss(self.d_vae(source), self.d_vae(fake_vae))
        d_lr = lsgan_discriminator_loss(self.d_lr(source), self.d_lr(fake_lr))
        return {"loss": d_vae + d_lr, "d_vae": d_vae, "d_lr": d_lr}
