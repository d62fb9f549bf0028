"""Overlap of label maps: the one Dice of the project (3D, per slice or per class, any array shape)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["dice", "dice_per_class", "mean_dice"]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice ``2 |A & B| / (|A| + |B|)`` of two boolean masks; NaN when both are empty (undefined, not 0 or 1)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    denom = int(a.sum()) + int(b.sum())
    return 2.0 * float((a & b).sum()) / denom if denom else float("nan")


def dice_per_class(pred: np.ndarray, ref: np.ndarray, classes: Sequence[int] = (1, 2, 3)) -> dict[int, float]:
    """Dice of every class of two label maps (NaN for a class absent from both)."""
    pred, ref = np.asarray(pred), np.asarray(ref)
    return {int(c): dice(pred == c, ref == c) for c in classes}


def mean_dice(pred: np.ndarray, ref: np.ndarray, classes: Sequence[int] = (1, 2, 3)) -> float:
    """Mean Dice over the classes present in either label map (NaN when none is)."""
    scores = [v for v in dice_per_class(pred, ref, classes).values() if not np.isnan(v)]
    return float(np.mean(scores)) if scores else float("nan")
