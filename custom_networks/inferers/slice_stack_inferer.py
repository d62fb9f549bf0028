"""Stage-1 inference: a 2D network run on every acquired slice of a stack, whatever its size and orientation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.inferers import Inferer

from custom_networks.core.geometry import slice_axis_of

__all__ = ["SliceStackInferer"]


class SliceStackInferer(Inferer):
    """Class probabilities of every voxel of a stack from a 2D network applied slice by slice.

    The slice axis is read from the geometry (the axis of largest voxel size in the input's affine; the last axis
    when the input carries none). Whole slices are segmented (no window: the network sees the heart in its context,
    anywhere in a field of view of up to 450 mm), padded to the network's divisor, ``slices_per_batch`` at a time.
    With ``flip_tta`` the softmax is averaged over the slice and its three mirror images (along either in-plane axis
    and both: the whole group of in-plane flips, four network calls), so a mirrored stack gets exactly the mirrored
    answer. The output keeps the input's metadata, so ``Invertd`` can bring
    it back onto the acquired grid.

    Args:
        slices_per_batch: slices per network call (memory: about 1 MB per 256 x 256 slice and feature map level).
        flip_tta: average over in-plane flips.
        divisor: slice sizes are padded to a multiple of it (None: the network's ``divisor`` attribute, else 16).
    """

    def __init__(self, slices_per_batch: int = 8, flip_tta: bool = True, divisor: int | None = None) -> None:
        super().__init__()
        if int(slices_per_batch) < 1:
            raise ValueError(f"slices_per_batch {slices_per_batch}: at least 1")
        self.slices_per_batch = int(slices_per_batch)
        self.flip_tta = bool(flip_tta)
        self.divisor = divisor

    @staticmethod
    def _slice_axis(inputs: torch.Tensor) -> int:
        affine = getattr(inputs, "affine", None)
        if affine is None:
            return inputs.ndim - 3
        affine = np.asarray(affine[0] if affine.ndim == 3 else affine, dtype=float)
        return slice_axis_of(affine)

    def _probabilities(self, slices: torch.Tensor, network: torch.nn.Module) -> torch.Tensor:
        flips: Sequence[tuple[int, ...]] = ((), (2,), (3,), (2, 3)) if self.flip_tta else ((),)
        total = 0.0
        for dims in flips:
            x = slices.flip(dims) if dims else slices
            p = torch.softmax(network(x).float(), dim=1)
            total = total + (p.flip(dims) if dims else p)
        return total / len(flips)

    def __call__(self, inputs: torch.Tensor, network: torch.nn.Module, *args, **kwargs) -> torch.Tensor:
        """Run the network on every slice.

        Args:
            inputs: ``(B, 1, X, Y, Z)`` stacks (a ``MetaTensor`` with their affine).
            network: 2D network ``(N, 1, H, W) -> (N, C, H, W)`` logits.

        Returns:
            ``(B, C, X, Y, Z)`` class probabilities, with the input's metadata.
        """
        if inputs.ndim != 5:
            raise ValueError(f"SliceStackInferer: (B, 1, X, Y, Z) stacks expected, got shape {tuple(inputs.shape)}")
        axis = self._slice_axis(inputs)
        divisor = self.divisor or int(getattr(network, "divisor", 16))
        data = inputs.as_tensor() if isinstance(inputs, MetaTensor) else inputs
        moved = data.movedim(2 + axis, -1)  # (B, 1, H, W, S)
        b, c, h, w, s = moved.shape
        slices = moved.permute(0, 4, 1, 2, 3).reshape(b * s, c, h, w)
        pad_h, pad_w = (-h) % divisor, (-w) % divisor
        padded = F.pad(slices, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        outputs = []
        with torch.no_grad():
            for start in range(0, padded.shape[0], self.slices_per_batch):
                outputs.append(self._probabilities(padded[start : start + self.slices_per_batch], network))
        probs = torch.cat(outputs)[:, :, pad_h // 2 : pad_h // 2 + h, pad_w // 2 : pad_w // 2 + w]
        k = probs.shape[1]
        probs = probs.reshape(b, s, k, h, w).permute(0, 2, 3, 4, 1).movedim(-1, 2 + axis)
        if isinstance(inputs, MetaTensor):
            out = MetaTensor(probs.contiguous(), meta=inputs.meta, applied_operations=inputs.applied_operations)
            out.is_batch = inputs.is_batch
            return out
        return probs.contiguous()
