"""Stage-1 inference: a 2D network run on every acquired slice of a stack, whatever its size and orientation."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.inferers import Inferer

from custom_networks.core.geometry import slice_axis_of

__all__ = ["TTA_GROUPS", "SliceStackInferer"]

_FLIPS: tuple[tuple[int, ...], ...] = ((), (2,), (3,), (2, 3))
#: Test-time augmentation groups: (transpose the slice first, flipped dims of ``(N, C, H, W)``) per member.
TTA_GROUPS: dict[str, tuple[tuple[bool, tuple[int, ...]], ...]] = {
    "none": ((False, ()),),
    "flips": tuple((False, d) for d in _FLIPS),
    "dihedral": tuple((t, d) for t in (False, True) for d in _FLIPS),
}


class SliceStackInferer(Inferer):
    """Class probabilities of every voxel of a stack from a 2D network applied slice by slice.

    The slice axis is read from the geometry (the axis of largest voxel size in the input's affine; the last axis
    when the input carries none). Whole slices are segmented (no window: the network sees the heart in its context,
    anywhere in a field of view of up to 450 mm), padded to the network's divisor, ``slices_per_batch`` at a time.
    Test-time augmentation (``tta``) averages the softmax over a group of in-plane transforms of each slice:
    ``"flips"`` (the slice and its three mirror images, four network calls) or ``"dihedral"`` (those and their
    transposes: every 90-degree turn and mirror, eight calls); the average over a group is exactly equivariant, so
    a stack stored mirrored (or, with ``"dihedral"``, turned by 90 degrees) gets exactly the transformed answer.
    ``"none"``: one call. The output keeps the input's metadata, so ``Invertd`` can bring
    it back onto the acquired grid.

    Args:
        slices_per_batch: slices per network call (memory: about 1 MB per 256 x 256 slice and feature map level).
        tta: ``"none"``, ``"flips"`` or ``"dihedral"`` (see above).
        divisor: slice sizes are padded to a multiple of it (None: the network's ``divisor`` attribute, else 16).
    """

    def __init__(self, slices_per_batch: int = 8, tta: str = "dihedral", divisor: int | None = None) -> None:
        super().__init__()
        if int(slices_per_batch) < 1:
            raise ValueError(f"slices_per_batch {slices_per_batch}: at least 1")
        if tta not in TTA_GROUPS:
            raise ValueError(f"tta {tta!r}: one of {', '.join(TTA_GROUPS)}")
        self.slices_per_batch = int(slices_per_batch)
        self.tta = tta
        self.divisor = divisor

    @staticmethod
    def _slice_axis(inputs: torch.Tensor) -> int:
        affine = getattr(inputs, "affine", None)
        if affine is None:
            return inputs.ndim - 3
        affine = np.asarray(affine[0] if affine.ndim == 3 else affine, dtype=float)
        return slice_axis_of(affine)

    def _probabilities(self, slices: torch.Tensor, network: torch.nn.Module, divisor: int) -> torch.Tensor:
        """Softmax of unpadded slices ``(N, 1, H, W)`` averaged over the TTA group, each transformed slice padded after
        the transform (so that the average is exactly equivariant whatever the padding)."""
        total = 0.0
        group = TTA_GROUPS[self.tta]
        for transpose, dims in group:
            x = slices.transpose(2, 3) if transpose else slices
            x = x.flip(dims) if dims else x
            h, w = x.shape[2:]
            pad_h, pad_w = (-h) % divisor, (-w) % divisor
            top, left = pad_h // 2, pad_w // 2
            x = F.pad(x, (left, pad_w - left, top, pad_h - top))
            p = torch.softmax(network(x).float(), dim=1)[:, :, top : top + h, left : left + w]
            p = p.flip(dims) if dims else p
            total = total + (p.transpose(2, 3) if transpose else p)
        return total / len(group)

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
        outputs = []
        with torch.no_grad():
            for start in range(0, slices.shape[0], self.slices_per_batch):
                outputs.append(self._probabilities(slices[start : start + self.slices_per_batch], network, divisor))
        probs = torch.cat(outputs)
        k = probs.shape[1]
        probs = probs.reshape(b, s, k, h, w).permute(0, 2, 3, 4, 1).movedim(-1, 2 + axis)
        if isinstance(inputs, MetaTensor):
            out = MetaTensor(probs.contiguous(), meta=inputs.meta, applied_operations=inputs.applied_operations)
            out.is_batch = inputs.is_batch
            return out
        return probs.contiguous()
