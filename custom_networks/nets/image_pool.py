"""Replay buffer of generated images for discriminator updates (Shrivastava et al. 2017, as used by CycleGAN)."""

from __future__ import annotations

import torch

__all__ = ["ImagePool"]


class ImagePool:
    """History of generated images: the discriminator is trained on a mix of current and past fakes.

    CycleGAN's ``ImagePool``: while fewer than ``pool_size`` images are stored, every queried image is stored and
    returned unchanged. Once full, each image of the batch is, with probability ``prob``, swapped with a uniformly
    chosen stored image (the stored one is returned, the new one takes its place), otherwise returned unchanged.
    Images are stored detached (a clone); the pool is training state, not part of any ``state_dict``. All queried
    images must have the same shape (fixed-size patches).

    Args:
        pool_size: number of stored images; 0 disables the buffer (``query`` returns its input).
        prob: probability of returning a stored image for each queried image once the pool is full (0.5 in
            CycleGAN).
        generator: optional ``torch.Generator`` (CPU) for reproducible choices; ``None`` = the global RNG.

    Raises:
        ValueError: for a negative ``pool_size`` or ``prob`` outside [0, 1].
    """

    def __init__(self, pool_size: int = 50, prob: float = 0.5, generator: torch.Generator | None = None) -> None:
        if pool_size < 0 or not 0.0 <= prob <= 1.0:
            raise ValueError(f"need pool_size >= 0 and 0 <= prob <= 1, got {pool_size} and {prob}.")
        self.pool_size = pool_size
        self.prob = prob
        self.generator = generator
        self.images: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self.images)

    def reset(self) -> None:
        """Forget every stored image."""
        self.images.clear()

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Store the batch ``images`` and return a batch of the same shape mixing them with past images.

        Args:
            images: generated images ``(B, C, *spatial)``; they are detached.

        Returns:
            A detached batch of the same shape and device.
        """
        images = images.detach()
        if self.pool_size == 0:
            return images
        out: list[torch.Tensor] = []
        for image in images:
            image = image.unsqueeze(0).clone()
            if len(self.images) < self.pool_size:
                self.images.append(image)
                out.append(image)
            elif torch.rand((), generator=self.generator).item() < self.prob:
                index = int(torch.randint(0, self.pool_size, (), generator=self.generator).item())
                out.append(self.images[index].to(image.device))
                self.images[index] = image
            else:
                out.append(image)
        return torch.cat(out, dim=0)
