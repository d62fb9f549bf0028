"""The original Gemini-GAN evaluation protocol ("gemini-compat"), so that our numbers can
be put beside the paper's. It is optimistic compared with 3D metrics; report both.

- **Dice**: per 2D slice (slices along the last spatial axis) and per class; only slices where prediction and
  reference both hold foreground are scored, and a slice is skipped entirely when any class scores 0 or NaN
  there; the kept slices are averaged per subject.
- **PSNR**: per slice, after min-max normalising each slice of prediction and reference to [0, 1] (peak 1).
- **SSIM**: per slice (2D), on the same normalised slices.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric, SSIMMetric

from custom_networks.core.overlap import dice

__all__ = [
    "GeminiCompatDiceMetric",
    "GeminiCompatImageMetric",
    "slicewise_dice",
    "slicewise_psnr_ssim",
]


def slicewise_dice(pred: np.ndarray, ref: np.ndarray, classes: tuple[int, ...] = (1, 2, 3)) -> np.ndarray:
    """Gemini-compat Dice of one subject: mean over kept slices, one value per class (NaN if no slice is kept).

    Args:
        pred: predicted label map ``(X, Y, Z)``; slices are taken along the last axis.
        ref: reference label map of the same shape.
        classes: foreground classes.
    """
    if pred.shape != ref.shape:
        raise ValueError(f"prediction {pred.shape} and reference {ref.shape} differ in shape")
    kept = []
    for k in range(ref.shape[-1]):
        p, r = pred[..., k], ref[..., k]
        if not (p > 0).any() or not (r > 0).any():
            continue
        scores = np.asarray([dice(p == c, r == c) for c in classes], dtype=float)
        if np.isnan(scores).any() or (scores == 0).any():
            continue
        kept.append(scores)
    return np.mean(kept, axis=0) if kept else np.full(len(classes), np.nan)


def _minmax(x: np.ndarray) -> np.ndarray | None:
    lo, hi = float(x.min()), float(x.max())
    return None if hi <= lo else (x - lo) / (hi - lo)


def slicewise_psnr_ssim(pred: np.ndarray, ref: np.ndarray, win_size: int = 7) -> tuple[float, float]:
    """Gemini-compat PSNR (dB) and SSIM of one subject: per-slice min-max normalisation, mean over slices.

    Slices whose reference (or prediction) is constant cannot be normalised and are skipped.
    """
    if pred.shape != ref.shape:
        raise ValueError(f"prediction {pred.shape} and reference {ref.shape} differ in shape")
    ssim = SSIMMetric(spatial_dims=2, data_range=1.0, win_size=win_size)
    psnrs, ssims = [], []
    for k in range(ref.shape[-1]):
        p, r = _minmax(pred[..., k].astype(np.float64)), _minmax(ref[..., k].astype(np.float64))
        if p is None or r is None:
            continue
        mse = float(np.mean((p - r) ** 2))
        psnrs.append(10.0 * np.log10(1.0 / max(mse, 1e-12)))
        pt = torch.as_tensor(p, dtype=torch.float32)[None, None]
        rt = torch.as_tensor(r, dtype=torch.float32)[None, None]
        ssims.append(float(ssim(pt, rt).mean()))
    if not psnrs:
        return float("nan"), float("nan")
    return float(np.mean(psnrs)), float(np.mean(ssims))


def _as_labels(t: torch.Tensor) -> np.ndarray:
    """``(C, ...)`` one-hot or ``(1, ...)`` label map -> integer label map."""
    a = t.detach().cpu().numpy()
    return a.argmax(0) if a.shape[0] > 1 else a[0].round().astype(np.int64)


class GeminiCompatDiceMetric(CumulativeIterationMetric):
    """Gemini-compat per-slice Dice as a MONAI cumulative metric (per case: one value per foreground class).

    Args:
        classes: foreground classes.
    """

    def __init__(self, classes: tuple[int, ...] = (1, 2, 3)) -> None:
        super().__init__()
        self.classes = tuple(classes)

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        rows = [slicewise_dice(_as_labels(p), _as_labels(t), self.classes) for p, t in zip(y_pred, y, strict=True)]
        return torch.as_tensor(np.stack(rows), dtype=torch.float32)

    def aggregate(self) -> torch.Tensor:  # type: ignore[override]
        """Mean over cases and classes, ignoring NaN."""
        data = self.get_buffer()
        return torch.nanmean(data) if isinstance(data, torch.Tensor) else torch.tensor(float("nan"))


class GeminiCompatImageMetric(CumulativeIterationMetric):
    """Gemini-compat per-slice PSNR (``metric="psnr"``) or SSIM (``metric="ssim"``) per case.

    Args:
        metric: ``"psnr"`` or ``"ssim"``.
    """

    def __init__(self, metric: str = "psnr") -> None:
        super().__init__()
        if metric not in ("psnr", "ssim"):
            raise ValueError(f"metric must be 'psnr' or 'ssim', got {metric!r}")
        self.index = 0 if metric == "psnr" else 1

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        values = [
            slicewise_psnr_ssim(p[0].detach().cpu().numpy(), t[0].detach().cpu().numpy())[self.index]
            for p, t in zip(y_pred, y, strict=True)
        ]
        return torch.as_tensor(values, dtype=torch.float32)[:, None]

    def aggregate(self) -> torch.Tensor:  # type: ignore[override]
        """Mean over cases, ignoring NaN."""
        data = self.get_buffer()
        return torch.nanmean(data) if isinstance(data, torch.Tensor) else torch.tensor(float("nan"))
