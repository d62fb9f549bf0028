"""Fine-tuning the joint SR + segmentation generator on real stacks labelled by hand, mixed with synthetic batches.

A real short-axis stack has no high-resolution truth: neither an HR image for the SR decoder nor an HR label map.
Its manual labels live on its own thick slices (often only some slices, some classes). ``FineTuneTrainer`` runs, per
iteration, the usual Gemini-GAN step on a **synthetic** batch (SR + segmentation + adversarial terms, then the
discriminator step: this keeps the SR decoder and the through-plane shape trained) and adds to the generator loss
the segmentation loss of a **real** batch, counted only where it is labelled
(:class:`custom_networks.losses.LabelledSliceLoss`: the HR prediction is brought onto the stack's voxels in world
coordinates, through the slice profile).

The engine's own data loader is the real one (an epoch is one pass over the labelled stacks); the synthetic loader is
drawn from in turn, restarted (reshuffled) whenever it runs out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from monai.data import MetaTensor

from custom_networks.losses.labelled_slice_loss import LabelledSliceLoss

from .joint_gan_trainer import JointGanTrainer
from .utils import amp_autocast, resolve_generator_output, split_generator_output

__all__ = ["FineTuneTrainer"]


def _affines(x: torch.Tensor, batch: int, key: str) -> torch.Tensor:
    """``(B, 4, 4)`` voxel-to-world affines of a collated ``MetaTensor`` batch."""
    if not isinstance(x, MetaTensor):
        raise ValueError(f"real batch key {key!r} must be a MetaTensor carrying its affine (world coordinates)")
    affine = torch.as_tensor(x.affine, dtype=torch.float64)
    return affine.expand(batch, 4, 4) if affine.ndim == 2 else affine


class FineTuneTrainer(JointGanTrainer):
    """``JointGanTrainer`` whose generator loss also holds a labelled-slice loss on a real batch.

    Real batches (``train_data_loader``) hold, per item: ``image`` (``(1, X, Y, Z)``, the stack on its HR grid, any
    crop of it, as a ``MetaTensor`` with its affine), ``label`` (``(x, y, z)`` manual label map on its own grid, with
    its affine), ``labelled_slices``, ``labelled_classes`` and ``slice_axis`` (``LoadManualLabeld``). Synthetic
    batches are those of ``JointGanTrainer``.

    The iteration output holds ``JointGanTrainer``'s keys (of the synthetic batch) plus ``"g_real"``, the
    unweighted real-batch loss; ``"loss"`` is the total generator loss, ``w_real * g_real`` included.

    Args:
        train_data_loader: the real labelled batches (one epoch = one pass).
        synthetic_data_loader: the synthetic batches of ``JointGanTrainer`` (cycled).
        real_loss: loss of the real batch; default ``LabelledSliceLoss()`` (Dice + cross-entropy on labelled slices).
        w_real: weight of the real-batch loss in the generator loss.
        real_image_key: key of the real network input.
        real_label_key: key of the real manual label map.
        args: further ``JointGanTrainer`` arguments (``device``, ``max_epochs``, ``generator``, ``g_optimizer``, ...).
        kwargs: further ``JointGanTrainer`` keyword arguments.
    """

    def __init__(
        self,
        *args: Any,
        train_data_loader: Iterable,
        synthetic_data_loader: Iterable,
        real_loss: Callable[..., torch.Tensor] | None = None,
        w_real: float = 1.0,
        real_image_key: str = "image",
        real_label_key: str = "label",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, train_data_loader=train_data_loader, **kwargs)
        self.synthetic_data_loader = synthetic_data_loader
        self.real_loss = LabelledSliceLoss() if real_loss is None else real_loss
        self.w_real = float(w_real)
        self.real_image_key = real_image_key
        self.real_label_key = real_label_key
        self._synthetic: Iterator | None = None
        self._real_batch: dict | None = None

    def _next_synthetic(self) -> dict:
        """The next synthetic batch, restarting the synthetic loader when it runs out."""
        for _ in range(2):
            if self._synthetic is None:
                self._synthetic = iter(self.synthetic_data_loader)
            try:
                return next(self._synthetic)
            except StopIteration:
                self._synthetic = None
        raise ValueError("the synthetic data loader yields no batch")

    def _real_term(self) -> torch.Tensor:
        """The labelled-slice loss of the current real batch (the generator in training mode)."""
        batch = self._real_batch
        if batch is None:
            raise ValueError("no real batch for this iteration")
        device = self._compute_device
        image, label = batch[self.real_image_key], batch[self.real_label_key]
        n = image.shape[0]
        hr_affine, label_affine = _affines(image, n, self.real_image_key), _affines(label, n, self.real_label_key)
        axes = torch.as_tensor(batch["slice_axis"]).flatten().tolist()
        if len(set(axes)) != 1:
            raise ValueError(f"the label maps of one real batch have different slice axes {axes}; use batch size 1")
        inputs = image.as_tensor() if isinstance(image, MetaTensor) else image
        inputs = inputs.to(device=device, non_blocking=self.non_blocking)
        with amp_autocast(device, self.amp, self.amp_kwargs):
            out = self.inferer(inputs, self.generator)
        _, seg = split_generator_output(out, resolve_generator_output(self.generator, self.generator_output))
        if seg is None:
            raise ValueError("fine-tuning on labelled stacks needs a generator with a segmentation output")
        ref = label.as_tensor() if isinstance(label, MetaTensor) else label
        return self.real_loss(
            seg,
            hr_affine.to(device),
            ref.to(device),
            label_affine.to(device),
            torch.as_tensor(batch["labelled_slices"]).to(device),
            torch.as_tensor(batch["labelled_classes"]).to(device),
            slice_axis=int(axes[0]),
        )

    def _generator_terms(self, **kwargs: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """``g_loss`` of the synthetic batch plus ``w_real`` times the real batch's labelled-slice loss."""
        terms = dict(self.g_loss(**kwargs))
        real = self._real_term()
        terms["real"] = real
        terms["loss"] = terms["loss"] + self.w_real * real
        return terms

    def _iteration(self, engine: FineTuneTrainer, batchdata: dict[str, torch.Tensor]) -> dict:  # type: ignore[override]
        """One Gemini-GAN step on the next synthetic batch, its generator loss holding the real ``batchdata``'s.

        Args:
            engine: this trainer.
            batchdata: the collated real batch.
        """
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        engine._real_batch = batchdata
        try:
            return super()._iteration(engine, engine._next_synthetic())
        finally:
            engine._real_batch = None
