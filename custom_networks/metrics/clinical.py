"""Clinical indices from label maps: LV/RV volumes, LV myocardial mass, ejection fractions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MYOCARDIAL_DENSITY_G_PER_ML", "clinical_indices", "ejection_fraction", "label_volumes_ml"]

#: Myocardial tissue density used for LV mass (g/mL).
MYOCARDIAL_DENSITY_G_PER_ML = 1.05


def label_volumes_ml(label: np.ndarray, spacing: Sequence[float], num_classes: int = 4) -> dict[int, float]:
    """Volume (mL) of every foreground class of a label map with voxel size ``spacing`` (mm)."""
    voxel_ml = float(np.prod(spacing)) / 1000.0
    counts = np.bincount(np.asarray(label, dtype=np.int64).ravel(), minlength=num_classes)
    return {c: float(counts[c]) * voxel_ml for c in range(1, num_classes)}


def ejection_fraction(edv: float, esv: float) -> float:
    """Ejection fraction ``(EDV - ESV) / EDV`` (NaN when EDV is 0)."""
    return float((edv - esv) / edv) if edv > 0 else float("nan")


def clinical_indices(
    ed_label: np.ndarray, spacing: Sequence[float], es_label: np.ndarray | None = None
) -> dict[str, float]:
    """LV and RV volumes (mL), LV mass (g) and, when the ES label map is given, ejection fractions.

    Args:
        ed_label: end-diastolic label map (1 LV blood pool, 2 LV myocardium, 3 RV).
        spacing: voxel size (mm).
        es_label: end-systolic label map on a grid of the same voxel size, optional.
    """
    ed = label_volumes_ml(ed_label, spacing)
    out = {"LVEDV_ml": ed[1], "LVM_g": ed[2] * MYOCARDIAL_DENSITY_G_PER_ML, "RVEDV_ml": ed[3]}
    if es_label is not None:
        es = label_volumes_ml(es_label, spacing)
        out.update(
            LVESV_ml=es[1],
            RVESV_ml=es[3],
            LVEF=ejection_fraction(ed[1], es[1]),
            RVEF=ejection_fraction(ed[3], es[3]),
            LVM_ES_g=es[2] * MYOCARDIAL_DENSITY_G_PER_ML,
        )
    return out
