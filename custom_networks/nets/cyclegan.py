"""CycleGAN (Zhu et al., ICCV 2017) for unpaired target -> source domain translation, and its building blocks.

Besides :class:`CycleGAN` this module holds the parts that MUNIT and BicycleGAN reuse: the residual block of the
ResNet generator (:class:`ResidualBlock`), the ResNet generator itself (:class:`ResnetGenerator`) and the
least-squares patch discriminator on an image pyramid (:class:`PyramidPatchDiscriminator`, one
:class:`monai.networks.nets.PatchDiscriminator` per scale).

Intensities are in [0, 1]: generators end in a **sigmoid** (the [0, 1] counterpart of the papers' ``tanh`` for
[-1, 1] images, ``tanh(x) = 2 * sigmoid(2x) - 1``) by default; ``output_act="clamp"`` clamps instead.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import Convolution
from monai.networks.layers import Act, Pool
from monai.networks.nets import PatchDiscriminator
from torch import nn

from custom_networks.losses.translation_losses import (
    frozen_parameters,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from custom_networks.nets.image_pool import ImagePool
from custom_networks.nets.translation_base import TranslationModel

__all__ = [
    "OUTPUT_ACTIVATIONS",
    "CycleGAN",
    "PyramidPatchDiscriminator",
    "ResidualBlock",
    "ResnetGenerator",
    "check_output_act",
    "large_kernel",
    "output_activation",
    "padded_convolution",
]

#: Generator output activations: ``"sigmoid"`` (default), ``"clamp"`` (to [0, 1]) or ``None`` (raw).
OUTPUT_ACTIVATIONS = ("sigmoid", "clamp", None)
PAD_MODES = ("reflect", "zeros")
LEAKY_RELU = (Act.LEAKYRELU, {"negative_slope": 0.2})


def output_activation(x: torch.Tensor, mode: str | None) -> torch.Tensor:
    """Map generator output ``x`` to the intensity range [0, 1].

    Args:
        x: raw generator output.
        mode: ``"sigmoid"``, ``"clamp"`` (hard clamp, no gradient outside [0, 1]) or ``None`` (``x`` unchanged).

    Returns:
        The activated tensor.
    """
    if mode == "sigmoid":
        return torch.sigmoid(x)
    if mode == "clamp":
        return torch.clamp(x, 0.0, 1.0)
    return x


def large_kernel(kernel_size: int | None, spatial_dims: int, paper_size: int = 7) -> int:
    """Kernel size of the papers' large (7 x 7 or 5 x 5) convolutions, resolved for ``spatial_dims``.

    A 7^3 (or 5^3) convolution at full 3D resolution costs seconds per 128 x 128 x 64 volume on a CPU core
    whatever its width, so by default 3D models use 3^3 kernels there (their receptive field comes from the
    down-sampling path anyway) and 2D models keep the papers' size.

    Args:
        kernel_size: explicit kernel size, or ``None`` for the default.
        spatial_dims: number of spatial dimensions.
        paper_size: the papers' size (7 for the first / last convolutions, 5 for MUNIT's up-sampling).

    Returns:
        ``kernel_size`` if given, else ``paper_size`` in 2D and 3 in 3D.
    """
    if kernel_size is not None:
        return kernel_size
    return paper_size if spatial_dims <= 2 else 3


def check_output_act(mode: str | None) -> None:
    """Raise ``ValueError`` unless ``mode`` is one of :data:`OUTPUT_ACTIVATIONS`."""
    if mode not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"output_act must be one of {OUTPUT_ACTIVATIONS}, got {mode!r}.")


def padded_convolution(
    spatial_dims: int,
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    strides: int = 1,
    norm: str | tuple | None = "instance",
    act: str | tuple | None = "relu",
    pad_mode: str = "reflect",
    conv_only: bool = False,
) -> nn.Module:
    """A MONAI :class:`~monai.networks.blocks.Convolution` (conv-norm-act) with "same"-style padding.

    With ``pad_mode="reflect"`` the input is reflection-padded by ``(kernel_size - 1) // 2`` on each side (the
    papers' padding for stride-1 convolutions) and the convolution is unpadded; with ``"zeros"`` the convolution
    pads with zeros. The convolution has a bias only when it is not followed by a normalisation.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: input width.
        out_channels: output width.
        kernel_size: kernel size.
        strides: stride.
        norm: normalisation type and arguments (MONAI factory name), ``None`` for none.
        act: activation type and arguments, ``None`` for none.
        pad_mode: ``"reflect"`` or ``"zeros"``.
        conv_only: convolution only (no norm, no activation).

    Returns:
        The block, ``nn.Sequential``.

    Raises:
        ValueError: for an unknown ``pad_mode``.
    """
    if pad_mode not in PAD_MODES:
        raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}.")
    pad = (kernel_size - 1) // 2
    conv = Convolution(
        spatial_dims,
        in_channels,
        out_channels,
        strides=strides,
        kernel_size=kernel_size,
        act=act,
        norm=norm,
        bias=conv_only or norm is None,
        conv_only=conv_only,
        padding=0 if pad_mode == "reflect" else pad,
    )
    if pad_mode == "reflect" and pad > 0:
        return nn.Sequential(getattr(nn, f"ReflectionPad{spatial_dims}d")(pad), conv)
    return nn.Sequential(conv)


class ResidualBlock(nn.Module):
    """Residual block ``x + N(conv3(A(N(conv3(x)))))`` of the CycleGAN / MUNIT generators (no activation after the sum).

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        channels: width (unchanged).
        norm: normalisation type and arguments (instance norm by default).
        act: activation type and arguments.
        pad_mode: ``"reflect"`` (the papers) or ``"zeros"``.
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        norm: str | tuple | None = "instance",
        act: str | tuple = "relu",
        pad_mode: str = "reflect",
    ) -> None:
        super().__init__()
        self.conv1 = padded_convolution(spatial_dims, channels, channels, 3, norm=norm, act=act, pad_mode=pad_mode)
        self.conv2 = padded_convolution(spatial_dims, channels, channels, 3, norm=norm, act=None, pad_mode=pad_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + block(x)``."""
        return x + self.conv2(self.conv1(x))


class ResnetGenerator(nn.Module):
    """The CycleGAN ResNet generator (Johnson et al. 2016): encoder, residual blocks, decoder.

    ``c7s1-c`` (conv7-norm-ReLU), ``num_downsamplings`` x (conv3 stride 2, width doubled), ``num_res_blocks``
    :class:`ResidualBlock`, ``num_downsamplings`` x (transposed conv3 stride 2, width halved), ``c7s1-out``, then
    the output activation. The "7" is ``outer_kernel_size`` (default: 7 in 2D, 3 in 3D, see :func:`large_kernel`).
    Spatial sizes must be divisible by ``2 ** num_downsamplings``.

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: input channels.
        out_channels: output channels.
        channels: width of the first convolution (CycleGAN: 64; small CPU-friendly default 16).
        num_downsamplings: number of stride-2 down-samplings (and up-samplings).
        num_res_blocks: residual blocks at the lowest resolution (CycleGAN: 9 at 256^2, 6 at 128^2).
        norm: normalisation type and arguments (instance norm, as CycleGAN).
        pad_mode: padding of the stride-1 convolutions, ``"reflect"`` (CycleGAN) or ``"zeros"``.
        output_act: ``"sigmoid"`` (default, intensities in [0, 1]), ``"clamp"`` or ``None``.
        outer_kernel_size: kernel of the first and last convolutions; ``None`` = 7 in 2D (CycleGAN), 3 in 3D.

    Raises:
        ValueError: for an unknown ``output_act`` or ``pad_mode``.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 1,
        channels: int = 16,
        num_downsamplings: int = 2,
        num_res_blocks: int = 4,
        norm: str | tuple | None = "instance",
        pad_mode: str = "reflect",
        output_act: str | None = "sigmoid",
        outer_kernel_size: int | None = None,
    ) -> None:
        super().__init__()
        check_output_act(output_act)
        self.output_act = output_act
        k = large_kernel(outer_kernel_size, spatial_dims)
        layers: list[nn.Module] = [
            padded_convolution(spatial_dims, in_channels, channels, k, norm=norm, act="relu", pad_mode=pad_mode)
        ]
        width = channels
        for _ in range(num_downsamplings):
            layers.append(
                Convolution(spatial_dims, width, 2 * width, strides=2, kernel_size=3, act="relu", norm=norm, bias=False)
            )
            width *= 2
        layers.extend(ResidualBlock(spatial_dims, width, norm, "relu", pad_mode) for _ in range(num_res_blocks))
        for _ in range(num_downsamplings):
            layers.append(
                Convolution(
                    spatial_dims,
                    width,
                    width // 2,
                    strides=2,
                    kernel_size=3,
                    act="relu",
                    norm=norm,
                    bias=False,
                    is_transposed=True,
                    padding=1,
                    output_padding=1,
                )
            )
            width //= 2
        layers.append(padded_convolution(spatial_dims, width, out_channels, k, pad_mode=pad_mode, conv_only=True))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate ``x`` ``(B, in_channels, *S)`` -> ``(B, out_channels, *S)``."""
        return output_activation(self.model(x), self.output_act)


class PyramidPatchDiscriminator(nn.Module):
    """Least-squares patch discriminator(s) on an image pyramid: one MONAI ``PatchDiscriminator`` per scale.

    Scale 0 sees the image, scale ``k`` the image average-pooled ``k`` times (kernel 3, stride 2, padding 1, padding
    excluded from the average), as the multi-scale discriminators of pix2pixHD, MUNIT and BicycleGAN. (MONAI's
    ``MultiScalePatchDiscriminator`` instead deepens the network at each scale on the same input, doubling the width
    per layer, which does not fit small 3D patches.) Each :class:`~monai.networks.nets.PatchDiscriminator` is a
    stride-2 conv + LeakyReLU, ``num_layers_d`` conv-norm-LeakyReLU layers (width doubled, stride 2 except the last),
    then a convolution to one channel; weights ``N(0, 0.02)``. ``num_scales=1`` is the PatchGAN of pix2pix /
    CycleGAN (70 x 70 receptive field in 2D with ``num_layers_d=3``).

    Size constraint (kernel 4, padding 1): the input of scale ``k`` must have every spatial size at least
    ``2 ** num_layers_d * 3`` (``2 ** num_layers_d * 2`` with ``last_conv_kernel_size=1``), e.g. 24 for the
    default 3 layers (16 with 2 layers).

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: input channels.
        channels: width of the first convolution (doubled per layer; the papers use 64).
        num_layers_d: conv-norm-act layers after the first convolution.
        num_scales: number of pyramid levels (one discriminator each).
        kernel_size: kernel of the convolutions.
        norm: normalisation of the intermediate layers (instance norm as CycleGAN; ``None`` as MUNIT).
        act: activation type and arguments (LeakyReLU 0.2).
        last_conv_kernel_size: kernel of the final convolution; ``None`` = ``kernel_size``.

    Returns from ``forward``:
        A list of raw score maps (no sigmoid, for the least-squares loss), one per scale.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        channels: int = 16,
        num_layers_d: int = 3,
        num_scales: int = 1,
        kernel_size: int = 4,
        norm: str | tuple | None = "instance",
        act: str | tuple = LEAKY_RELU,
        last_conv_kernel_size: int | None = None,
    ) -> None:
        super().__init__()
        if num_scales < 1 or num_layers_d < 1:
            raise ValueError(f"need num_scales >= 1 and num_layers_d >= 1, got {num_scales} and {num_layers_d}.")
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(
                spatial_dims=spatial_dims,
                channels=channels,
                in_channels=in_channels,
                out_channels=1,
                num_layers_d=num_layers_d,
                kernel_size=kernel_size,
                activation=act,
                norm=norm,
                bias=norm is None,
                padding=(kernel_size - 1) // 2,
                last_conv_kernel_size=last_conv_kernel_size,
            )
            for _ in range(num_scales)
        )
        self.downsample = Pool[Pool.AVG, spatial_dims](kernel_size=3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Score ``x`` ``(B, in_channels, *S)`` at every scale (finest first)."""
        scores: list[torch.Tensor] = []
        for k, disc in enumerate(self.discriminators):
            if k > 0:
                x = self.downsample(x)
            scores.append(disc(x)[-1])
        return scores


class CycleGAN(TranslationModel):
    """CycleGAN: two ResNet generators, two least-squares patch discriminators, cycle and identity losses.

    ``g_t2s`` maps target -> source (the deployable translation), ``g_s2t`` source -> target; ``d_s`` judges source
    images, ``d_t`` target images. Unpaired: the pairing of ``source`` and ``target`` in a batch is ignored.

    Generator loss (every term unweighted in the returned dict)::

        adv_t2s = LSGAN_G(d_s(g_t2s(t)))                 adv_s2t = LSGAN_G(d_t(g_s2t(s)))
        cycle_t = |g_s2t(g_t2s(t)) - t|_1                cycle_s = |g_t2s(g_s2t(s)) - s|_1
        idt_s   = |g_t2s(s) - s|_1                       idt_t   = |g_s2t(t) - t|_1
        loss = lambda_adv (adv_t2s + adv_s2t) + lambda_cycle (cycle_s + cycle_t) + lambda_identity (idt_s + idt_t)

    ``lambda_identity`` is an **absolute** weight: the default 5 equals CycleGAN's ``lambda_identity=0.5`` relative
    to ``lambda_cycle=10`` (the original comparison's "identity 5"). The adversarial terms are computed with the
    discriminators' parameters frozen, so :meth:`generator_loss` never puts gradient into them.

    Discriminator loss: ``LSGAN_D(d_s(s), d_s(pool_s(fake_s))) + LSGAN_D(d_t(t), d_t(pool_t(fake_t)))`` with the
    fakes of the last :meth:`generator_loss` call, detached and passed through a replay buffer (:class:`ImagePool`
    of ``pool_size`` images; a fake is swapped with a stored one with probability ``pool_prob``).

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        in_channels: image channels.
        channels: width of the generators' first convolution.
        num_downsamplings: down-samplings of the generators (spatial sizes divisible by ``2 ** num_downsamplings``).
        num_res_blocks: residual blocks of the generators.
        disc_channels: width of the discriminators' first convolution.
        disc_layers: ``num_layers_d`` of the patch discriminators (every spatial size >= ``3 * 2 ** disc_layers``).
        norm: normalisation of generators and discriminators (instance norm).
        pad_mode: padding of the generators' stride-1 convolutions (``"reflect"`` or ``"zeros"``).
        output_act: generator output activation, ``"sigmoid"`` (default), ``"clamp"`` or ``None``.
        outer_kernel_size: kernel of the generators' first and last convolutions; ``None`` = 7 in 2D, 3 in 3D.
        lambda_adv: weight of each adversarial term.
        lambda_cycle: weight of each cycle-consistency term (10).
        lambda_identity: absolute weight of each identity term (5 = 0.5 x ``lambda_cycle``; 0 skips the terms).
        pool_size: replay-buffer size per discriminator (50; 0 disables).
        pool_prob: probability of returning a stored fake once the buffer is full (0.5).
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        channels: int = 16,
        num_downsamplings: int = 2,
        num_res_blocks: int = 4,
        disc_channels: int = 16,
        disc_layers: int = 3,
        norm: str | tuple | None = "instance",
        pad_mode: str = "reflect",
        output_act: str | None = "sigmoid",
        outer_kernel_size: int | None = None,
        lambda_adv: float = 1.0,
        lambda_cycle: float = 10.0,
        lambda_identity: float = 5.0,
        pool_size: int = 50,
        pool_prob: float = 0.5,
    ) -> None:
        super().__init__()
        gen_args = (spatial_dims, in_channels, in_channels, channels, num_downsamplings, num_res_blocks, norm)
        self.g_t2s = ResnetGenerator(*gen_args, pad_mode, output_act, outer_kernel_size)
        self.g_s2t = ResnetGenerator(*gen_args, pad_mode, output_act, outer_kernel_size)
        self.d_s = PyramidPatchDiscriminator(spatial_dims, in_channels, disc_channels, disc_layers, norm=norm)
        self.d_t = PyramidPatchDiscriminator(spatial_dims, in_channels, disc_channels, disc_layers, norm=norm)
        self.lambda_adv = lambda_adv
        self.lambda_cycle = lambda_cycle
        self.lambda_identity = lambda_identity
        self.pool_s = ImagePool(pool_size, pool_prob)
        self.pool_t = ImagePool(pool_size, pool_prob)
        self._fakes: tuple[torch.Tensor, torch.Tensor] | None = None

    def generator_modules(self) -> list[nn.Module]:
        """The two generators."""
        return [self.g_t2s, self.g_s2t]

    def discriminator_modules(self) -> list[nn.Module]:
        """The two discriminators."""
        return [self.d_s, self.d_t]

    def translate(self, target: torch.Tensor) -> torch.Tensor:
        """Target -> source appearance: ``g_t2s(target)`` (deterministic)."""
        return self.g_t2s(target)

    def generator_loss(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Adversarial, cycle and identity terms of both directions; caches the two fakes."""
        fake_s = self.g_t2s(target)
        fake_t = self.g_s2t(source)
        cycle_t = torch.mean(torch.abs(self.g_s2t(fake_s) - target))
        cycle_s = torch.mean(torch.abs(self.g_t2s(fake_t) - source))
        with frozen_parameters(self.d_s, self.d_t):
            adv_t2s = lsgan_generator_loss(self.d_s(fake_s))
            adv_s2t = lsgan_generator_loss(self.d_t(fake_t))
        loss = self.lambda_adv * (adv_t2s + adv_s2t) + self.lambda_cycle * (cycle_s + cycle_t)
        out = {"adv_t2s": adv_t2s, "adv_s2t": adv_s2t, "cycle_s": cycle_s, "cycle_t": cycle_t}
        if self.lambda_identity > 0:
            out["idt_s"] = torch.mean(torch.abs(self.g_t2s(source) - source))
            out["idt_t"] = torch.mean(torch.abs(self.g_s2t(target) - target))
            loss = loss + self.lambda_identity * (out["idt_s"] + out["idt_t"])
        self._fakes = (fake_s.detach(), fake_t.detach())
        return {"loss": loss, **out}

    def discriminator_loss(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Least-squares loss of ``d_s`` and ``d_t`` on real images and replay-buffered fakes.

        Uses (and then clears) the fakes cached by the last :meth:`generator_loss`; without them the fakes are
        generated here without gradient.
        """
        if self._fakes is None:
            with torch.no_grad():
                self._fakes = (self.g_t2s(target), self.g_s2t(source))
        fake_s, fake_t = self._fakes
        self._fakes = None
        d_s = lsgan_discriminator_loss(self.d_s(source), self.d_s(self.pool_s.query(fake_s)))
        d_t = lsgan_discriminator_loss(self.d_t(target), self.d_t(self.pool_t.query(fake_t)))
        return {"loss": d_s + d_t, "d_s": d_s, "d_t": d_t}
