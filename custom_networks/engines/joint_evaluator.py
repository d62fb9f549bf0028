"""Evaluator for joint super-resolution + segmentation generators (Gemini-GAN, joint and single-task U-Nets)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from monai.data import MetaTensor
from monai.engines import SupervisedEvaluator
from monai.engines.utils import IterationEvents, default_metric_cmp_fn
from monai.inferers import Inferer
from monai.utils import ForwardMode
from monai.utils.enums import CommonKeys as Keys
from torch import nn
from torch.utils.data import DataLoader

from .utils import JointPrepareBatch, amp_autocast, resolve_generator_output, split_generator_output

if TYPE_CHECKING:
    from ignite.engine import Engine, EventEnum
    from ignite.metrics import Metric

__all__ = ["JointEvaluator"]


def _to_float(t: torch.Tensor | None, like: torch.Tensor | None = None) -> torch.Tensor | None:
    """Cast reduced-precision (autocast) outputs back to float32 and give them the input batch's metadata.

    ``sliding_window_inference`` returns tuple outputs whose affine is not batched, so decollation would split
    the affine matrix by rows; copying the (batched) metadata of the network input keeps every case's geometry.
    """
    if t is None:
        return t
    if torch.is_floating_point(t) and t.dtype != torch.float32:
        t = t.float()
    if isinstance(like, MetaTensor):
        out = MetaTensor(t.as_tensor() if isinstance(t, MetaTensor) else t)
        out.copy_meta_from(like)
        return out
    return t


class JointEvaluator(SupervisedEvaluator):
    """Runs a joint SR + segmentation generator (through an inferer) and exposes both outputs to MONAI handlers.

    The inferer may be any MONAI inferer; ``SlidingWindowInferer`` stitches the ``(sr, seg_logits)`` tuple of a
    two-task generator window by window. ``engine.state.output`` (a list of per-item dicts with the default
    ``decollate=True``) holds:

    - ``"image"``: network input; ``"label"``: HR label map; ``"hr_image"``: HR grey volume (``None`` if absent);
    - ``"pred"``: segmentation logits (float32; after ``postprocessing`` typically one-hot or a label map), present
      when the generator segments;
    - ``"sr"``: super-resolved grey volume (float32), present when the generator super-resolves.

    Attach metrics with ``output_transform=from_engine([...])`` (``monai.handlers.from_engine``), e.g. with
    ``postprocessing=Compose([AsDiscreted(keys="pred", argmax=True, to_onehot=4), AsDiscreted(keys="label",
    to_onehot=4)])``::

        MeanDice(include_background=False, output_transform=from_engine(["pred", "label"]))
        HausdorffDistance(include_background=False, percentile=95, output_transform=from_engine(["pred", "label"]))
        PeakSignalToNoiseRatio(max_val=1.0, output_transform=from_engine(["sr", "hr_image"]))
        IgniteMetricHandler(metric_fn=SSIMMetric(spatial_dims=3, data_range=1.0),
                            output_transform=from_engine(["sr", "hr_image"]))

    The generator output mode is read from the (unwrapped) network's ``output`` attribute unless
    ``generator_output`` is given; a tuple output is always read as ``(sr, seg_logits)``.

    Args:
        device: device the network runs on.
        val_data_loader: evaluation data (``DataLoader`` or any iterable of batches).
        network: the generator to evaluate.
        epoch_length: iterations per evaluation; default ``len(val_data_loader)``.
        non_blocking: asynchronous host-to-device copies where possible.
        prepare_batch: callable ``(batchdata, device, non_blocking, **kwargs) -> (image, label, hr_image)``;
            default ``JointPrepareBatch(image_key, label_key, target_key)``.
        image_key: batch key of the network input.
        label_key: batch key of the HR label map.
        target_key: batch key of the HR grey volume.
        generator_output: ``"both"``, ``"sr"`` or ``"seg"``; overrides the network's ``output`` attribute.
        iteration_update: replaces ``self._iteration`` when given.
        inferer: how the network is applied, e.g. ``SlidingWindowInferer(roi_size=..., sw_batch_size=...)``;
            default ``SimpleInferer()``.
        postprocessing: transforms applied at ``MODEL_COMPLETED`` (e.g. ``AsDiscreted`` for the metrics).
        key_val_metric: ignite metric(s); the first is the key metric used for best-model selection.
        additional_metrics: more ignite metrics attached to the evaluator.
        metric_cmp_fn: compares the key metric with the best so far (default: greater is better).
        val_handlers: handlers with an ``attach`` method (``StatsHandler``, ``CheckpointSaver``, ...).
        amp: mixed precision inference (fp16 on CUDA, bf16 on CPU); outputs are cast back to float32.
        mode: ``"eval"`` (default) or ``"train"`` forward mode of the network.
        event_names: additional custom events to register.
        event_to_attr: maps events to ``engine.state`` attributes.
        decollate: decollate batch-first outputs into lists of items; default ``True`` (MONAI transforms and
            metric handlers expect channel-first items).
        to_kwargs: further ``Tensor.to`` arguments for ``prepare_batch``.
        amp_kwargs: further ``torch.autocast`` arguments (e.g. ``{"dtype": torch.bfloat16}``).
    """

    def __init__(
        self,
        device: str | torch.device,
        val_data_loader: Iterable | DataLoader,
        network: nn.Module,
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
        key_val_metric: dict[str, Metric] | None = None,
        additional_metrics: dict[str, Metric] | None = None,
        metric_cmp_fn: Callable = default_metric_cmp_fn,
        val_handlers: Sequence | None = None,
        amp: bool = False,
        mode: ForwardMode | str = ForwardMode.EVAL,
        event_names: list[str | EventEnum | type[EventEnum]] | None = None,
        event_to_attr: dict | None = None,
        decollate: bool = True,
        to_kwargs: dict | None = None,
        amp_kwargs: dict | None = None,
    ) -> None:
        super().__init__(
            device=torch.device(device) if isinstance(device, str) else device,
            val_data_loader=val_data_loader,
            network=network,
            epoch_length=epoch_length,
            non_blocking=non_blocking,
            prepare_batch=prepare_batch or JointPrepareBatch(image_key, label_key, target_key),
            iteration_update=iteration_update,
            inferer=inferer,
            postprocessing=postprocessing,  # type: ignore[arg-type]
            key_val_metric=key_val_metric,
            additional_metrics=additional_metrics,
            metric_cmp_fn=metric_cmp_fn,
            val_handlers=val_handlers,
            amp=amp,
            mode=mode,
            event_names=event_names,
            event_to_attr=event_to_attr,
            decollate=decollate,
            to_kwargs=to_kwargs,
            amp_kwargs=amp_kwargs,
        )
        self.generator_output = generator_output

    @property
    def generator(self) -> nn.Module:
        """The evaluated generator (alias of ``network``)."""
        return self.network

    def _iteration(self, engine: JointEvaluator, batchdata: dict[str, torch.Tensor]) -> dict:  # type: ignore[override]
        """Run the network on one batch and store inputs, references and both outputs in ``engine.state.output``.

        Args:
            engine: this evaluator.
            batchdata: the collated batch.

        Returns:
            The iteration output dict (see the class docstring).

        Raises:
            ValueError: when ``batchdata`` is ``None``.
        """
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        inputs, label, hr_image = engine.prepare_batch(
            batchdata, engine.state.device, engine.non_blocking, **engine.to_kwargs
        )
        engine.state.output = {Keys.IMAGE: inputs, Keys.LABEL: label, "hr_image": hr_image}
        mode = resolve_generator_output(engine.network, engine.generator_output)
        device = engine.state.device if engine.state.device is not None else torch.device("cpu")
        with engine.mode(engine.network), amp_autocast(device, engine.amp, engine.amp_kwargs):
            prediction = engine.inferer(inputs, engine.network)
        sr, seg = split_generator_output(prediction, mode)
        if seg is not None:
            engine.state.output[Keys.PRED] = _to_float(seg, inputs)
        if sr is not None:
            engine.state.output["sr"] = _to_float(sr, inputs)
        engine.fire_event(IterationEvents.FORWARD_COMPLETED)
        engine.fire_event(IterationEvents.MODEL_COMPLETED)
        return engine.state.output
