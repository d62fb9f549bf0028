"""Loss functions: the Gemini-GAN joint super-resolution + segmentation objective, and the segmentation loss against
the manual labels of real stacks (labelled slices and classes only).

They import nothing of the networks: the translation networks (:mod:`custom_networks.nets`) use these losses, not the
other way round.
"""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "PartialLabelDiceCELoss": "partial_label_loss",
    "JointSRSegLoss": "joint_loss",
    "LabelledSliceLoss": "labelled_slice_loss",
    "MaskedImageLoss": "masked_image_loss",
    "LeastSquaresDiscriminatorLoss": "joint_loss",
    "VAMALoss": "vama_loss",
    "frozen_parameters": "translation_losses",
    "gaussian_kl": "vama_loss",
    "lsgan_discriminator_loss": "translation_losses",
    "lsgan_generator_loss": "translation_losses",
    "sample_on_stack": "labelled_slice_loss",
}
__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
