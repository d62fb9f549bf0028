"""MUNIT (Huang et al., ECCV 2018): multimodal unsupervised translation by content / style disentanglement.

Each domain has a content encoder (down-sampling + instance-normalised residual blocks: a spatial content code
shared by the domains), a style encoder (down-sampling, global average pooling: a style vector of dimension 8) and a
decoder whose residual blocks use **adaptive instance normalisation** (AdaIN), with affine parameters produced by an
MLP from the style vector. Translation target -> source = source decoder(target content, a source style).

Intensities are in [0, 1]: the decoders end in a sigmoid by default (the paper's ``tanh`` for [-1, 1] images).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.networks.layers import Pool
from torch import nn

from custom_networks.losses.translation_losses import (
    frozen_parameters,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from custom_networks.nets.cyclegan import (
    PyramidPatchDiscriminator,
    ResidualBlock,
    check_output_act,
    large_kernel,
    output_activation,
    padded_convolution,
)
from custom_networks.nets.translation_base import TranslationModel

__all__ = [
    "STYLE_MODES",
    "AdaINDecoder",
    "AdaINResidualBlock",
    "ContentEncoder",
    "MUNIT",
    "StyleEncoder",
    "adaptive_instance_norm",
]

#: How :meth:`MUNIT.translate` picks the source style: the prior mean (zeros) or the running mean of encoded styles.
STYLE_MODES = ("zero", "mean")
#: MUNIT's "LayerNorm" of the decoder's up-sampling layers: normalise over (C, *spatial), per-channel affine.
LAYER_NORM = ("group", {"num_groups": 1})


def adaptive_instance_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """AdaIN: instance-normalise ``x`` then apply the per-sample, per-channel affine ``weight * x_hat + bias``.

    Args:
        x: features ``(B, C, *spatial)``.
        weight: scales ``(B, C)`` (the paper's ``gamma``, taken as is from the MLP).
        bias: shifts ``(B, C)`` (``beta``).
        eps: instance-norm epsilon.

    Returns:
        ``(B, C, *spatial)``.
    """
    shape = (*weight.shape, *([1] * (x.ndim - 2)))
    return F.instance_norm(x, eps=eps) * weight.reshape(shape) + bias.reshape(shape)


class ContentEncoder(nn.Sequential):
    """MUNIT content encoder: conv7-IN-ReLU, ``num_downsamplings`` x (conv4 stride 2, width doubled, IN, ReLU),
    ``num_res_blocks`` instance-normalised :class:`ResidualBlock`. The "7" is ``outer_kernel_size`` (default 7 in
    2D, 3 in 3D, see :func:`~custom_networks.nets.cyclegan.large_kernel`).

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: image channels.
        channels: width of the first convolution (MUNIT 64).
        num_downsamplings: stride-2 down-samplings (MUNIT 2).
        num_res_blocks: residual blocks (MUNIT 4).
        pad_mode: ``"reflect"`` (MUNIT) or ``"zeros"``.
        outer_kernel_size: kernel of the first convolution; ``None`` = 7 in 2D (MUNIT), 3 in 3D.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        channels: int = 8,
        num_downsamplings: int = 2,
        num_res_blocks: int = 4,
        pad_mode: str = "reflect",
        outer_kernel_size: int | None = None,
    ) -> None:
        super().__init__()
        k = large_kernel(outer_kernel_size, spatial_dims)
        self.add_module("stem", padded_convolution(spatial_dims, in_channels, channels, k, pad_mode=pad_mode))
        width = channels
        for i in range(num_downsamplings):
            self.add_module(
                f"down_{i}", padded_convolution(spatial_dims, width, 2 * width, 4, strides=2, pad_mode=pad_mode)
            )
            width *= 2
        for i in range(num_res_blocks):
            self.add_module(f"res_{i}", ResidualBlock(spatial_dims, width, "instance", "relu", pad_mode))
        self.out_channels = width


class StyleEncoder(nn.Module):
    """MUNIT style encoder: conv7-ReLU, ``num_downsamplings`` x conv4 stride 2 (width doubled for the first two),
    no normalisation (it would remove the style), global average pooling, 1x1 convolution to ``style_dim``.

    Every spatial size must be at least ``2 ** num_downsamplings``.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: image channels.
        channels: width of the first convolution (MUNIT 64).
        num_downsamplings: stride-2 down-samplings (MUNIT 4).
        style_dim: dimension of the style code (8).
        pad_mode: ``"reflect"`` (MUNIT) or ``"zeros"``.
        outer_kernel_size: kernel of the first convolution; ``None`` = 7 in 2D (MUNIT), 3 in 3D.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        channels: int = 8,
        num_downsamplings: int = 4,
        style_dim: int = 8,
        pad_mode: str = "reflect",
        outer_kernel_size: int | None = None,
    ) -> None:
        super().__init__()
        k = large_kernel(outer_kernel_size, spatial_dims)
        layers: list[nn.Module] = [
            padded_convolution(spatial_dims, in_channels, channels, k, norm=None, pad_mode=pad_mode)
        ]
        width = channels
        for i in range(num_downsamplings):
            out = 2 * width if i < 2 else width
            layers.append(padded_convolution(spatial_dims, width, out, 4, strides=2, norm=None, pad_mode=pad_mode))
            width = out
        layers.append(Pool[Pool.ADAPTIVEAVG, spatial_dims](1))
        layers.append(padded_convolution(spatial_dims, width, style_dim, 1, conv_only=True))
        self.model = nn.Sequential(*layers)
        self.style_dim = style_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Style code ``(B, style_dim)`` of images ``(B, in_channels, *S)``."""
        return self.model(x).flatten(1)


class AdaINResidualBlock(nn.Module):
    """Residual block with AdaIN: ``x + AdaIN(conv3(ReLU(AdaIN(conv3(x), w1, b1))), w2, b2)``.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        channels: width (unchanged).
        pad_mode: ``"reflect"`` (MUNIT) or ``"zeros"``.
    """

    def __init__(self, spatial_dims: int, channels: int, pad_mode: str = "reflect") -> None:
        super().__init__()
        self.conv1 = padded_convolution(spatial_dims, channels, channels, 3, pad_mode=pad_mode, conv_only=True)
        self.conv2 = padded_convolution(spatial_dims, channels, channels, 3, pad_mode=pad_mode, conv_only=True)
        self.channels = channels

    def forward(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Apply the block.

        Args:
            x: features ``(B, channels, *S)``.
            params: AdaIN parameters ``(B, 4 * channels)``: ``[w1, b1, w2, b2]``.

        Returns:
            ``(B, channels, *S)``.
        """
        w1, b1, w2, b2 = torch.split(params, self.channels, dim=1)
        h = torch.relu(adaptive_instance_norm(self.conv1(x), w1, b1))
        return x + adaptive_instance_norm(self.conv2(h), w2, b2)


class AdaINDecoder(nn.Module):
    """MUNIT decoder: AdaIN residual blocks (parameters from an MLP on the style code), up-sampling, output conv.

    ``num_res_blocks`` :class:`AdaINResidualBlock`, ``num_upsamplings`` x (nearest x2 up-sampling,
    conv ``up_kernel_size``, layer norm, ReLU, width halved), conv ``outer_kernel_size`` to ``out_channels``, output
    activation (kernels 5 and 7 in 2D as MUNIT, 3 in 3D by default, see
    :func:`~custom_networks.nets.cyclegan.large_kernel`). The MLP
    (``mlp_layers`` linear layers of width ``mlp_dim`` with ReLU, MUNIT: 3 x 256) maps the style code to the
    ``4 * channels`` AdaIN parameters of every block.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: width of the content code.
        out_channels: image channels.
        num_upsamplings: x2 up-samplings (match the content encoder's down-samplings).
        num_res_blocks: AdaIN residual blocks (MUNIT 4).
        style_dim: dimension of the style code.
        mlp_dim: hidden width of the MLP.
        mlp_layers: linear layers of the MLP (at least 2).
        up_kernel_size: kernel of the up-sampling convolutions; ``None`` = 5 in 2D (MUNIT), 3 in 3D.
        pad_mode: ``"reflect"`` (MUNIT) or ``"zeros"``.
        output_act: ``"sigmoid"`` (default), ``"clamp"`` or ``None``.
        outer_kernel_size: kernel of the last convolution; ``None`` = 7 in 2D (MUNIT), 3 in 3D.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 32,
        out_channels: int = 1,
        num_upsamplings: int = 2,
        num_res_blocks: int = 4,
        style_dim: int = 8,
        mlp_dim: int = 64,
        mlp_layers: int = 3,
        up_kernel_size: int | None = None,
        pad_mode: str = "reflect",
        output_act: str | None = "sigmoid",
        outer_kernel_size: int | None = None,
    ) -> None:
        super().__init__()
        check_output_act(output_act)
        up_k = large_kernel(up_kernel_size, spatial_dims, 5)
        out_k = large_kernel(outer_kernel_size, spatial_dims)
        if mlp_layers < 2:
            raise ValueError(f"mlp_layers must be at least 2, got {mlp_layers}.")
        self.output_act = output_act
        self.blocks = nn.ModuleList(
            AdaINResidualBlock(spatial_dims, in_channels, pad_mode) for _ in range(num_res_blocks)
        )
        self.num_adain_params = 4 * in_channels * num_res_blocks
        mlp: list[nn.Module] = [nn.Linear(style_dim, mlp_dim), nn.ReLU()]
        for _ in range(mlp_layers - 2):
            mlp += [nn.Linear(mlp_dim, mlp_dim), nn.ReLU()]
        mlp.append(nn.Linear(mlp_dim, self.num_adain_params))
        self.mlp = nn.Sequential(*mlp)
        up: list[nn.Module] = []
        width = in_channels
        for _ in range(num_upsamplings):
            up.append(nn.Upsample(scale_factor=2, mode="nearest"))
            up.append(padded_convolution(spatial_dims, width, width // 2, up_k, norm=LAYER_NORM, pad_mode=pad_mode))
            width //= 2
        up.append(padded_convolution(spatial_dims, width, out_channels, out_k, pad_mode=pad_mode, conv_only=True))
        self.up = nn.Sequential(*up)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Decode a content code with a style code.

        Args:
            content: ``(B, in_channels, *s)``.
            style: ``(B, style_dim)``.

        Returns:
            Images ``(B, out_channels, *s * 2 ** num_upsamplings)``.
        """
        params = self.mlp(style)
        x = content
        for block, block_params in zip(self.blocks, torch.split(params, 4 * x.shape[1], dim=1), strict=False):
            x = block(x, block_params)
        return output_activation(self.up(x), self.output_act)


class MUNIT(TranslationModel):
    """MUNIT between the source domain (``_s``) and the target domain (``_t``), least-squares GAN.

    Sub-modules per domain ``x`` in ``{s, t}``: ``content_x`` (:class:`ContentEncoder`), ``style_x``
    (:class:`StyleEncoder`), ``decoder_x`` (:class:`AdaINDecoder`) and ``d_x``, a multi-scale least-squares patch
    discriminator (:class:`PyramidPatchDiscriminator` without normalisation, as MUNIT). Unpaired: the pairing is
    ignored.

    Generator loss for a batch, with random styles ``z_s, z_t ~ N(0, I)`` (terms unweighted in the returned dict)::

        c_s, c_t = content_s(s), content_t(t);   y_s, y_t = style_s(s), style_t(t)
        fake_s = decoder_s(c_t, z_s)   (target -> source)     fake_t = decoder_t(c_s, z_t)
        recon_x = |decoder_s(c_s, y_s) - s|_1 + |decoder_t(c_t, y_t) - t|_1
        recon_c = |content_s(fake_s) - c_t|_1 + |content_t(fake_t) - c_s|_1
        recon_s = |style_s(fake_s) - z_s|_1 + |style_t(fake_t) - z_t|_1
        cycle   = |decoder_t(content_s(fake_s), y_t) - t|_1 + |decoder_s(content_t(fake_t), y_s) - s|_1
        adv     = LSGAN_G(d_s(fake_s)) + LSGAN_G(d_t(fake_t))
        loss = lambda_adv adv + lambda_image recon_x + lambda_content recon_c + lambda_style recon_s
               + lambda_cycle cycle

    (the cycle term is only computed when ``lambda_cycle > 0``). Discriminator loss:
    ``LSGAN_D(d_s(s), d_s(fake_s)) + LSGAN_D(d_t(t), d_t(fake_t))`` on the cached, detached fakes.

    :meth:`translate` is deterministic: ``decoder_s(content_t(target), style)`` with ``style`` = zeros (the mean of
    the style prior, ``style_mode="zero"``, default) or, with ``style_mode="mean"``, the running mean of the source
    style codes ``style_s(source)`` seen by :meth:`generator_loss` (a bias-corrected exponential moving average kept
    in buffers, so it is saved with the weights). ``translate(target, style)`` takes an explicit style code
    (e.g. ``torch.randn(B, 8)`` for sampling).

    Spatial sizes: divisible by ``2 ** num_downsamplings``, at least ``2 ** style_downsamplings`` (16 by default)
    and, for the discriminators, at least ``2 ** (disc_scales - 1) * 2 ** (disc_layers + 1)`` (32 by default).

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: image channels.
        channels: width of the encoders' first convolution (MUNIT 64).
        num_downsamplings: down-samplings of the content encoder (= up-samplings of the decoder).
        num_res_blocks: residual blocks of the content encoder and AdaIN blocks of the decoder (MUNIT 4).
        style_dim: dimension of the style code (8).
        style_downsamplings: down-samplings of the style encoder (MUNIT 4).
        mlp_dim: hidden width of the AdaIN-parameter MLP (MUNIT 256).
        mlp_layers: linear layers of that MLP (MUNIT 3).
        up_kernel_size: kernel of the decoder's up-sampling convolutions; ``None`` = 5 in 2D (MUNIT), 3 in 3D.
        outer_kernel_size: kernel of the encoders' first and the decoders' last convolutions; ``None`` = 7 in 2D
            (MUNIT), 3 in 3D.
        disc_channels: width of the discriminators' first convolution (MUNIT 64).
        disc_layers: ``num_layers_d`` of each scale's patch discriminator.
        disc_scales: scales of the multi-scale discriminators (MUNIT 3).
        pad_mode: ``"reflect"`` (MUNIT) or ``"zeros"``.
        output_act: decoder output activation, ``"sigmoid"`` (default), ``"clamp"`` or ``None``.
        lambda_adv: weight of the adversarial terms (1).
        lambda_image: weight of the within-domain image reconstruction (10).
        lambda_content: weight of the content reconstruction (1).
        lambda_style: weight of the style reconstruction (1).
        lambda_cycle: weight of the explicit cycle reconstruction (0 = not computed).
        style_mode: style used by :meth:`translate`: ``"zero"`` (prior mean) or ``"mean"`` (running mean).
        style_momentum: momentum of the running mean of source styles.

    Raises:
        ValueError: for an unknown ``style_mode``.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        channels: int = 8,
        num_downsamplings: int = 2,
        num_res_blocks: int = 4,
        style_dim: int = 8,
        style_downsamplings: int = 4,
        mlp_dim: int = 64,
        mlp_layers: int = 3,
        up_kernel_size: int | None = None,
        outer_kernel_size: int | None = None,
        disc_channels: int = 16,
        disc_layers: int = 2,
        disc_scales: int = 3,
        pad_mode: str = "reflect",
        output_act: str | None = "sigmoid",
        lambda_adv: float = 1.0,
        lambda_image: float = 10.0,
        lambda_content: float = 1.0,
        lambda_style: float = 1.0,
        lambda_cycle: float = 0.0,
        style_mode: str = "zero",
        style_momentum: float = 0.01,
    ) -> None:
        super().__init__()
        if style_mode not in STYLE_MODES:
            raise ValueError(f"style_mode must be one of {STYLE_MODES}, got {style_mode!r}.")
        for domain in ("s", "t"):
            content = ContentEncoder(
                spatial_dims, in_channels, channels, num_downsamplings, num_res_blocks, pad_mode, outer_kernel_size
            )
            style = StyleEncoder(
                spatial_dims, in_channels, channels, style_downsamplings, style_dim, pad_mode, outer_kernel_size
            )
            decoder = AdaINDecoder(
                spatial_dims,
                content.out_channels,
                in_channels,
                num_downsamplings,
                num_res_blocks,
                style_dim,
                mlp_dim,
                mlp_layers,
                up_kernel_size,
                pad_mode,
                output_act,
                outer_kernel_size,
            )
            disc = PyramidPatchDiscriminator(
                spatial_dims, in_channels, disc_channels, disc_layers, disc_scales, norm=None, last_conv_kernel_size=1
            )
            self.add_module(f"content_{domain}", content)
            self.add_module(f"style_{domain}", style)
            self.add_module(f"decoder_{domain}", decoder)
            self.add_module(f"d_{domain}", disc)
        self.style_dim = style_dim
        self.style_mode = style_mode
        self.style_momentum = style_momentum
        self.lambda_adv = lambda_adv
        self.lambda_image = lambda_image
        self.lambda_content = lambda_content
        self.lambda_style = lambda_style
        self.lambda_cycle = lambda_cycle
        self.register_buffer("source_style_ema", torch.zeros(style_dim))
        self.register_buffer("source_style_steps", torch.zeros((), dtype=torch.long))
        self._fakes: tuple[torch.Tensor, torch.Tensor] | None = None

    def generator_modules(self) -> list[nn.Module]:
        """Content encoders, style encoders and decoders (with their MLPs) of both domains."""
        return [self.content_s, self.style_s, self.decoder_s, self.content_t, self.style_t, self.decoder_t]

    def discriminator_modules(self) -> list[nn.Module]:
        """The multi-scale discriminators of both domains."""
        return [self.d_s, self.d_t]

    def source_style(self, batch_size: int = 1) -> torch.Tensor:
        """The deterministic source style code of :meth:`translate`, ``(batch_size, style_dim)``."""
        if self.style_mode == "zero":
            return self.source_style_ema.new_zeros(batch_size, self.style_dim)
        correction = 1.0 - (1.0 - self.style_momentum) ** self.source_style_steps.to(self.source_style_ema.dtype)
        mean = self.source_style_ema / correction.clamp_min(1e-12)
        return mean.unsqueeze(0).expand(batch_size, -1)

    def translate(self, target: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        """Target -> source appearance: ``decoder_s(content_t(target), style)``.

        Args:
            target: target-domain images ``(B, C, *S)``.
            style: source style codes ``(B, style_dim)``; ``None`` = :meth:`source_style` (deterministic).

        Returns:
            ``(B, C, *S)`` in source appearance.
        """
        content = self.content_t(target)
        if style is None:
            style = self.source_style(target.shape[0]).to(content.dtype)
        return self.decoder_s(content, style)

    def generator_loss(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Adversarial, image, content, style (and optionally cycle) reconstruction terms; caches the fakes."""
        c_s, c_t = self.content_s(source), self.content_t(target)
        y_s, y_t = self.style_s(source), self.style_t(target)
        z_s = torch.randn(target.shape[0], self.style_dim, device=target.device, dtype=y_s.dtype)  # for c_t
        z_t = torch.randn(source.shape[0], self.style_dim, device=source.device, dtype=y_t.dtype)  # for c_s
        fake_s = self.decoder_s(c_t, z_s)
        fake_t = self.decoder_t(c_s, z_t)
        recon_x = F.l1_loss(self.decoder_s(c_s, y_s), source) + F.l1_loss(self.decoder_t(c_t, y_t), target)
        c_t_rec, c_s_rec = self.content_s(fake_s), self.content_t(fake_t)
        recon_c = F.l1_loss(c_t_rec, c_t) + F.l1_loss(c_s_rec, c_s)
        recon_s = F.l1_loss(self.style_s(fake_s), z_s) + F.l1_loss(self.style_t(fake_t), z_t)
        with frozen_parameters(self.d_s, self.d_t):
            adv = lsgan_generator_loss(self.d_s(fake_s)) + lsgan_generator_loss(self.d_t(fake_t))
        loss = (
            self.lambda_adv * adv
            + self.lambda_image * recon_x
            + self.lambda_content * recon_c
            + self.lambda_style * recon_s
        )
        out = {"adv": adv, "recon_x": recon_x, "recon_c": recon_c, "recon_s": recon_s}
        if self.lambda_cycle > 0:
            cycle = F.l1_loss(self.decoder_t(c_t_rec, y_t), target) + F.l1_loss(self.decoder_s(c_s_rec, y_s), source)
            out["cycle"] = cycle
            loss = loss + self.lambda_cycle * cycle
        if self.training:
            with torch.no_grad():
                self.source_style_ema.lerp_(y_s.mean(0).to(self.source_style_ema.dtype), self.style_momentum)
                self.source_style_steps += 1
        self._fakes = (fake_s.detach(), fake_t.detach())
        return {"loss": loss, **out}

    def discriminator_loss(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Least-squares loss of ``d_s`` and ``d_t`` (all scales) on real images and the cached, detached fakes.

        Without cached fakes (no preceding :meth:`generator_loss`) they are generated here without gradient.
        """
        if self._fakes is None:
            with torch.no_grad():
                z_s = torch.randn(target.shape[0], self.style_dim, device=target.device)
                z_t = torch.randn(source.shape[0], self.style_dim, device=source.device)
                self._fakes = (
                    self.decoder_s(self.content_t(target), z_s),
                    self.decoder_t(self.content_s(source), z_t),
                )
        fake_s, fake_t = self._fakes
        self._fakes = None
        d_s = lsgan_discriminator_loss(self.d_s(source), self.d_s(fake_s))
        d_t = lsgan_discriminator_loss(self.d_t(target), self.d_t(fake_t))
        return {"loss": d_s + d_t, "d_s": d_s, "d_t": d_t}
