"""Training and evaluation engines (MONAI workflows) for the joint super-resolution + segmentation networks."""

from __future__ import annotations

from .fine_tune_trainer import FineTuneTrainer
from .joint_evaluator import JointEvaluator
from .joint_gan_trainer import JointGanTrainer
from .poly_lr import PolynomialDecayLR
from .translation_trainer import TranslationGanTrainer, TranslationPrepareBatch
from .two_step_trainer import TwoOptimizerTrainer
from .utils import (
    GENERATOR_OUTPUTS,
    JointPrepareBatch,
    amp_autocast,
    make_grad_scaler,
    resolve_generator_output,
    split_generator_output,
    unwrap_module,
)

__all__ = [
    "GENERATOR_OUTPUTS",
    "FineTuneTrainer",
    "JointEvaluator",
    "JointGanTrainer",
    "JointPrepareBatch",
    "amp_autocast",
    "make_grad_scaler",
    "PolynomialDecayLR",
    "resolve_generator_output",
    "split_generator_output",
    "TranslationGanTrainer",
    "TranslationPrepareBatch",
    "TwoOptimizerTrainer",
    "unwrap_module",
]
