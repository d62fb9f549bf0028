"""Segmentation loss against manual labels of real stacks: counted only where labels exist.

A real short-axis stack is labelled on its own thick slices, and often only on some of them and for some classes
(Sunnybrook: LV only, some slices; an unlabelled voxel says nothing). The network predicts on the HR grid. This loss
brings the HR class probabilities onto the stack's voxels in world coordinates, through the slice profile (the mean
of ``profile_samples`` samples across one slice spacing, trilinear, differentiable), and compares them with the
manual label map only there:

- Dice of every **labelled** foreground class, on its labelled slices;
- cross-entropy on the **fully labelled** slices, where the classes that were not labelled are merged into the
  background (a voxel labelled 0 may be RV when the RV was never drawn: predicting RV there costs nothing).

Everything else (unlabelled slices, unlabelled classes, voxels outside the HR field of view) does not enter the loss:
garbage there leaves it unchanged (tested).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LabelledSliceLoss", "sample_on_stack"]


def sample_on_stack(
    probs: torch.Tensor,
    hr_affine: torch.Tensor,
    stack_shape: tuple[int, int, int],
    stack_affine: torch.Tensor,
    slices: torch.Tensor,
    slice_axis: int = 2,
    profile_samples: int = 5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """HR class probabilities at the voxels of some slices of a stack (world coordinates, slice profile).

    Args:
        probs: ``(C, X, Y, Z)`` class probabilities on the HR grid.
        hr_affine: ``(4, 4)`` voxel-to-world affine of the HR grid.
        stack_shape: shape of the stack.
        stack_affine: ``(4, 4)`` voxel-to-world affine of the stack.
        slices: indices of the stack slices to sample (along ``slice_axis``).
        slice_axis: the stack's slice axis.
        profile_samples: samples across one slice spacing (their mean is the slice's value).

    Returns:
        ``(sampled, inside)``: ``(C, *stack_shape with len(slices) along slice_axis)`` probabilities, and a boolean
        mask of the voxels whose every sample lies inside the HR grid.
    """
    device, dtype = probs.device, probs.dtype
    axes = [torch.arange(n, device=device, dtype=dtype) for n in stack_shape]
    axes[slice_axis] = slices.to(device=device, dtype=dtype)
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)  # (..., 3) stack voxel indices
    to_hr = torch.linalg.inv(hr_affine.to(device=device, dtype=torch.float64)) @ stack_affine.to(
        device=device, dtype=torch.float64
    )
    to_hr = to_hr.to(dtype)
    size = torch.tensor(probs.shape[1:], device=device, dtype=dtype)
    total, inside = 0.0, torch.ones(grid.shape[:-1], dtype=torch.bool, device=device)
    offsets = (torch.arange(profile_samples, device=device, dtype=dtype) + 0.5) / profile_samples - 0.5
    for offset in offsets:
        shifted = grid.clone()
        shifted[..., slice_axis] = shifted[..., slice_axis] + offset
        hr = shifted @ to_hr[:3, :3].T + to_hr[:3, 3]  # HR voxel indices (i, j, k)
        inside &= ((hr >= -0.5) & (hr <= size - 0.5)).all(dim=-1)
        normalised = 2.0 * hr / (size - 1).clamp(min=1) - 1.0  # align_corners=True: -1 is voxel 0, +1 voxel N-1
        # grid_sample reads (x, y, z) = (W, H, D): the array axes (X, Y, Z) are (D, H, W)
        sampled = F.grid_sample(
            probs[None], normalised.flip(-1)[None], mode="bilinear", padding_mode="border", align_corners=True
        )
        total = total + sampled[0]
    return total / profile_samples, inside


class LabelledSliceLoss(nn.Module):
    """Dice + cross-entropy of HR segmentation logits against a stack's manual labels, where labels exist.

    Args:
        num_classes: number of label values (background included).
        profile_samples: samples of the slice profile across one slice spacing.
        lambda_dice: weight of the Dice term.
        lambda_ce: weight of the cross-entropy term.
        smooth: Dice smoothing.
    """

    def __init__(
        self,
        num_classes: int = 4,
        profile_samples: int = 5,
        lambda_dice: float = 1.0,
        lambda_ce: float = 1.0,
        smooth: float = 1e-5,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.profile_samples = profile_samples
        self.lambda_dice = lambda_dice
        self.lambda_ce = lambda_ce
        self.smooth = smooth

    def forward(
        self,
        logits: torch.Tensor,
        hr_affine: torch.Tensor,
        label: torch.Tensor,
        label_affine: torch.Tensor,
        labelled_slices: torch.Tensor,
        labelled_classes: torch.Tensor,
        slice_axis: int = 2,
    ) -> torch.Tensor:
        """The loss of one batch (mean over its cases).

        Args:
            logits: ``(B, C, X, Y, Z)`` class logits on the HR grid.
            hr_affine: ``(B, 4, 4)`` HR voxel-to-world affines.
            label: ``(B, x, y, z)`` manual label maps on the stacks' grids (one shape for the batch).
            label_affine: ``(B, 4, 4)`` stack voxel-to-world affines.
            labelled_slices: ``(B, n_slices)`` bool: the fully labelled slices.
            labelled_classes: ``(B, C)`` bool: the classes that were labelled (index 0, background, ignored).
            slice_axis: the stacks' slice axis.

        Returns:
            A scalar; 0 (with a gradient) for a batch without any labelled slice.
        """
        probs = torch.softmax(logits.float(), dim=1)
        losses = []
        for b in range(logits.shape[0]):
            slices = torch.nonzero(labelled_slices[b]).flatten()
            if slices.numel() == 0:
                losses.append(logits[b].sum() * 0.0)
                continue
            sampled, inside = sample_on_stack(
                probs[b], hr_affine[b], tuple(label.shape[1:]), label_affine[b], slices, slice_axis,
                self.profile_samples,
            )  # fmt: skip
            ref = torch.index_select(label[b], slice_axis, slices.to(label.device)).long()
            keep = inside.to(sampled.dtype)
            classes = labelled_classes[b].clone()
            classes[0] = True
            # unlabelled classes count as background (they may be there, unlabelled)
            merged = torch.cat([sampled[~classes].sum(0, keepdim=True) + sampled[0:1], sampled[classes][1:]], dim=0)
            index = torch.full((self.num_classes,), 0, dtype=torch.long, device=ref.device)
            index[classes.to(ref.device)] = torch.arange(int(classes.sum()), device=ref.device)
            target = index[ref]
            nll = -torch.log(merged.clamp(min=1e-7)).gather(0, target[None])[0]
            ce = (nll * keep).sum() / keep.sum().clamp(min=1.0)
            dice_terms = []
            for c in torch.nonzero(labelled_classes[b]).flatten().tolist():
                if c == 0:
                    continue
                p, r = sampled[c] * keep, (ref == c).to(sampled.dtype) * keep
                dice_terms.append(1.0 - (2.0 * (p * r).sum() + self.smooth) / (p.sum() + r.sum() + self.smooth))
            dice = torch.stack(dice_terms).mean() if dice_terms else ce * 0.0
            losses.append(self.lambda_dice * dice + self.lambda_ce * ce)
        return torch.stack(losses).mean()
