"""Networks: the Gemini-GAN generator, the SR-GAN / SegSR-GAN baseline generator and the discriminators.

All generators take the low-resolution stack interpolated onto the high-resolution grid, ``(B, C, H, W, D)``
(MONAI channel-first, slice axis last, intensities in [0, 1]) and return the super-resolved volume and/or the
segmentation logits on the same grid, as chosen by their ``output`` selector (``"both"``, ``"seg"``, ``"sr"``).
"""

from __future__ import annotations

from custom_networks.nets.bicyclegan import BicycleGAN
from custom_networks.nets.calibrated_translator import CalibratedTranslator
from custom_networks.nets.conditional_patch_discriminator import ConditionalPatchDiscriminator
from custom_networks.nets.cyclegan import CycleGAN
from custom_networks.nets.discriminator_input import conditioned_pair, label_to_onehot
from custom_networks.nets.gemini_generator import DEFAULT_FEATURES_2D, DEFAULT_FEATURES_3D, GeminiGenerator
from custom_networks.nets.generator_base import OUTPUTS, TASKS, JointSRSegGenerator
from custom_networks.nets.image_pool import ImagePool
from custom_networks.nets.layout import LAYOUTS, fold_slices, unfold_slices
from custom_networks.nets.munit import MUNIT
from custom_networks.nets.segsr_generator import SegSRGenerator, SRResidualBlock
from custom_networks.nets.slice_segmenter import SliceSegmenter
from custom_networks.nets.srgan_discriminator import SRGANDiscriminator
from custom_networks.nets.translation_base import TranslationModel
from custom_networks.nets.vama import VAMA, VariationalUNet, mix_gaussians

__all__ = [
    "SliceSegmenter",
    "DEFAULT_FEATURES_2D",
    "DEFAULT_FEATURES_3D",
    "LAYOUTS",
    "OUTPUTS",
    "TASKS",
    "ConditionalPatchDiscriminator",
    "GeminiGenerator",
    "JointSRSegGenerator",
    "SRGANDiscriminator",
    "SRResidualBlock",
    "SegSRGenerator",
    "TranslationModel",
    "conditioned_pair",
    "fold_slices",
    "label_to_onehot",
    "unfold_slices",
    "VAMA",
    "VariationalUNet",
    "mix_gaussians",
    "BicycleGAN",
    "CalibratedTranslator",
    "CycleGAN",
    "ImagePool",
    "MUNIT",
]
