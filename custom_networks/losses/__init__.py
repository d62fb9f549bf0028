"""Loss functions: the Gemini-GAN joint super-resolution + segmentation objective.

The discriminator input (``conditioned_pair``, ``label_to_onehot``) lives with the discriminators, in
:mod:`custom_networks.nets`.
"""

from __future__ import annotations

from .joint_loss import JointSRSegLoss, LeastSquaresDiscriminatorLoss

__all__ = ["JointSRSegLoss", "LeastSquaresDiscriminatorLoss"]
