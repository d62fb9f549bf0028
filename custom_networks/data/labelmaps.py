"""Real high-resolution label maps as anatomy: discovery, reading (RV 4 -> 3 declared), random rigid + elastic
deformation onto the project's HR grid, end-systole synthesis and the surrounding thorax.

End systole from a single (end-diastolic) label map: in every short-axis slice the LV is contracted radially
about its centroid with the area-preserving map ``r_ed^2 = r_es^2 + c`` (the cavity area shrinks by the drawn
``1 - EF`` while the myocardial area, hence volume, is exactly preserved and the wall thickens), blended to the
identity 15 mm outside the epicardium; the RV free wall then moves inwards (erosion from its non-septal
boundary) until the RV ejects the drawn fraction. Long-axis shortening is not modelled for real maps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from custom_networks.core.geometry import apply_affine, centered_grid_affine, rotation_matrix, spacing_from_affine
from custom_networks.core.label_maps import load_label
from custom_networks.data.heart import EF_RANGE, RV_EF_RANGE
from custom_networks.data.thorax import paint_thorax, sample_thorax_params, smooth_displacement
from custom_networks.data.tissues import Tissue, keep_largest_components
from custom_networks.datalists.ukdh import UKDH_LABEL_MAP, UKDH_REQUIRED_CLASSES

__all__ = ["RealAnatomy", "load_label_map"]

logger = logging.getLogger(__name__)


def load_label_map(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an HR label map as the engine takes it: the one reader,
    :func:`custom_networks.core.label_maps.load_label`, with the convention the label-map folders declare
    (:data:`custom_networks.datalists.ukdh.UKDH_LABEL_MAP`: RV 4 -> 3; LV blood pool and myocardium required).

    Args:
        path: NIfTI label map (integer values, possibly stored as floats).

    Returns:
        ``(labels, affine)``: ``uint8`` labels 0-3 and the voxel-to-world affine.

    Raises:
        InputError: unreadable file, non-integer values, both 3 and 4 present, values outside 0-3 after mapping, or
            no LV blood pool and myocardium labels.
    """
    return load_label(path, label_map=UKDH_LABEL_MAP, required=UKDH_REQUIRED_CLASSES)


@dataclass
class RealAnatomy:
    """A real label map used as the anatomy of generated subjects.

    Args:
        labels: label map (0 bg, 1 LV blood pool, 2 LV myocardium, 3 RV).
        affine: its voxel-to-world affine.
        name: identifier recorded in the manifest (usually the file path).
    """

    labels: np.ndarray
    affine: np.ndarray
    name: str

    @classmethod
    def from_file(cls, path: str | Path) -> RealAnatomy:
        """Load and check a label map file."""
        labels, affine = load_label_map(path)
        return cls(labels, affine, str(path))

    def grid_affine(self, rng: np.random.Generator, shape, spacing) -> np.ndarray:
        """HR grid with the map's orientation, slice axis (largest voxel size) last, centred on the heart."""
        src_spacing = spacing_from_affine(self.affine)
        slice_axis = int(np.argmax(src_spacing))
        order = [a for a in range(3) if a != slice_axis] + [slice_axis]
        rotation = (self.affine[:3, :3] / src_spacing)[:, order]
        centre = apply_affine(self.affine, np.argwhere(self.labels > 0).mean(axis=0)) + rng.uniform(-5, 5, size=3)
        return centered_grid_affine(shape, spacing, rotation, centre)

    def tissues(self, rng: np.random.Generator, shape, hr_affine: np.ndarray, deformation_mm: float):
        """ED and ES tissue maps on the HR grid ``(shape, hr_affine)``, and the manifest record."""
        spacing = spacing_from_affine(hr_affine)
        centre = apply_affine(hr_affine, (np.asarray(shape) - 1) / 2.0)
        angles = rng.uniform(-6, 6, size=3)
        translation = rng.uniform(-4, 4, size=3)
        ijk = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij"), axis=-1)
        world = apply_affine(hr_affine, ijk)
        axes = hr_affine[:3, :3] / spacing
        world = world + smooth_displacement(rng, tuple(shape), deformation_mm) @ axes.T.astype(np.float32)
        moved = (world - centre) @ rotation_matrix(angles).T + centre + translation
        src = np.moveaxis(apply_affine(np.linalg.inv(self.affine), moved), -1, 0)
        ed = ndimage.map_coordinates(self.labels, src, order=0, mode="constant", cval=0).astype(np.uint8)
        ef, rv_ef = float(rng.uniform(*EF_RANGE)), float(rng.uniform(*RV_EF_RANGE))
        es = _contract(ed, spacing, ef, rv_ef)
        thorax = sample_thorax_params(rng, lv_radius=_lv_radius(ed, spacing))
        frame, base = _heart_frame(ed, spacing)
        grid = (ijk - (np.asarray(shape, dtype=np.float32) - 1) / 2) * spacing.astype(np.float32)
        local = (grid - base) @ frame
        tissues = {phase: _paint(labels, local, thorax, spacing) for phase, labels in (("ED", ed), ("ES", es))}
        record = {
            "source": "labelmap",
            "file": self.name,
            "rigid_rotation_deg": np.round(angles, 3).tolist(),
            "rigid_translation_mm": np.round(translation, 3).tolist(),
            "ef_target": ef,
            "rv_ef_target": rv_ef,
            "thorax": thorax.to_dict(),
        }
        return tissues, record


def _lv_radius(labels: np.ndarray, spacing: np.ndarray) -> float:
    areas = (labels == 1).sum(axis=(0, 1)) * spacing[0] * spacing[1]
    return float(np.sqrt(max(areas.max(), 1.0) / np.pi))


def _heart_frame(labels: np.ndarray, spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heart frame (columns x, y, z in grid mm) and base-centre from the label map: z = slice axis towards the
    base (the end where the LV cross-section is larger), -x towards the RV."""
    shape = np.asarray(labels.shape)
    to_mm = lambda idx: (idx - (shape - 1) / 2) * spacing  # noqa: E731
    lv_idx = np.argwhere(labels == 1)
    ks = np.unique(lv_idx[:, 2])
    areas = np.array([(lv_idx[:, 2] == k).sum() for k in ks])
    half = len(ks) // 2
    base_up = areas[half:].mean() >= areas[:half].mean() if len(ks) > 1 else True
    z = np.array([0.0, 0.0, 1.0 if base_up else -1.0])
    c_lv = to_mm(lv_idx.mean(axis=0))
    rv_idx = np.argwhere(labels == 3)
    c_rv = to_mm(rv_idx.mean(axis=0)) if len(rv_idx) else c_lv + np.array([-30.0, 0, 0])
    x = -(c_rv - c_lv)
    x[2] = 0.0
    x = x / max(np.linalg.norm(x), 1e-6)
    y = np.cross(z, x)
    base_k = ks.max() if base_up else ks.min()
    base = c_lv.copy()
    base[2] = to_mm(np.array([0, 0, base_k]))[2]
    return np.stack([x, y, z], axis=1).astype(np.float32), base.astype(np.float32)


def _contract(ed: np.ndarray, spacing: np.ndarray, ef: float, rv_ef: float) -> np.ndarray:
    """End-systolic label map from an end-diastolic one (see the module docstring)."""
    es = ed.copy()
    nx, ny, _ = ed.shape
    ii, jj = np.meshgrid(np.arange(nx) * spacing[0], np.arange(ny) * spacing[1], indexing="ij")
    for k in np.unique(np.argwhere(ed == 1)[:, 2]):
        sl = ed[:, :, k]
        lv = np.argwhere((sl == 1) | (sl == 2))
        ci, cj = lv.mean(axis=0) * spacing[:2]
        di, dj = ii - ci, jj - cj
        r = np.sqrt(di**2 + dj**2)
        c = (sl == 1).sum() * spacing[0] * spacing[1] / np.pi * ef
        r_outer = r[(sl == 1) | (sl == 2)].max() + 3.0
        weight = np.clip((r_outer + 15.0 - r) / 15.0, 0.0, 1.0)
        r_src = r + weight * (np.sqrt(r**2 + c) - r)
        scale = np.where(r > 1e-6, r_src / np.maximum(r, 1e-6), 1.0)
        coords = np.stack([(ci + di * scale) / spacing[0], (cj + dj * scale) / spacing[1]])
        es[:, :, k] = ndimage.map_coordinates(sl, coords, order=0, mode="nearest")
        es[:, :, k][(r < 1e-6) & (sl == 1)] = 1
    rv_target = (ed == 3).sum() * (1.0 - rv_ef)
    depth = ndimage.distance_transform_edt(es > 0, sampling=spacing)
    rv = es == 3
    lo, hi = 0.0, float(depth[rv].max()) if rv.any() else 0.0
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if (rv & (depth >= mid)).sum() > rv_target else (lo, mid)
    es[rv & (depth < hi)] = 0
    return es


def _paint(labels: np.ndarray, local: np.ndarray, thorax, spacing: np.ndarray) -> np.ndarray:
    tissue = paint_thorax(local, thorax)
    heart = labels > 0
    fat = ndimage.distance_transform_edt(~heart, sampling=spacing) <= 2.5
    tissue[fat] = Tissue.FAT
    rv_wall = ndimage.distance_transform_edt(labels != 3, sampling=spacing) <= 3.0
    tissue[rv_wall & ~heart] = Tissue.MUSCLE
    tissue[heart] = labels[heart]
    return keep_largest_components(tissue)
