"""Slice layouts: how a channel-first volume ``(B, C, H, W, D)`` is presented to a network.

Every network of this package takes and returns volumes in the MONAI channel-first layout
``(B, C, H, W, D)`` with the slice (through-plane) axis last. Two internal layouts exist:

* ``"3d"``: the volume is processed by 3D convolutions as it is.
* ``"2d"``: the layout of the original Gemini-GAN code, a 2D network that sees the slices as channels. The volume
  is folded to ``(B, C * D, H, W)`` before the network and the network output is unfolded back to
  ``(B, C', H, W, D)``. The number of slices ``D`` is then fixed at construction (``num_slices``).
"""

from __future__ import annotations

import torch

__all__ = ["LAYOUTS", "fold_slices", "layout_spatial_dims", "unfold_slices", "validate_layout"]

#: Supported slice layouts.
LAYOUTS: tuple[str, ...] = ("3d", "2d")


def validate_layout(layout: str, num_slices: int | None) -> tuple[str, int | None]:
    """Check a ``(layout, num_slices)`` pair given to a network constructor.

    Args:
        layout: ``"3d"`` (3D convolutions) or ``"2d"`` (slices as channels of a 2D network). Case-insensitive.
        num_slices: number of slices ``D`` of the input volume; required (a positive int) for the ``"2d"`` layout,
            ignored (returned as ``None``) for the ``"3d"`` layout.

    Returns:
        The normalised (lower-case) layout and the number of slices (``None`` for ``"3d"``).

    Raises:
        ValueError: for an unknown layout, or a missing / non-positive ``num_slices`` with the ``"2d"`` layout.
    """
    if not isinstance(layout, str) or layout.lower() not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}.")
    layout = layout.lower()
    if layout == "3d":
        return layout, None
    if num_slices is None or isinstance(num_slices, bool) or int(num_slices) != num_slices or num_slices < 1:
        raise ValueError(
            f"the '2d' layout (slices as channels) needs num_slices, the depth D of the (B, C, H, W, D) input, "
            f"as a positive int; got {num_slices!r}."
        )
    return layout, int(num_slices)


def layout_spatial_dims(layout: str) -> int:
    """Number of spatial dimensions of the convolutions used by a layout.

    Args:
        layout: ``"3d"`` or ``"2d"``.

    Returns:
        3 for ``"3d"``, 2 for ``"2d"``.
    """
    return 3 if layout == "3d" else 2


def fold_slices(x: torch.Tensor) -> torch.Tensor:
    """Fold the slice axis into the channels: ``(B, C, H, W, D) -> (B, C * D, H, W)``.

    Channel ``c * D + z`` of the result is slice ``z`` of input channel ``c`` (channel-major order).

    Args:
        x: volume batch ``(B, C, H, W, D)``.

    Returns:
        The folded batch ``(B, C * D, H, W)``.
    """
    b, c, h, w, d = x.shape
    return x.permute(0, 1, 4, 2, 3).reshape(b, c * d, h, w)


def unfold_slices(x: torch.Tensor, num_slices: int) -> torch.Tensor:
    """Inverse of :func:`fold_slices`: ``(B, C * D, H, W) -> (B, C, H, W, D)``.

    Args:
        x: folded batch ``(B, C * D, H, W)``; channel ``c * D + z`` holds slice ``z`` of output channel ``c``.
        num_slices: number of slices ``D``.

    Returns:
        The volume batch ``(B, C, H, W, D)``.
    """
    b, cd, h, w = x.shape
    return x.reshape(b, cd // num_slices, num_slices, h, w).permute(0, 1, 3, 4, 2).contiguous()
