"""Adversarial trainer of the image-to-image domain-translation models (V-AMA, CycleGAN, MUNIT, BicycleGAN).

Every translation model implements :class:`custom_networks.nets.TranslationModel`: it computes its own generator
and discriminator losses. ``TranslationGanTrainer`` is a ``monai.engines.Trainer`` whose iteration is one generator
step (``model.generator_loss``) followed by one discriminator step (``model.discriminator_loss``), firing MONAI's
iteration events so that the usual handlers (``StatsHandler``, ``CheckpointSaver``/``CheckpointLoader``,
``LrScheduleHandler``, ``ValidationHandler``, metrics) work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from monai.engines.utils import IterationEvents, PrepareBatch, default_metric_cmp_fn
from monai.utils import AdversarialIterationEvents
from torch import nn
from torch.optim.optimizer import Optimizer
from torch.utils.data import DataLoader

from custom_networks.nets.translation_base import TranslationModel

from .two_step_trainer import TwoOptimizerTrainer
from .utils import amp_autocast, make_grad_scaler

if TYPE_CHECKING:
    from ignite.engine import Engine, EventEnum
    from ignite.metrics import Metric

__all__ = ["TranslationGanTrainer", "TranslationPrepareBatch", "call_translation_model"]


class TranslationPrepareBatch(PrepareBatch):
    """Parse a batch into ``(source, target)`` images and move them to the device.

    Dictionary batches are read by key; sequence batches as ``(source, target)``.

    Args:
        source_key: key of the source-domain images.
        target_key: key of the target-domain images (paired with, and rigidly aligned to, the source images).
    """

    def __init__(self, source_key: str = "source", target_key: str = "target") -> None:
        self.source_key = source_key
        self.target_key = target_key

    def __call__(
        self,
        batchdata: Mapping[str, Any] | Sequence[torch.Tensor],
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(source, target)`` on ``device``.

        Args:
            batchdata: the collated batch.
            device: target device.
            non_blocking: passed to ``Tensor.to``.
            kwargs: further arguments for ``Tensor.to``.

        Raises:
            KeyError: when a dictionary batch lacks a key.
            ValueError: when a sequence batch does not hold exactly two items.
        """
        if isinstance(batchdata, Mapping):
            missing = [k for k in (self.source_key, self.target_key) if k not in batchdata]
            if missing:
                raise KeyError(f"batch has no images under key(s) {missing}: {list(batchdata)}.")
            source, target = batchdata[self.source_key], batchdata[self.target_key]
        else:
            items = list(batchdata)
            if len(items) != 2:
                raise ValueError(f"sequence batches must be (source, target), got {len(items)} items.")
            source, target = items
        return (
            source.to(device=device, non_blocking=non_blocking, **kwargs),
            target.to(device=device, non_blocking=non_blocking, **kwargs),
        )


@contextmanager
def _forward_as(module: nn.Module, method: str) -> Iterator[None]:
    """Temporarily make ``module.forward`` its method ``method`` (an instance attribute shadowing the class one)."""
    previous = module.__dict__.get("forward")
    module.forward = getattr(module, method)  # type: ignore[method-assign]
    try:
        yield
    finally:
        if previous is None:
            del module.forward
        else:
            module.forward = previous  # type: ignore[method-assign]


def call_translation_model(model: nn.Module, method: str, *args: torch.Tensor) -> dict[str, torch.Tensor]:
    """Call ``method`` (e.g. ``"generator_loss"``) of a translation model that may be wrapped in DDP.

    A plain model (or a ``torch.compile`` wrapper, whose ``_orig_mod`` is used) has the method called directly.
    ``DistributedDataParallel`` synchronises gradients only for computations that run through its ``forward``, so
    for a DDP-wrapped model the call goes *through the wrapper*: the inner module's ``forward`` is temporarily
    replaced by ``method`` and the wrapper is called, so DDP prepares its reducer and all-reduces the gradients of
    the following backward. Because the discriminator step leaves the generators unused (and the other way round,
    depending on the model), wrap the model with ``DistributedDataParallel(model, find_unused_parameters=True)``.
    ``DataParallel`` is not supported (its replicas would not keep the state shared between the two calls).

    Args:
        model: the translation model, plain or wrapped.
        method: name of the method to call.
        args: its positional arguments.

    Returns:
        What the method returns.

    Raises:
        TypeError: for ``DataParallel`` or a module that is not a :class:`TranslationModel`.
    """
    if isinstance(model, nn.DataParallel):
        raise TypeError("DataParallel is not supported; use DistributedDataParallel(find_unused_parameters=True).")
    if isinstance(model, nn.parallel.DistributedDataParallel):
        inner = model.module
        if not isinstance(inner, TranslationModel):
            raise TypeError(f"the wrapped module must be a TranslationModel, got {type(inner).__name__}.")
        with _forward_as(inner, method):
            return model(*args)
    if hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
        model = model._orig_mod
    if not isinstance(model, TranslationModel):
        raise TypeError(f"the model must be a TranslationModel, got {type(model).__name__}.")
    return getattr(model, method)(*args)


class TranslationGanTrainer(TwoOptimizerTrainer):
    """Trains any :class:`~custom_networks.nets.TranslationModel` (V-AMA, CycleGAN, MUNIT, BicycleGAN).

    Each iteration, with ``(source, target)`` from ``prepare_batch``:

    1. **Generator step.** ``g = model.generator_loss(source, target)`` (the model runs its generators, scores the
       fakes with its discriminators and returns ``{"loss", ...terms}``); backward of ``g["loss"]`` and
       ``g_optimizer.step()``.
    2. **Discriminator step.** ``d = model.discriminator_loss(source, target)`` (real images and the detached fakes
       of step 1); backward of ``d["loss"]`` and ``d_optimizer.step()``.

    The generator loss also leaves gradients on the discriminator parameters; ``d_optimizer.zero_grad()`` clears them
    before the discriminator backward, so give the two optimisers disjoint parameter sets
    (:meth:`~custom_networks.nets.TranslationModel.generator_parameters` and
    :meth:`~custom_networks.nets.TranslationModel.discriminator_parameters`). For V-AMA the original used Adam,
    lr 2e-4, betas (0.5, 0.999) for both.

    ``engine.state.output`` (a dict; a list of dicts when ``decollate=True``) holds:

    - ``"source"``, ``"target"``: the batch images;
    - ``"loss"``: total generator loss, and every other generator term prefixed ``g_`` (e.g. ``"g_source_mse"``);
    - ``"d_loss"``: total discriminator loss, and every other discriminator term prefixed ``d_``
      (e.g. ``"d_source_real"``).

    All loss values are detached 0-d tensors, so ``StatsHandler(output_transform=from_engine(["loss"], first=True))``
    logs the generator loss.

    Events fired per iteration (in order): ``IterationEvents.FORWARD_COMPLETED``,
    ``AdversarialIterationEvents.GENERATOR_FORWARD_COMPLETED`` and ``GENERATOR_DISCRIMINATOR_FORWARD_COMPLETED``
    (all three after ``generator_loss`` returns: the model computes forward, scores and loss in one call),
    ``IterationEvents.LOSS_COMPLETED`` / ``GENERATOR_LOSS_COMPLETED``, ``IterationEvents.BACKWARD_COMPLETED`` /
    ``GENERATOR_BACKWARD_COMPLETED`` (before the optimiser step, e.g. for gradient clipping),
    ``GENERATOR_MODEL_COMPLETED``, then ``DISCRIMINATOR_REALS_FORWARD_COMPLETED`` and
    ``DISCRIMINATOR_FAKES_FORWARD_COMPLETED`` (after ``discriminator_loss`` returns), ``DISCRIMINATOR_LOSS_COMPLETED``,
    ``DISCRIMINATOR_BACKWARD_COMPLETED``, ``DISCRIMINATOR_MODEL_COMPLETED`` and finally
    ``IterationEvents.MODEL_COMPLETED`` (decollation / post-processing run there).

    Mixed precision (``amp=True``): both loss calls run under autocast, fp16 with a ``torch.amp.GradScaler`` on
    CUDA, bf16 without a scaler on CPU; ``amp_kwargs={"dtype": ...}`` overrides the dtype. The scaler, when present,
    is ``trainer.scaler`` (add it to a checkpoint's ``save_dict`` to resume exactly).

    Distributed training: wrap the model as ``DistributedDataParallel(model, find_unused_parameters=True)``. Both
    loss methods are then called *through* the wrapper (see :func:`call_translation_model`), so DDP synchronises
    the gradients of both steps. Build the optimisers from ``ddp.module.generator_parameters()`` /
    ``discriminator_parameters()``.

    Reproducibility: the models may sample noise (e.g. V-AMA's reparameterisation); call
    ``monai.utils.set_determinism(seed)`` before building the model and the data loader for identical CPU runs.

    Args:
        device: device the model runs on.
        max_epochs: total number of epochs.
        train_data_loader: training data (``DataLoader`` or any iterable of batches of paired images).
        model: the translation model, possibly wrapped in ``DistributedDataParallel``.
        g_optimizer: optimiser of the generator parameters.
        d_optimizer: optimiser of the discriminator parameters.
        source_key: batch key of the source-domain images.
        target_key: batch key of the target-domain images.
        epoch_length: iterations per epoch; default ``len(train_data_loader)``.
        non_blocking: asynchronous host-to-device copies where possible.
        prepare_batch: callable ``(batchdata, device, non_blocking, **kwargs) -> (source, target)``; default
            ``TranslationPrepareBatch(source_key, target_key)``.
        iteration_update: replaces ``self._iteration`` when given (see ``monai.engines.Workflow``).
        postprocessing: transforms applied to the output at ``MODEL_COMPLETED``.
        key_train_metric: ignite metric(s) computed on the training output; the first is the key metric.
        additional_metrics: more ignite metrics attached to the trainer.
        metric_cmp_fn: compares the key metric with the best so far (default: greater is better).
        train_handlers: handlers with an ``attach`` method (``StatsHandler``, ``CheckpointSaver``, ...).
        amp: mixed precision (fp16 + GradScaler on CUDA, bf16 on CPU).
        event_names: additional custom events to register.
        event_to_attr: maps events to ``engine.state`` attributes (see ``ignite.engine.Engine.register_events``).
        decollate: decollate batch-first outputs into lists of items at ``MODEL_COMPLETED``; default ``False``.
        optim_set_to_none: ``zero_grad(set_to_none=...)`` for both optimisers.
        to_kwargs: further ``Tensor.to`` arguments for ``prepare_batch``.
        amp_kwargs: further ``torch.autocast`` arguments (e.g. ``{"dtype": torch.bfloat16}``).

    Raises:
        TypeError: when ``model`` is not a (DDP-wrapped) :class:`~custom_networks.nets.TranslationModel`.
    """

    def __init__(
        self,
        device: str | torch.device,
        max_epochs: int,
        train_data_loader: Iterable | DataLoader,
        model: nn.Module,
        g_optimizer: Optimizer,
        d_optimizer: Optimizer,
        source_key: str = "source",
        target_key: str = "target",
        epoch_length: int | None = None,
        non_blocking: bool = False,
        prepare_batch: Callable | None = None,
        iteration_update: Callable[[Engine, Any], Any] | None = None,
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
        inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        inner = getattr(inner, "_orig_mod", inner)
        if not isinstance(inner, TranslationModel):
            raise TypeError(f"model must be a TranslationModel (possibly DDP-wrapped), got {type(inner).__name__}.")
        if isinstance(model, nn.DataParallel):
            raise TypeError("DataParallel is not supported; use DistributedDataParallel(find_unused_parameters=True).")
        super().__init__(
            device=device,
            max_epochs=max_epochs,
            data_loader=train_data_loader,
            epoch_length=epoch_length,
            non_blocking=non_blocking,
            prepare_batch=prepare_batch or TranslationPrepareBatch(source_key, target_key),
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
        self.model = model
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.source_key = source_key
        self.target_key = target_key
        self.optim_set_to_none = optim_set_to_none
        self.scaler = make_grad_scaler(self._compute_device, amp, self.amp_kwargs)

    @property
    def network(self) -> nn.Module:
        """The translation model (alias, for handlers written for ``SupervisedTrainer``)."""
        return self.model

    def _iteration(self, engine: TranslationGanTrainer, batchdata: dict[str, torch.Tensor]) -> dict:
        """One generator step then one discriminator step.

        Args:
            engine: this trainer.
            batchdata: the collated batch.

        Returns:
            The iteration output dict (see the class docstring).

        Raises:
            ValueError: when ``batchdata`` is ``None``.
        """
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        source, target = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking, **engine.to_kwargs)
        engine.state.output = {"source": source, "target": target}
        output = engine.state.output
        device = engine._compute_device
        model = engine.model
        model.train()

        # ---- generator step
        engine.g_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        with amp_autocast(device, engine.amp, engine.amp_kwargs):
            g_terms = call_translation_model(model, "generator_loss", source, target)
        engine.fire_event(IterationEvents.FORWARD_COMPLETED)
        engine.fire_event(AdversarialIterationEvents.GENERATOR_FORWARD_COMPLETED)
        engine.fire_event(AdversarialIterationEvents.GENERATOR_DISCRIMINATOR_FORWARD_COMPLETED)
        output["loss"] = g_terms["loss"].detach()
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
        engine.d_optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        with amp_autocast(device, engine.amp, engine.amp_kwargs):
            d_terms = call_translation_model(model, "discriminator_loss", source, target)
        engine.fire_event(AdversarialIterationEvents.DISCRIMINATOR_REALS_FORWARD_COMPLETED)
        engine.fire_event(AdversarialIterationEvents.DISCRIMINATOR_FAKES_FORWARD_COMPLETED)
        output.update({"d_loss" if k == "loss" else f"d_{k}": v.detach() for k, v in d_terms.items()})
        engine.fire_event(AdversarialIterationEvents.DISCRIMINATOR_LOSS_COMPLETED)
        engine._backward_step(
            d_terms["loss"], engine.d_optimizer, (AdversarialIterationEvents.DISCRIMINATOR_BACKWARD_COMPLETED,)
        )
        engine.fire_event(AdversarialIterationEvents.DISCRIMINATOR_MODEL_COMPLETED)

        if engine.scaler is not None:
            engine.scaler.update()
        engine.fire_event(IterationEvents.MODEL_COMPLETED)
        return engine.state.output
