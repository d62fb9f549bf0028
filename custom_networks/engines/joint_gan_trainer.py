"""Image-to-image GAN trainer for the joint super-resolution + segmentation generator (Gemini-GAN).

``monai.engines.GanTrainer`` feeds the generator random latents, so it cannot train an image-to-image GAN;
``JointGanTrainer`` is a ``monai.engines.Trainer`` whose iteration is one generator step followed by one
discriminator step, firing MONAI's iteration events so that the usual handlers (``StatsHandler``,
``CheckpointSaver``/``CheckpointLoader``, ``LrScheduleHandler``, ``ValidationHandler``, metrics) work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from monai.engines.utils import IterationEvents, default_metric_cmp_fn
from monai.inferers import Inferer, SimpleInferer
from monai.utils import AdversarialIterationEvents
from monai.utils.enums import CommonKeys as Keys
from torch import nn
from torch.optim.optimizer import Optimizer
from torch.utils.data import DataLoader

from custom_networks.losses.joint_loss import JointSRSegLoss, LeastSquaresDiscriminatorLoss
from custom_networks.nets.discriminator_input import conditioned_pair

from .two_step_trainer import TwoOptimizerTrainer
from .utils import JointPrepareBatch, amp_autocast, make_grad_scaler, resolve_generator_output, split_generator_output

if TYPE_CHECKING:
    from ignite.engine import Engine, EventEnum
    from ignite.metrics import Metric

__all__ = ["JointGanTrainer"]


def _detach(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach()


class JointGanTrainer(TwoOptimizerTrainer):
    """Trains a joint SR + segmentation generator, with or without a conditional discriminator.

    Each iteration:

    1. **Generator step.** ``sr, seg_logits = generator(image)``; with a discriminator, the fake pair
       ``cat([sr, softmax(seg_logits)])`` is scored by it; ``g_loss`` (``JointSRSegLoss``) combines image,
       segmentation and adversarial terms; backward and ``g_optimizer.step()``.
    2. **Discriminator step** (only with a discriminator). The real pair ``cat([hr_image, one_hot(label)])`` and the
       detached fake pair are scored; ``d_loss`` (least squares, ``0.5 * (real + fake)``); backward and
       ``d_optimizer.step()``.

    With ``discriminator=None`` only the generator step runs (joint U-Net and single-task U-Net baselines).
    Single-task generators (output ``"sr"`` or ``"seg"``) are supported; the discriminator pair then holds only
    the available part. The generator output mode is read from the (unwrapped) generator's ``output`` attribute
    unless ``generator_output`` is given; a generator returning a tuple is always read as ``(sr, seg_logits)``.

    ``engine.state.output`` (a dict; a list of dicts when ``decollate=True``) holds:

    - ``"image"``, ``"label"``, ``"hr_image"``: network input, HR label map, HR grey volume (``None`` if absent);
    - ``"pred"``: detached segmentation logits, ``"sr"``: detached super-resolved volume (each only when produced);
    - ``"loss"``: total generator loss, ``"g_img"``, ``"g_seg"``, ``"g_adv"``: its unweighted terms
      (every key of ``g_loss``'s dict other than ``"loss"``, prefixed ``g_``);
    - with a discriminator: ``"d_loss"``, ``"d_real"``, ``"d_fake"`` (every key of ``d_loss``'s dict, prefixed
      ``d_``, ``"loss"`` becoming ``"d_loss"``).

    All loss values are detached 0-d tensors, so ``StatsHandler(output_transform=from_engine(["loss"], first=True))``
    logs the generator loss.

    Events fired per iteration (in order): ``IterationEvents.FORWARD_COMPLETED`` and
    ``AdversarialIterationEvents.GENERATOR_FORWARD_COMPLETED`` after the generator forward,
    ``GENERATOR_DISCRIMINATOR_FORWARD_COMPLETED``, ``IterationEvents.LOSS_COMPLETED`` /
    ``GENERATOR_LOSS_COMPLETED``, ``IterationEvents.BACKWARD_COMPLETED`` / ``GENERATOR_BACKWARD_COMPLETED``
    (before the optimiser step, e.g. for gradient clipping of the generator), ``GENERATOR_MODEL_COMPLETED``, then
    ``DISCRIMINATOR_REALS_FORWARD_COMPLETED``, ``DISCRIMINATOR_FAKES_FORWARD_COMPLETED``,
    ``DISCRIMINATOR_LOSS_COMPLETED``, ``DISCRIMINATOR_BACKWARD_COMPLETED``, ``DISCRIMINATOR_MODEL_COMPLETED`` and
    finally ``IterationEvents.MODEL_COMPLETED`` (decollation / post-processing run there).

    Mixed precision (``amp=True``): fp16 autocast with a ``torch.amp.GradScaler`` on CUDA, bf16 autocast without
    a scaler on CPU; ``amp_kwargs={"dtype": ...}`` overrides the dtype. Losses are computed in float32.
    The scaler, when present, is ``trainer.scaler`` (add it to a checkpoint's ``save_dict`` to resume exactly).

    Reproducibility: the iteration itself draws no random numbers; call ``monai.utils.set_determinism(seed)``
    before building the networks and the data loader for identical runs on CPU.

    Distributed training: the networks may be wrapped in ``DistributedDataParallel``; they are only called, and
    their ``output`` attribute is read from the unwrapped module.

    Args:
        device: device the networks run on.
        max_epochs: total number of epochs.
        train_data_loader: training data (``DataLoader`` or any iterable of batches).
        generator: the generator; returns ``(sr, seg_logits)`` or a single tensor (see ``generator_output``).
        g_optimizer: optimiser of the generator parameters.
        g_loss: generator loss; called as ``g_loss(sr=, hr_image=, seg_logits=, hr_label=, fake_scores=)`` and
            returning a dict with at least ``"loss"``. Default ``JointSRSegLoss()`` (MSE + CE + 1e-3 LSGAN).
        discriminator: conditional discriminator scoring ``cat([grey, label probabilities])``; ``None`` trains the
            generator alone.
        d_optimizer: optimiser of the discriminator parameters; required with a discriminator.
        d_loss: discriminator loss; called as ``d_loss(real_scores, fake_scores)`` and returning a dict with at
            least ``"loss"``. Default ``LeastSquaresDiscriminatorLoss()``.
        epoch_length: iterations per epoch; default ``len(train_data_loader)``.
        non_blocking: asynchronous host-to-device copies where possible.
        prepare_batch: callable ``(batchdata, device, non_blocking, **kwargs) -> (image, label, hr_image)``;
            default ``JointPrepareBatch(image_key, label_key, target_key)``.
        image_key: batch key of the network input (LR stack interpolated onto the HR grid).
        label_key: batch key of the HR label map.
        target_key: batch key of the HR grey volume.
        generator_output: ``"both"``, ``"sr"`` or ``"seg"``; overrides the generator's ``output`` attribute.
        iteration_update: replaces ``self._iteration`` when given (see ``monai.engines.Workflow``).
        inferer: how the generator is called during training; default ``SimpleInferer()``.
        postprocessing: transforms applied to the output at ``MODEL_COMPLETED`` (e.g. for training metrics).
        key_train_metric: ignite metric(s) computed on the training output; the first is the key metric.
        additional_metrics: more ignite metrics attached to the trainer.
        metric_cmp_fn: compares the key metric with the best so far (default: greater is better).
        train_handlers: handlers with an ``attach`` method (``StatsHandler``, ``CheckpointSaver``, ...).
        amp: mixed precision (fp16 + GradScaler on CUDA, bf16 on CPU).
        event_names: additional custom events to register.
        event_to_attr: maps events to ``engine.state`` attributes (see ``ignite.engine.Engine.register_events``).
        decollate: decollate batch-first outputs into lists of items at ``MODEL_COMPLETED``; default ``False``
            (set ``True`` when ``postprocessing`` uses MONAI array/dict transforms).
        optim_set_to_none: ``zero_grad(set_to_none=...)`` for both optimisers.
        to_kwargs: further ``Tensor.to`` arguments for ``prepare_batch``.
        amp_kwargs: further ``torch.autocast`` arguments (e.g. ``{"dtype": torch.bfloat16}``).
    """

    def __init__(
        self,
        device: str | torch.device,
        max_epochs: int,
        train_data_loader: Iterable | DataLoader,
        generator: nn.Module,
        g_optimizer: Optimizer,
        g_loss: Callable[..., dict[str, torch.Tensor]] | None = None,
        discriminator: nn.Module | None = None,
        d_optimizer: Optimizer | None = None,
        d_loss: Callable[..., dict[str, torch.Tensor]] | None = None,
        epoch_length: int | None = None,
        non_blocking: bool = False,
        prepare_batch: Callable | None = None,
        image_key: str = "image",
        label_key: str = "label",
        target_key: str = "hr_image",
        generator_output: str | None = None,
        iteration_update: Callable[[Engine, Any], Any] | None = None,
        inferer: Inferer | None = None,
        postprocessing: Callable | None = None,
        key_train_metric: dict[str, Metric] | None = None,
        additional_metrics: dict[str, Metric] | None = None,
        metric_cmp_fn: Callable = default_metric_cmp_fn,
        train_handlers: Sequence | None = None,
        amp: bool = False,
        event_names: list[str | EventEnum | type[EventEnum]] | None = None,
        event_to_attr: dict | None = None,
        decollate: bool = False,
        optim_set_to_none: bool = False,
        to_kwargs: dict | None = None,
        amp_kwargs: dict | None = None,
    ) -> None:
        if discriminator is not None and d_optimizer is None:
            raise ValueError("a discriminator needs its optimiser `d_optimizer`.")
        super().__init__(
            device=device,
            max_epochs=max_epochs,
            data_loader=train_data_loader,
            epoch_length=epoch_length,
            non_blocking=non_blocking,
            prepare_batch=prepare_batch or JointPrepareBatch(image_key, label_key, target_key),
            iteration_update=iteration_update,
            postprocessing=postprocessing,
            key_metric=key_train_metric,
            additional_metrics=additional_metrics,
            metric_cmp_fn=metric_cmp_fn,
            handlers=train_handlers,
            amp=amp,
            event_names=event_names,
            event_to_attr=event_to_attr,
            decollate=decollate,
            to_kwargs=to_kwargs,
            amp_kwargs=amp_kwargs,
        )
        for event in AdversarialIterationEvents:
            if event not in self._allowed_events:
                self.register_events(event)
        self.generator = generator
        self.g_optimizer = g_optimizer
        self.g_loss = JointSRSegLoss() if g_loss is None else g_loss
        self.discriminator = discriminator
        self.d_optimizer = d_optimizer
        self.d_loss = LeastSquaresDiscriminatorLoss() if d_loss is None else d_loss
        self.generator_output = generator_output
        self.inferer = SimpleInferer() if inferer is None else inferer
        self.optim_set_to_none = optim_set_to_none
        self.scaler = make_grad_scaler(self._compute_device, amp, self.amp_kwargs)

    @property
    def network(self) -> nn.Module:
        """The generator (alias, for handlers written for ``SupervisedTrainer``)."""
        return self.generator

    def _generator_terms(self, **kwargs: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """The generator loss terms of this iteration (``g_loss``'s dict); subclasses add terms here.

        Args:
            kwargs: ``sr``, ``hr_image``, ``seg_logits``, ``hr_label``, ``fake_scores`` (see ``g_loss``).
        """
        return self.g_loss(**kwargs)

    def _iteration(self, engine: JointGanTrainer, batchdata: dict[str, torch.Tensor]) -> dict:
        """One generator step then (with a discriminator) one discriminator step.

        Args:
            engine: this trainer.
            batchdata: the collated batch.

        Returns:
            The iteration output dict (see the class docstring).

        Raises:
            ValueError: when ``batchdata`` is ``None`` or a reference needed by the discriminator is missing.
        """
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        inputs, label, hr_image = engine.prepare_batch(
            batchdata, engine.state.device, engine.non_blocking, **engine.to_kwargs
        )
        engine.state.output = {Keys.IMAGE: inputs, Keys.LABEL: label, "hr_image": hr_image}
        output = engine.state.output
        device = engine._compute_device
        mode = resolve_generator_output(engine.generator, engine.generator_output)
        discriminator = engine.discriminator

        # ---- generator step
        engine.generator.train()
        if discriminator is not None:
            discriminator.train()
        engine.g_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        with amp_autocast(device, engine.amp, engine.amp_kwargs):
            sr, seg = split_generator_output(engine.inferer(inputs, engine.generator), mode)
        if seg is not None:
            output[Keys.PRED] = seg.detach()
        if sr is not None:
            output["sr"] = sr.detach()
        engine.fire_event(IterationEvents.FORWARD_COMPLETED)
        engine.fire_event(AdversarialIterationEvents.GENERATOR_FORWARD_COMPLETED)

        fake_scores = None
        if discriminator is not None:
            if sr is not None and hr_image is None:
                raise ValueError("the discriminator's real pair needs the HR grey volume (`target_key`).")
            if seg is not None and label is None:
                raise ValueError("the discriminator's real pair needs the HR label map (`label_key`).")
            with amp_autocast(device, engine.amp, engine.amp_kwargs):
                fake_scores = discriminator(conditioned_pair(sr, seg))
            engine.fire_event(AdversarialIterationEvents.GENERATOR_DISCRIMINATOR_FORWARD_COMPLETED)

        g_terms = engine._generator_terms(
            sr=sr, hr_image=hr_image, seg_logits=seg, hr_label=label, fake_scores=fake_scores
        )
        output[Keys.LOSS] = g_terms["loss"].detach()
        output.update({f"g_{k}": v.detach() for k, v in g_terms.items() if k != "loss"})
        engine.fire_event(IterationEvents.LOSS_COMPLETED)
        engine.fire_event(AdversarialIterationEvents.GENERATOR_LOSS_COMPLETED)
        engine._backward_step(
            g_terms["loss"],
            engine.g_optimizer,
            (IterationEvents.BACKWARD_COMPLETED, AdversarialIterationEvents.GENERATOR_BACKWARD_COMPLETED),
        )
        engine.fire_event(AdversarialIterationEvents.GENERATOR_MODEL_COMPLETED)

        # ---- discriminator step
        if discriminator is not None:
            num_classes = seg.shape[1] if seg is not None else 1
            engine.d_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)  # type: ignore[union-attr]
            with amp_autocast(device, engine.amp, engine.amp_kwargs):
                real_pair = conditioned_pair(
                    hr_image if sr is not None else None,
                    label if seg is not None else None,
                    num_classes=num_classes,
                    softmax=False,
                )
                real_scores = discriminator(real_pair)
                engine.fire_event(AdversarialIterationEvents.DISCRIMINATOR_REALS_FORWARD_COMPLETED)
                fake_scores = discriminator(conditioned_pair(_detach(sr), _detach(seg)))
                engine.fire_event(AdversarialIterationEvents.DISCRIMINATOR_FAKES_FORWARD_COMPLETED)
            d_terms = engine.d_loss(real_scores, fake_scores)
            output.update({"d_loss" if k == "loss" else f"d_{k}": v.detach() for k, v in d_terms.items()})
            engine.fire_event(AdversarialIterationEvents.DISCRIMINATOR_LOSS_COMPLETED)
            engine._backward_step(
                d_terms["loss"],
                engine.d_optimizer,  # type: ignore[arg-type]
                (AdversarialIterationEvents.DISCRIMINATOR_BACKWARD_COMPLETED,),
            )
            engine.fire_event(AdversarialIterationEvents.DISCRIMINATOR_MODEL_COMPLETED)

        if engine.scaler is not None:
            engine.scaler.update()
        engine.fire_event(IterationEvents.MODEL_COMPLETED)
        return engine.state.output
