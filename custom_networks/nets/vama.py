"""V-AMA: variational adversarial mixture autoencoder for unsupervised domain adaptation (image-level translation).

V-AMA (Savioli et al., arXiv 2107.07975) translates a **target-domain** image (another scanner / site) into the
**source domain's** appearance before the frozen Gemini-GAN. It is built from two variational U-Nets
(:class:`VariationalUNet`: U-Net encoder with skips, convolutional ``(mu, logvar)`` heads, reparameterised sampling,
residual U-Net decoder) and two least-squares patch discriminators (:class:`ImagePatchDiscriminator`); the source
branch decodes a *mixed Gaussian* made of its own posterior and the (detached) target branch's posterior.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import Convolution
from monai.networks.layers import Act
from monai.networks.nets import PatchDiscriminator
from torch import nn

from custom_networks.losses.vama_loss import VAMALoss
from custom_networks.nets.translation_base import TranslationModel
from custom_networks.nets.unet_parts import UNetDecoder, UNetEncoder

__all__ = [
    "DEFAULT_VAMA_FEATURES",
    "DEFAULT_VAMA_NORM",
    "LOGVAR_MAX",
    "LOGVAR_MIN",
    "SKIP_MIXING",
    "VAMA",
    "ImagePatchDiscriminator",
    "VariationalUNet",
    "mix_gaussians",
    "mix_skips",
    "reparameterize",
]

#: CPU-friendly default encoder widths of a V-AMA branch (4 levels: sizes must be multiples of 8).
DEFAULT_VAMA_FEATURES: tuple[int, ...] = (8, 16, 32, 64)
#: Normalisation of the V-AMA branches: none. Instance norm makes every feature invariant to an affine change of the
#: input patch's intensities (conv, then per-channel standardisation), so the residual ``output - input`` cannot depend
#: on absolute intensity, which is what a scanner-to-scanner translation changes; its statistics also differ between
#: training patches and whole-volume inference. Measured on the generated target_a domain (vama_bundle model card,
#: benchmarks/vama_comparison.py): Dice LV / myo / RV of the frozen Gemini-GAN after translation, 20 external test
#: cases, 0.41 / 0.37 / 0.40 with instance norm vs 0.79 / 0.66 / 0.63 without (same seed, 40 epochs).
DEFAULT_VAMA_NORM: str | tuple | None = None
#: The latent heads' log-variances are clamped to [LOGVAR_MIN, LOGVAR_MAX] (keeps ``exp`` finite; no effect in
#: normal training).
LOGVAR_MIN: float = -30.0
LOGVAR_MAX: float = 20.0
#: How the source branch combines its encoder skips with the target branch's (detached) skips.
SKIP_MIXING = ("sum", "mean", "none")


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, sample: bool = True) -> torch.Tensor:
    """Draw ``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)``, or return ``mu`` when ``sample`` is false.

    Args:
        mu: posterior means.
        logvar: posterior log-variances ``log(sigma^2)``.
        sample: draw a sample (training) or return the mean (deterministic inference).
    """
    if not sample:
        return mu
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def mix_gaussians(
    mu_a: torch.Tensor, logvar_a: torch.Tensor, mu_b: torch.Tensor, logvar_b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The "mixed Gaussian" of V-AMA: means add and **standard deviations** add.

    ``mu = mu_a + mu_b`` and ``sigma = sigma_a + sigma_b``, i.e. ``logvar = 2 * log(exp(logvar_a / 2) +
    exp(logvar_b / 2))`` (computed with ``logaddexp``). This is the distribution of ``z_a + z_b`` when both
    reparameterised samples share the same noise ``eps`` (perfectly correlated, ``var = (sigma_a + sigma_b)^2``), the
    paper's "sum of mu and sigma"; it is *not* the independent-sum variance ``sigma_a^2 + sigma_b^2``.

    Args:
        mu_a: means of the first posterior.
        logvar_a: log-variances of the first posterior.
        mu_b: means of the second posterior (same shape).
        logvar_b: log-variances of the second posterior.

    Returns:
        ``(mu, logvar)`` of the mixture.
    """
    return mu_a + mu_b, 2.0 * torch.logaddexp(0.5 * logvar_a, 0.5 * logvar_b)


def mix_skips(own: list[torch.Tensor], other: list[torch.Tensor], mode: str = "sum") -> list[torch.Tensor]:
    """Combine two lists of encoder skip features level by level.

    Args:
        own: the decoding branch's skips.
        other: the other branch's skips (detach them before calling when no gradient must reach that branch).
        mode: ``"sum"`` (``own + other``, the paper's rule, like the latent means), ``"mean"`` (``(own + other) / 2``,
            keeps the feature scale) or ``"none"`` (``own`` only).

    Returns:
        The mixed skips.
    """
    if mode == "none":
        return own
    if len(own) != len(other):
        raise ValueError("both branches must give the same number of skips.")
    mixed: list[torch.Tensor] = []
    for i in range(len(own)):  # TorchScript: no zip(strict=...)
        mixed.append(own[i] + other[i] if mode == "sum" else 0.5 * (own[i] + other[i]))
    return mixed


def _clamp_unit(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1]; under autograd with a straight-through gradient (the value is exactly the clamp).

    The forward value is ``clamp(x, 0, 1)`` in training and inference alike; the gradient is the identity, so the
    reconstruction and adversarial losses still pull an out-of-range voxel back (a plain clamp would give it zero
    gradient and could leave it stuck).
    """
    clamped = x.clamp(0.0, 1.0)
    if torch.is_grad_enabled() and x.requires_grad and not torch.jit.is_tracing():  # a trace is for deployment
        return clamped.detach() + (x - x.detach())
    return clamped


class VariationalUNet(nn.Module):
    """One V-AMA branch: a variational U-Net with a residual decoder.

    * **Encoder**: :class:`~custom_networks.nets.unet_parts.UNetEncoder` (MONAI ``TwoConv`` then ``Down`` levels,
      widths ``features``); the bottleneck is the last level, the other levels are the skips.
    * **Latent heads**: two 1x1 convolutions on the bottleneck giving ``mu`` and ``logvar = log(sigma^2)``
      (``(B, latent_channels, *S / 2**depth)``; log-variances clamped to [:data:`LOGVAR_MIN`, :data:`LOGVAR_MAX`]).
      Convolutional, so the network is small and accepts any input size divisible by ``2**depth`` (the original
      used two dense 288 -> 320,000 layers of ~186 M parameters each).
    * **Sampling**: ``z = mu + sigma * eps`` (:func:`reparameterize`), or ``z = mu`` when not sampling.
    * **Residual decoder**: :class:`~custom_networks.nets.unet_parts.UNetDecoder` on ``[*skips, z]`` with a linear
      1x1 head giving a residual; ``output = clamp(input + residual, 0, 1)``. The clamp (``clamp_output``, default
      on) keeps the translation in the [0, 1] intensity range of the pipeline and is applied identically in training
      and inference; in training its gradient is straight-through (identity), so out-of-range voxels are still
      pulled back by the losses. With ``clamp_output=False`` the output is ``input + residual`` unbounded.

    ``depth = len(features) - 1``. With the default widths 8-16-32-64 a 3D branch has 0.40 M parameters (a
    default 3-layer discriminator 0.70 M; the whole default 3D ``VAMA`` 2.19 M).

    Args:
        spatial_dims: 3 (volumes ``(B, C, H, W, D)``, default) or 2 (images ``(B, C, H, W)``).
        in_channels: channels of the input and of the output (the decoder is residual).
        features: encoder widths, full resolution first (at least 2 levels).
        latent_channels: channels of ``mu`` / ``logvar``; ``None`` = ``features[-1]``.
        act: activation type and arguments (MONAI factory name or ``(name, kwargs)``).
        norm: normalisation type and arguments (MONAI factory name or ``(name, kwargs)``), ``None`` for none (default,
            see :data:`DEFAULT_VAMA_NORM`).
        bias: whether the 3x3 convolutions have a bias term.
        dropout: dropout rate after each normalisation.
        upsample: decoder up-sampling: ``"nontrainable"`` (interpolation), ``"deconv"`` or ``"pixelshuffle"``.
        interp_mode: interpolation for ``"nontrainable"`` (``"linear"`` = bi/trilinear).
        align_corners: ``align_corners`` of the interpolation.
        clamp_output: clamp the output to [0, 1] (straight-through gradient in training, see above).

    Raises:
        ValueError: for bad dimensions, channel counts or widths.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        features: Sequence[int] = DEFAULT_VAMA_FEATURES,
        latent_channels: int | None = None,
        act: str | tuple = (Act.LEAKYRELU, {"negative_slope": 0.2}),
        norm: str | tuple | None = DEFAULT_VAMA_NORM,
        bias: bool = True,
        dropout: float | tuple = 0.0,
        upsample: str = "nontrainable",
        interp_mode: str = "linear",
        align_corners: bool | None = True,
        clamp_output: bool = True,
    ) -> None:
        super().__init__()
        features = tuple(features)
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}.")
        if len(features) < 2 or any(isinstance(f, bool) or int(f) != f or f < 1 for f in features):
            raise ValueError(f"features must be at least 2 positive ints (encoder widths), got {features!r}.")
        latent_channels = features[-1] if latent_channels is None else int(latent_channels)
        if in_channels < 1 or latent_channels < 1:
            raise ValueError(f"need in_channels >= 1 and latent_channels >= 1, got {in_channels}, {latent_channels}.")
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.features = features
        self.latent_channels = latent_channels
        self.size_divisor = 2 ** (len(features) - 1)
        self.clamp_output = clamp_output
        self.logvar_min = LOGVAR_MIN
        self.logvar_max = LOGVAR_MAX

        common = {"act": act, "norm": norm, "bias": bias, "dropout": dropout}
        self.encoder = UNetEncoder(spatial_dims, in_channels, features, **common)
        self.mu_head = Convolution(spatial_dims, features[-1], latent_channels, kernel_size=1, conv_only=True)
        self.logvar_head = Convolution(spatial_dims, features[-1], latent_channels, kernel_size=1, conv_only=True)
        self.decoder = UNetDecoder(
            spatial_dims,
            (*features[:-1], latent_channels),
            in_channels,
            upsample=upsample,
            interp_mode=interp_mode,
            align_corners=align_corners,
            **common,
        )

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` when ``x`` is not a ``(B, in_channels, *spatial)`` batch this branch accepts.

        Args:
            x: the input batch.
        """
        if x.ndim != self.spatial_dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected a (B, {self.in_channels}, {self.spatial_dims} spatial dims) input, got {list(x.shape)}."
            )
        for size in x.shape[2:]:
            if size % self.size_divisor != 0:
                raise ValueError(
                    f"spatial sizes {list(x.shape[2:])} must be multiples of {self.size_divisor}; pad/crop the "
                    "image or use a sliding-window inferer with such a ROI."
                )

    def encode(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Encode ``x`` into its skips and latent posterior.

        Args:
            x: ``(B, in_channels, *spatial)``, intensities in [0, 1].

        Returns:
            ``(skips, mu, logvar)``: the encoder features of every level but the bottleneck (full resolution first),
            and the posterior ``(B, latent_channels, *spatial / 2**depth)``.
        """
        if not torch.jit.is_tracing():  # shape checks would be frozen into a trace as constants
            self.check_input(x)
        levels = self.encoder(x)
        bottleneck = levels[-1]
        logvar = self.logvar_head(bottleneck).clamp(self.logvar_min, self.logvar_max)
        return levels[:-1], self.mu_head(bottleneck), logvar

    def decode(self, x: torch.Tensor, z: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """Residual decoding: ``clamp(x + decoder([*skips, z]))``.

        Args:
            x: the input the residual is added to, ``(B, in_channels, *spatial)``.
            z: latent code ``(B, latent_channels, *spatial / 2**depth)``.
            skips: skip features, as returned by :meth:`encode` (possibly mixed).

        Returns:
            ``(B, in_channels, *spatial)``.
        """
        features: list[torch.Tensor] = []
        for skip in skips:
            features.append(skip)
        features.append(z)
        out = x + self.decoder(features)
        if self.clamp_output:
            out = _clamp_unit(out)
        return out

    def forward(self, x: torch.Tensor, sample: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Plain (unmixed) VAE pass.

        Args:
            x: ``(B, in_channels, *spatial)``.
            sample: decode a posterior sample instead of the mean.

        Returns:
            ``(output, mu, logvar)``.
        """
        skips, mu, logvar = self.encode(x)
        return self.decode(x, reparameterize(mu, logvar, sample), skips), mu, logvar


class ImagePatchDiscriminator(PatchDiscriminator):
    """MONAI :class:`~monai.networks.nets.PatchDiscriminator` returning only the final raw patch-score map.

    pix2pix-style: a stride-2 conv4x4 + LeakyReLU(0.2), then ``num_layers_d`` conv4x4-norm-LeakyReLU layers doubling
    the width (stride 2 except the last), then a conv4x4 to one channel, no sigmoid (least-squares GAN). Every
    spatial size must be at least ``3 * 2 ** num_layers_d`` (12 for 2 layers, 24 for 3).

    Args:
        spatial_dims: 2 or 3.
        in_channels: image channels.
        channels: width of the first convolution.
        num_layers_d: conv-norm-act layers after the first convolution.
        norm: normalisation type and arguments (batch norm by default).
    """

    def __init__(
        self, spatial_dims: int = 3, in_channels: int = 1, channels: int = 16, num_layers_d: int = 3, norm="BATCH"
    ) -> None:
        super().__init__(
            spatial_dims=spatial_dims,
            channels=channels,
            in_channels=in_channels,
            out_channels=1,
            num_layers_d=num_layers_d,
            norm=norm,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Score ``x``.

        Args:
            x: ``(B, in_channels, *spatial)``.

        Returns:
            The raw patch scores ``(B, 1, *patches)``.
        """
        for layer in self.children():
            x = layer(x)
        return x


class VAMA(TranslationModel):
    """V-AMA (Savioli et al., arXiv 2107.07975): variational adversarial mixture autoencoder for domain translation.

    Maps a target-domain image to the same anatomy in source-domain appearance, on the same grid. Sub-modules:
    ``source_vae`` and ``target_vae`` (:class:`VariationalUNet`, residual decoders), ``source_discriminator`` and
    ``target_discriminator`` (:class:`ImagePatchDiscriminator`, least squares), ``loss`` (:class:`VAMALoss`).

    **Training formulation** (one batch = rigidly aligned pairs ``(x_s, x_t)``; :meth:`generator_loss`):

    * *Target branch*: a VAE on ``x_t`` reconstructing ``x_t``: ``(skips_t, mu_t, logvar_t) = E_t(x_t)``,
      ``rec_t = D_t(x_t, z_t ~ N(mu_t, sigma_t^2), skips_t)``; loss MSE + L1(``rec_t``, ``x_t``) + 0.5 KL + 0.05
      LSGAN against real target images (``target_discriminator``).
    * *Source branch*: also takes ``x_t`` (what it gets at inference), ``(skips_s, mu_s, logvar_s) = E_s(x_t)``, mixes
      with the **detached** target posterior and skips: ``mu = mu_s + mu_t``, ``sigma = sigma_s + sigma_t``
      (:func:`mix_gaussians`: standard deviations add, i.e. shared-noise sum, ``var = (sigma_s + sigma_t)^2``), skips
      ``skips_s + skips_t`` (``skip_mixing="sum"``, :func:`mix_skips`); decodes ``fake_s = D_s(x_t, z, skips)``
      (residual on ``x_t``). Loss MSE + L1(``fake_s``, ``x_s``) against the aligned source image + 0.5 KL of the
      *mixed* posterior + 0.05 LSGAN against real source images (``source_discriminator``). No gradient of the
      source-branch terms reaches the target branch (detached), so the target branch is a plain VAE of the target
      domain and the source branch learns to use its code.
    * KL terms are the closed-form KL to ``N(0, I)``, **mean per latent element** (:func:`~custom_networks.losses.
      vama_loss.gaussian_kl`). Training decodes samples (``train_sample=True``).
    * :meth:`discriminator_loss`: each discriminator, least squares, real images of its domain vs the detached
      outputs of the last :meth:`generator_loss` call.

    **Inference** (:meth:`translate`, ``forward``): exactly the source-branch path above on the target image, using
    the posterior means (``z = mu_s + mu_t``, no sampling) unless ``sample=True``: it runs the target encoder, the
    source encoder and the source decoder (the target decoder and the discriminators are not used). With the default
    (no normalisation) or instance norm, training and evaluation modes compute the same function.

    **Differences from the paper / original code**: the source branch is trained on the *target*
    image with the aligned source image as reference (in the paper it auto-encodes source images and is then fed
    target images at test time, a train/test mismatch); convolutional 1x1 latent heads instead of two dense
    288 -> 320,000 layers (~186 M parameters each), so any input size divisible by ``2**depth`` works; the same
    modules in training and inference (the original crossed noise modules); deterministic inference by default; KL
    averaged per element instead of summed over 320k dimensions; outputs clamped to [0, 1] (straight-through in
    training); 3D convolutions by default (2D supported).

    Optimiser (set in the configs, as in the original): Adam lr 2e-4, betas (0.5, 0.999), for
    :meth:`generator_parameters` and for :meth:`discriminator_parameters`.

    TorchScript: ``torch.jit.script(model)`` and ``torch.jit.trace(model, x)`` of ``forward`` both work (the trace
    freezes ``sample=False``).

    Args:
        spatial_dims: 3 (volumes ``(B, C, H, W, D)``, default) or 2 (images ``(B, C, H, W)``).
        in_channels: image channels.
        features: encoder widths of each branch, full resolution first; sizes must be multiples of
            ``2 ** (len(features) - 1)``. Default 8-16-32-64.
        latent_channels: channels of the latent code; ``None`` = ``features[-1]``.
        act: activation of the branches.
        norm: normalisation of the branches; ``None`` (default, :data:`DEFAULT_VAMA_NORM`) or e.g.
            ``("instance", {"affine": True})``.
        bias: whether the branches' 3x3 convolutions have a bias term.
        dropout: dropout rate of the branches.
        upsample: decoder up-sampling mode (see :class:`~custom_networks.nets.unet_parts.UpDoubleConv`).
        interp_mode: interpolation of ``upsample="nontrainable"``.
        align_corners: ``align_corners`` of the interpolation.
        clamp_output: clamp the branch outputs to [0, 1] (see :class:`VariationalUNet`).
        skip_mixing: how the source branch combines its skips with the detached target skips: ``"sum"`` (default,
            the paper's rule), ``"mean"`` or ``"none"`` (see :func:`mix_skips`).
        train_sample: decode posterior samples in :meth:`generator_loss` (the VAE objective); ``False`` decodes the
            means (then :meth:`generator_loss`'s translation equals :meth:`translate`).
        disc_channels: width of the discriminators' first convolution.
        disc_num_layers: conv-norm-act layers of the discriminators (sizes must be at least
            ``3 * 2 ** disc_num_layers``).
        disc_norm: normalisation of the discriminators.
        w_mse: weight of the MSE reconstruction term of each branch.
        w_l1: weight of the L1 reconstruction term of each branch.
        w_kl: weight of the KL term of each branch.
        w_adv: weight of the least-squares adversarial term of each branch.

    Example::

        model = VAMA()
        g = model.generator_loss(source, target)  # {"loss", "source_mse", ..., "target_adv"}
        d = model.discriminator_loss(source, target)  # {"loss", "source_real", ...}
        model.eval()
        translated = model(target)  # deterministic target -> source translation
    """

    # TorchScript compiles the deployable forward only; the loss (training only) is left out of the scripted module.
    __jit_ignored_attributes__ = ["_fakes", "loss"]

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        features: Sequence[int] = DEFAULT_VAMA_FEATURES,
        latent_channels: int | None = None,
        act: str | tuple = (Act.LEAKYRELU, {"negative_slope": 0.2}),
        norm: str | tuple | None = DEFAULT_VAMA_NORM,
        bias: bool = True,
        dropout: float | tuple = 0.0,
        upsample: str = "nontrainable",
        interp_mode: str = "linear",
        align_corners: bool | None = True,
        clamp_output: bool = True,
        skip_mixing: str = "sum",
        train_sample: bool = True,
        disc_channels: int = 16,
        disc_num_layers: int = 3,
        disc_norm: str | tuple = "BATCH",
        w_mse: float = 1.0,
        w_l1: float = 1.0,
        w_kl: float = 0.5,
        w_adv: float = 0.05,
    ) -> None:
        super().__init__()
        if skip_mixing not in SKIP_MIXING:
            raise ValueError(f"skip_mixing must be one of {SKIP_MIXING}, got {skip_mixing!r}.")
        branch = {
            "spatial_dims": spatial_dims,
            "in_channels": in_channels,
            "features": features,
            "latent_channels": latent_channels,
            "act": act,
            "norm": norm,
            "bias": bias,
            "dropout": dropout,
            "upsample": upsample,
            "interp_mode": interp_mode,
            "align_corners": align_corners,
            "clamp_output": clamp_output,
        }
        self.source_vae = VariationalUNet(**branch)
        self.target_vae = VariationalUNet(**branch)
        disc = {"spatial_dims": spatial_dims, "in_channels": in_channels, "channels": disc_channels}
        self.source_discriminator = ImagePatchDiscriminator(**disc, num_layers_d=disc_num_layers, norm=disc_norm)
        self.target_discriminator = ImagePatchDiscriminator(**disc, num_layers_d=disc_num_layers, norm=disc_norm)
        self.loss = VAMALoss(w_mse=w_mse, w_l1=w_l1, w_kl=w_kl, w_adv=w_adv)
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.skip_mixing = skip_mixing
        self.train_sample = train_sample
        self._fakes: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ interface
    def generator_modules(self) -> list[nn.Module]:
        """The two variational U-Nets (``source_vae``, ``target_vae``)."""
        return [self.source_vae, self.target_vae]

    def discriminator_modules(self) -> list[nn.Module]:
        """The two patch discriminators (``source_discriminator``, ``target_discriminator``)."""
        return [self.source_discriminator, self.target_discriminator]

    def source_branch(
        self,
        target: torch.Tensor,
        target_mu: torch.Tensor,
        target_logvar: torch.Tensor,
        target_skips: list[torch.Tensor],
        sample: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The source branch on a target image, mixed with the target branch's posterior and skips (detached here).

        Args:
            target: target-domain image ``(B, C, *spatial)``.
            target_mu: target-branch posterior means of ``target``.
            target_logvar: target-branch posterior log-variances.
            target_skips: target-branch encoder skips.
            sample: decode a sample of the mixed posterior instead of its mean.

        Returns:
            ``(translation, mixed mu, mixed logvar)``.
        """
        skips, mu, logvar = self.source_vae.encode(target)
        mixed_mu, mixed_logvar = mix_gaussians(mu, logvar, target_mu.detach(), target_logvar.detach())
        detached: list[torch.Tensor] = []
        for skip in target_skips:
            detached.append(skip.detach())
        mixed_skips = mix_skips(skips, detached, self.skip_mixing)
        out = self.source_vae.decode(target, reparameterize(mixed_mu, mixed_logvar, sample), mixed_skips)
        return out, mixed_mu, mixed_logvar

    def translate(self, target: torch.Tensor, sample: bool = False) -> torch.Tensor:
        """Target-domain image -> the same anatomy in source-domain appearance.

        Args:
            target: ``(B, in_channels, *spatial)``, intensities in [0, 1], sizes multiples of ``2**depth``.
            sample: decode a sample of the mixed posterior instead of its mean (default: deterministic).

        Returns:
            The translation, same shape as ``target`` (in [0, 1] with ``clamp_output``).
        """
        target_skips, target_mu, target_logvar = self.target_vae.encode(target)
        out, _, _ = self.source_branch(target, target_mu, target_logvar, target_skips, sample)
        return out

    def generator_loss(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Both branches' generator pass and loss (see the class docstring); stores the outputs for the D step.

        Args:
            source: source-domain images ``(B, C, *spatial)``, rigidly aligned with ``target``.
            target: target-domain images, same shape.

        Returns:
            ``{"loss"}`` (sum of both branches) and the branch totals and unweighted terms ``"source_loss"``,
            ``"source_mse"``, ``"source_l1"``, ``"source_kl"``, ``"source_adv"``, ``"target_loss"``, ... .
        """
        if source.shape != target.shape:
            raise ValueError(f"source and target must be aligned pairs: {list(source.shape)} vs {list(target.shape)}.")
        sample = self.train_sample
        target_skips, target_mu, target_logvar = self.target_vae.encode(target)
        target_rec = self.target_vae.decode(target, reparameterize(target_mu, target_logvar, sample), target_skips)
        translation, mixed_mu, mixed_logvar = self.source_branch(target, target_mu, target_logvar, target_skips, sample)
        self._fakes = {"source": translation.detach(), "target": target_rec.detach()}
        return self.loss(
            source={
                "pred": translation,
                "reference": source,
                "mu": mixed_mu,
                "logvar": mixed_logvar,
                "fake_scores": self.source_discriminator(translation),
            },
            target={
                "pred": target_rec,
                "reference": target,
                "mu": target_mu,
                "logvar": target_logvar,
                "fake_scores": self.target_discriminator(target_rec),
            },
        )

    def discriminator_loss(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Least-squares loss of both discriminators: real images vs the detached outputs of the last G pass.

        Args:
            source: real source-domain images (for ``source_discriminator``).
            target: real target-domain images (for ``target_discriminator``).

        Returns:
            ``{"loss"}`` (sum of both) and ``"source_loss"``, ``"source_real"``, ``"source_fake"``,
            ``"target_loss"``, ``"target_real"``, ``"target_fake"``.

        Raises:
            RuntimeError: when :meth:`generator_loss` has not been called before.
        """
        if not self._fakes:
            raise RuntimeError("discriminator_loss needs the outputs of a previous generator_loss call.")
        return self.loss.discriminator_forward(
            source_real=self.source_discriminator(source),
            source_fake=self.source_discriminator(self._fakes["source"]),
            target_real=self.target_discriminator(target),
            target_fake=self.target_discriminator(self._fakes["target"]),
        )
