"""Contract shared by the generators: input layout, task set and output selector.

Every generator maps the low-resolution stack interpolated onto the high-resolution grid, ``(B, C, H, W, D)``
(MONAI channel-first layout, slice axis last, intensities normalised to [0, 1]), to outputs on the same grid.
A generator is built for a set of *tasks*, a non-empty subset of ``("sr", "seg")``:

* ``"sr"``: the super-resolved grey volume ``(B, C, H, W, D)`` (linear output, same intensity scale as the input);
* ``"seg"``: the segmentation logits ``(B, num_classes, H, W, D)``.

Which of them ``forward`` returns is chosen by the ``output`` selector, changeable after construction:

* ``"both"``: the tuple ``(sr, seg_logits)`` (training of the joint models);
* ``"seg"``: only the logits tensor (MONAI Label, ``monai.bundle verify_net_in_out``, TorchScript export);
* ``"sr"``: only the SR tensor.

Only the decoder(s) needed by the selected output are run, so ``output="seg"`` costs one decoder, not two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn as nn

from custom_networks.nets.layout import fold_slices, layout_spatial_dims, unfold_slices, validate_layout

__all__ = ["OUTPUTS", "TASKS", "JointSRSegGenerator", "resolve_output", "validate_tasks"]

#: Tasks a generator can be built for, in canonical order.
TASKS: tuple[str, ...] = ("sr", "seg")
#: Values of the output selector.
OUTPUTS: tuple[str, ...] = ("both", "sr", "seg")


def validate_tasks(tasks: Sequence[str] | str) -> tuple[str, ...]:
    """Check and normalise a task set.

    Args:
        tasks: a non-empty subset of ``("sr", "seg")`` (a single task may be given as a string).

    Returns:
        The tasks as a tuple in canonical order ``("sr", "seg")``.

    Raises:
        ValueError: for an empty set, an unknown task or a repeated task.
    """
    if isinstance(tasks, str):
        tasks = (tasks,)
    tasks = tuple(tasks)
    unknown = [t for t in tasks if t not in TASKS]
    if not tasks or unknown or len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks must be a non-empty subset of {TASKS} without repetition, got {tasks!r}.")
    return tuple(t for t in TASKS if t in tasks)


def resolve_output(output: str | None, tasks: Sequence[str]) -> str:
    """Check an output selector against the tasks a generator was built for.

    Args:
        output: ``"both"``, ``"sr"``, ``"seg"`` or ``None`` (= every built task: ``"both"`` for the joint
            generator, the single task otherwise).
        tasks: the validated task set (see :func:`validate_tasks`).

    Returns:
        The resolved selector.

    Raises:
        ValueError: for an unknown selector, or one that asks for a task the generator was not built for.
    """
    if output is None:
        return "both" if len(tasks) == 2 else tasks[0]
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}.")
    needed = TASKS if output == "both" else (output,)
    missing = [t for t in needed if t not in tasks]
    if missing:
        raise ValueError(
            f"output={output!r} needs the task(s) {tuple(missing)}, but this generator was built with "
            f"tasks={tuple(tasks)}; use output={resolve_output(None, tasks)!r}."
        )
    return output


class JointSRSegGenerator(nn.Module):
    """Base class of the generators: layout, task set, output selector and the output-selecting ``forward``.

    Subclasses build their layers for :attr:`spatial_dims`-D convolutions with :meth:`internal_channels` input
    channels, then implement ``encode(x) -> features``, ``decode_sr(features)`` and ``decode_seg(features)`` in the
    internal layout (slices folded into channels for ``"2d"``); the base class folds the input and unfolds the
    outputs. The ``decode_*`` method of a task that was not built must raise. TorchScript-compatible: ``forward``
    returns ``Union[Tensor, Tuple[Tensor, Tensor]]``, a plain tensor for ``output`` ``"seg"`` / ``"sr"``.

    Args:
        layout: ``"3d"`` (3D convolutions) or ``"2d"`` (slices as channels of a 2D network).
        num_slices: depth D of the input volume; required for the ``"2d"`` layout, ignored for ``"3d"``.
        in_channels: channels of the input volume (and of the SR output).
        num_classes: number of segmentation classes, background included (at least 2).
        tasks: tasks to build, a non-empty subset of ``("sr", "seg")``.
        output: initial output selector, ``"both"``, ``"sr"``, ``"seg"`` or ``None`` (every built task).
        size_divisor: spatial sizes (H, W, and D in the ``"3d"`` layout) must be multiples of it.

    Raises:
        ValueError: for an unknown layout, a missing ``num_slices`` with ``"2d"``, non-positive channel counts,
            a bad task set or an ``output`` inconsistent with ``tasks``.
    """

    # TorchScript compiles forward only; the selector is read through the plain attribute ``_output``.
    __jit_unused_properties__ = ["output", "tasks"]

    def __init__(
        self,
        layout: str = "3d",
        num_slices: int | None = None,
        in_channels: int = 1,
        num_classes: int = 4,
        tasks: Sequence[str] | str = TASKS,
        output: str | None = None,
        size_divisor: int = 1,
    ) -> None:
        super().__init__()
        self._tasks: tuple[str, ...] = validate_tasks(tasks)
        self._output: str = resolve_output(output, self._tasks)
        self.layout, self.num_slices = validate_layout(layout, num_slices)
        if in_channels < 1 or num_classes < 2:
            raise ValueError(f"need in_channels >= 1 and num_classes >= 2, got {in_channels} and {num_classes}.")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.spatial_dims = layout_spatial_dims(self.layout)
        #: Spatial sizes (H, W, and D in the ``"3d"`` layout) must be multiples of this.
        self.size_divisor = size_divisor
        # int copy of num_slices for TorchScript: number of slices folded into channels, 0 for the "3d" layout
        self._folded_slices: int = self.num_slices or 0

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this generator was built for (canonical order)."""
        return self._tasks

    @property
    def output(self) -> str:
        """The output selector: ``"both"``, ``"sr"`` or ``"seg"``; assignable, validated against :attr:`tasks`."""
        return self._output

    @output.setter
    def output(self, value: str | None) -> None:
        self._output = resolve_output(value, self._tasks)

    def internal_channels(self, channels: int) -> int:
        """Channels of the internal layout for a volume with ``channels`` channels (x D for ``"2d"``).

        Args:
            channels: channels of a ``(B, channels, H, W, D)`` volume.
        """
        return channels * max(self._folded_slices, 1)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` when ``x`` is not a ``(B, in_channels, H, W, D)`` volume this network accepts.

        Args:
            x: the input batch.
        """
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected a (B, {self.in_channels}, H, W, D) input volume, got shape {list(x.shape)}.")
        num_slices = self._folded_slices
        if num_slices > 0 and x.shape[-1] != num_slices:
            raise ValueError(
                f"the '2d' layout was built for num_slices={num_slices} but the input has D={x.shape[-1]} slices."
            )
        checked = 2 if num_slices > 0 else 3
        for size in x.shape[2 : 2 + checked]:
            if size % self.size_divisor != 0:
                raise ValueError(
                    f"spatial sizes {list(x.shape[2 : 2 + checked])} must be multiples of {self.size_divisor}; "
                    "pad/crop the volume or use a sliding-window inferer with such a ROI."
                )

    def encode(self, x: torch.Tensor) -> Any:
        """Features shared by the decoders, from the input in the internal layout (implemented by subclasses)."""
        raise NotImplementedError

    def decode_sr(self, features: Any) -> torch.Tensor:
        """SR volume in the internal layout (implemented by subclasses)."""
        raise NotImplementedError

    def decode_seg(self, features: Any) -> torch.Tensor:
        """Segmentation logits in the internal layout (implemented by subclasses)."""
        raise NotImplementedError

    def _to_volume(self, y: torch.Tensor) -> torch.Tensor:
        if self._folded_slices > 0:
            return unfold_slices(y, self._folded_slices)
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Run the generator.

        Args:
            x: the low-resolution stack interpolated onto the high-resolution grid, ``(B, in_channels, H, W, D)``,
                intensities normalised to [0, 1].

        Returns:
            ``(sr, seg_logits)`` for ``output="both"``, ``seg_logits`` for ``"seg"``, ``sr`` for ``"sr"``; ``sr`` is
            ``(B, in_channels, H, W, D)``, ``seg_logits`` is ``(B, num_classes, H, W, D)``.
        """
        if not torch.jit.is_tracing():  # shape checks would be frozen into a trace as constants
            self.check_input(x)
        if self._folded_slices > 0:
            x = fold_slices(x)
        features = self.encode(x)
        if self._output == "seg":
            return self._to_volume(self.decode_seg(features))
        if self._output == "sr":
            return self._to_volume(self.decode_sr(features))
        return self._to_volume(self.decode_sr(features)), self._to_volume(self.decode_seg(features))
