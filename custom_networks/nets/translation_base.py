"""The interface shared by every image-to-image domain-translation model (V-AMA, CycleGAN, MUNIT, BicycleGAN).

A translation model maps a **target-domain** image (another scanner / site) onto the **source domain's**
appearance (the domain the frozen Gemini-GAN was trained on), on the same voxel grid. One trainer
(:class:`custom_networks.engines.TranslationGanTrainer`) trains all of them through this interface: per
iteration it calls :meth:`TranslationModel.generator_loss` and steps the generator optimiser, then
:meth:`TranslationModel.discriminator_loss` (which reuses the fakes of that generator pass, detached) and steps
the discriminator optimiser.

``forward(target)`` is the deployable translation (a single tensor in, a single tensor out), so a bundle's
inference, ``verify_net_in_out`` and TorchScript export use the model like any other network.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["TranslationModel"]


class TranslationModel(nn.Module):
    """Base class of the domain-translation models.

    Subclasses define the generator and discriminator sub-modules and implement :meth:`translate`,
    :meth:`generator_loss`, :meth:`discriminator_loss`, :meth:`generator_modules` and
    :meth:`discriminator_modules`.

    Tensors are channel-first ``(B, 1, H, W, D)`` (3D) or ``(B, 1, H, W)`` (2D), intensities in [0, 1].
    ``source`` and ``target`` in a training batch are a paired, rigidly aligned source-domain image and
    target-domain image (models that do not need pairing simply ignore the pairing).
    """

    def generator_modules(self) -> list[nn.Module]:
        """Sub-modules optimised by the generator optimiser."""
        raise NotImplementedError

    def discriminator_modules(self) -> list[nn.Module]:
        """Sub-modules optimised by the discriminator optimiser (every one of them must be trained)."""
        raise NotImplementedError

    def generator_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of :meth:`generator_modules` (give these to the generator optimiser)."""
        for module in self.generator_modules():
            yield from module.parameters()

    def discriminator_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of :meth:`discriminator_modules` (give these to the discriminator optimiser)."""
        for module in self.discriminator_modules():
            yield from module.parameters()

    def translate(self, target: torch.Tensor) -> torch.Tensor:
        """Target-domain image -> the same anatomy in source-domain appearance (deterministic by default)."""
        raise NotImplementedError

    def generator_loss(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Generator pass and loss of one batch.

        Returns:
            a dict with ``"loss"`` (the total to back-propagate) and every unweighted term; it also stores the
            generated images that :meth:`discriminator_loss` needs (detached there).
        """
        raise NotImplementedError

    def discriminator_loss(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss of every discriminator on real images and on the fakes of the last :meth:`generator_loss` call.

        Returns:
            a dict with ``"loss"`` (the total to back-propagate) and every term.
        """
        raise NotImplementedError

    def forward(self, target: torch.Tensor) -> torch.Tensor:
        """Deployable translation: :meth:`translate`."""
        return self.translate(target)
