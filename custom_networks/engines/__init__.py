"""Training and evaluation engines (MONAI workflows) for the joint super-resolution + segmentation networks."""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "GENERATOR_OUTPUTS": "utils",
    "FineTuneTrainer": "fine_tune_trainer",
    "JointEvaluator": "joint_evaluator",
    "JointGanTrainer": "joint_gan_trainer",
    "JointPrepareBatch": "utils",
    "amp_autocast": "utils",
    "make_grad_scaler": "utils",
    "PolynomialDecayLR": "poly_lr",
    "resolve_generator_output": "utils",
    "split_generator_output": "utils",
    "TranslationGanTrainer": "translation_trainer",
    "TranslationPrepareBatch": "translation_trainer",
    "TwoOptimizerTrainer": "two_step_trainer",
    "unwrap_module": "utils",
}
__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
