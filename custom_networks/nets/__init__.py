"""Networks: the Gemini-GAN generator, the SR-GAN / SegSR-GAN baseline generator and the discriminators.

All generators take the low-resolution stack interpolated onto the high-resolution grid, ``(B, C, H, W, D)``
(MONAI channel-first, slice axis last, intensities in [0, 1]) and return the super-resolved volume and/or the
segmentation logits on the same grid, as chosen by their ``output`` selector (``"both"``, ``"seg"``, ``"sr"``).
"""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "AdaptThenSegment": "adapt_then_segment",
    "SliceSegmenter": "slice_segmenter",
    "DEFAULT_FEATURES_2D": "gemini_generator",
    "DEFAULT_FEATURES_3D": "gemini_generator",
    "LAYOUTS": "layout",
    "OUTPUTS": "generator_base",
    "TASKS": "generator_base",
    "ConditionalPatchDiscriminator": "conditional_patch_discriminator",
    "ConditionedGeminiGenerator": "conditioned_gemini_generator",
    "GeminiGenerator": "gemini_generator",
    "JointSRSegGenerator": "generator_base",
    "SRGANDiscriminator": "srgan_discriminator",
    "SRResidualBlock": "segsr_generator",
    "SegSRGenerator": "segsr_generator",
    "TranslationModel": "translation_base",
    "conditioned_pair": "discriminator_input",
    "fold_slices": "layout",
    "label_to_onehot": "discriminator_input",
    "unfold_slices": "layout",
    "VAMA": "vama",
    "VariationalUNet": "vama",
    "mix_gaussians": "vama",
    "BicycleGAN": "bicyclegan",
    "CalibratedTranslator": "calibrated_translator",
    "CycleGAN": "cyclegan",
    "ImagePool": "image_pool",
    "MUNIT": "munit",
}
__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
