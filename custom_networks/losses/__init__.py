"""Loss functions: the Gemini-GAN joint super-resolution + segmentation objective, and the segmentation loss against
the manual labels of real stacks (labelled slices and classes only).

The discriminator input (``conditioned_pair``, ``label_to_onehot``) lives with the discriminators, in
:mod:`custom_networks.nets`.
"""

from __future__ import annotations

from .joint_loss import JointSRSegLoss, LeastSquaresDiscriminatorLoss
from .labelled_slice_loss import LabelledSliceLoss, sample_on_stack
from .partial_label_loss import PartialLabelDiceCELoss
from .translation_losses import frozen_parameters, lsgan_discriminator_loss, lsgan_generator_loss
from .vama_loss import VAMALoss, gaussian_kl

__all__ = [
    "PartialLabelDiceCELoss",
    "JointSRSegLoss",
    "LabelledSliceLoss",
    "LeastSquaresDiscriminatorLoss",
    "VAMALoss",
    "frozen_parameters",
    "gaussian_kl",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "sample_on_stack",
]
