"""Shared pieces of the joint SR + segmentation engines: batch parsing, generator outputs and mixed precision."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.engines.utils import PrepareBatch
from torch import nn

__all__ = [
    "GENERATOR_OUTPUTS",
    "JointPrepareBatch",
    "amp_autocast",
    "make_grad_scaler",
    "resolve_generator_output",
    "split_generator_output",
    "unwrap_module",
]

GENERATOR_OUTPUTS = ("both", "sr", "seg")


class JointPrepareBatch(PrepareBatch):
    """Parse a batch into ``(network input, HR label map, HR grey volume)`` and move it to the device.

    Dictionary batches are read by key; a missing key gives ``None`` (e.g. no HR grey volume for a
    segmentation-only data set). Sequence batches are read as ``(image, label[, hr_image])``; a bare tensor is the
    network input alone.

    Args:
        image_key: key of the network input (the LR stack interpolated onto the HR grid).
        label_key: key of the HR label map.
        target_key: key of the HR grey volume (the super-resolution target).
    """

    def __init__(self, image_key: str = "image", label_key: str = "label", target_key: str = "hr_image") -> None:
        self.image_key = image_key
        self.label_key = label_key
        self.target_key = target_key

    def __call__(
        self,
        batchdata: Mapping[str, Any] | Sequence[torch.Tensor] | torch.Tensor,
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Return ``(inputs, label, hr_image)`` on ``device``; entries absent from the batch are ``None``.

        Args:
            batchdata: the collated batch.
            device: target device.
            non_blocking: passed to ``Tensor.to``.
            kwargs: further arguments for ``Tensor.to``.
        """

        def _to(x: Any) -> torch.Tensor | None:
            if x is None:
                return None
            return x.to(device=device, non_blocking=non_blocking, **kwargs) if isinstance(x, torch.Tensor) else x

        if isinstance(batchdata, torch.Tensor):
            return _to(batchdata), None, None  # type: ignore[return-value]
        if isinstance(batchdata, Mapping):
            if self.image_key not in batchdata:
                raise KeyError(f"batch has no network input under key {self.image_key!r}: {list(batchdata)}.")
            return (
                _to(batchdata[self.image_key]),  # type: ignore[return-value]
                _to(batchdata.get(self.label_key)),
                _to(batchdata.get(self.target_key)),
            )
        items = list(batchdata)
        if not 1 <= len(items) <= 3:
            raise ValueError(f"sequence batches must be (image[, label[, hr_image]]), got {len(items)} items.")
        items += [None] * (3 - len(items))
        return _to(items[0]), _to(items[1]), _to(items[2])  # type: ignore[return-value]


def unwrap_module(module: nn.Module) -> nn.Module:
    """Return the wrapped network of ``DistributedDataParallel`` / ``DataParallel`` / ``torch.compile`` wrappers.

    Args:
        module: a network, possibly wrapped.
    """
    while True:
        if isinstance(module, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            module = module.module
        elif hasattr(module, "_orig_mod") and isinstance(module._orig_mod, nn.Module):
            module = module._orig_mod
        else:
            return module


def split_generator_output(
    output: torch.Tensor | Sequence[torch.Tensor] | Mapping[str, torch.Tensor], mode: str | None
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Split a generator output into ``(sr, seg_logits)``.

    Args:
        output: a ``(sr, seg_logits)`` pair (generators with ``output == "both"``), a dict with keys
            ``"sr"``/``"seg"``, or a single tensor (single-task generators).
        mode: ``"both"``, ``"sr"`` or ``"seg"``; tells what a single tensor holds. ``None`` is accepted for pairs
            and dicts only.

    Returns:
        ``(sr, seg_logits)``; the missing one is ``None``.

    Raises:
        ValueError: when a single tensor comes with ``mode`` ``None`` or ``"both"``, or the pair has a wrong length.
    """
    if isinstance(output, Mapping):
        return output.get("sr"), output.get("seg")
    if isinstance(output, (tuple, list)):
        if len(output) != 2:
            raise ValueError(f"a two-task generator must return (sr, seg_logits), got {len(output)} outputs.")
        return output[0], output[1]
    if mode == "sr":
        return output, None
    if mode == "seg":
        return None, output
    raise ValueError(
        f"the generator returned a single tensor but its output mode is {mode!r}: set the generator's `output` "
        "attribute (or the engine's `generator_output`) to 'sr' or 'seg'."
    )


def resolve_generator_output(generator: nn.Module, generator_output: str | None) -> str | None:
    """Return the output mode of ``generator``: ``generator_output`` if given, else its ``output`` attribute.

    Args:
        generator: the (possibly DDP-wrapped) generator.
        generator_output: explicit mode (``"both"``, ``"sr"``, ``"seg"``) or ``None``.
    """
    mode = generator_output if generator_output is not None else getattr(unwrap_module(generator), "output", None)
    if mode is not None and mode not in GENERATOR_OUTPUTS:
        raise ValueError(f"generator output mode must be one of {GENERATOR_OUTPUTS}, got {mode!r}.")
    return mode


def _amp_dtype(device: torch.device, amp_kwargs: Mapping[str, Any]) -> torch.dtype:
    if "dtype" in amp_kwargs:
        return amp_kwargs["dtype"]
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def amp_autocast(
    device: torch.device, enabled: bool, amp_kwargs: Mapping[str, Any] | None = None
) -> contextlib.AbstractContextManager:
    """Autocast context for mixed precision: fp16 on CUDA, bf16 on CPU (and other devices), unless overridden.

    Args:
        device: the device the networks run on.
        enabled: whether mixed precision is on; when ``False`` a no-op context is returned.
        amp_kwargs: extra ``torch.autocast`` arguments, e.g. ``{"dtype": torch.bfloat16}`` to use bf16 on CUDA.
    """
    if not enabled:
        return contextlib.nullcontext()
    amp_kwargs = dict(amp_kwargs or {})
    dtype = _amp_dtype(device, amp_kwargs)
    amp_kwargs.pop("dtype", None)
    amp_kwargs.pop("device_type", None)
    return torch.autocast(device_type=device.type, dtype=dtype, **amp_kwargs)


def make_grad_scaler(
    device: torch.device, enabled: bool, amp_kwargs: Mapping[str, Any] | None = None
) -> torch.amp.GradScaler | None:
    """Return a ``torch.amp.GradScaler`` when training in fp16 on CUDA, otherwise ``None`` (bf16 needs no scaling).

    Args:
        device: the device the networks run on.
        enabled: whether mixed precision is on.
        amp_kwargs: the autocast arguments (only ``dtype`` is read).
    """
    if not enabled or device.type != "cuda" or _amp_dtype(device, amp_kwargs or {}) != torch.float16:
        return None
    return torch.amp.GradScaler("cuda")
