"""Loss functions: the Gemini-GAN joint super-resolution + segmentation objective."""

from __future__ import annotations

from .joint_loss import JointSRSegLoss, LeastSquaresDiscriminatorLoss, conditioned_pair, label_to_onehot

__all__ = ["JointSRSegLoss", "LeastSquaresDiscriminatorLoss", "conditioned_pair", "label_to_onehot"]
