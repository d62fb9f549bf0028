"""Details of the parametric heart that real short-axis stacks show: papillary muscles and trabeculae in the
cavities, the LV outflow tract (the basal myocardial ring opens towards the aorta) and the RV outflow tract (the RV
rises above the LV base towards the pulmonary artery).

The cavities' muscle carries the blood pool's label (:data:`~custom_networks.data.tissues.TISSUE_LABELS`), as the
experts of ACDC, M&Ms and the UK Biobank draw it: a network must learn that dark spots inside a bright cavity are still
cavity. Everything is placed in the heart frame of :mod:`custom_networks.data.heart` (LV long axis ``+z``, base plane at
``z = 0`` at end diastole, septum towards ``-x``) and follows the phase's shape, so the details move with the heart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import ndtri

from custom_networks.data.heart import HeartShape, angular_distance, long_axis_profile, ventricle_region
from custom_networks.data.thorax import tube_mask
from custom_networks.data.tissues import Tissue

__all__ = ["CardiacDetails", "paint_cardiac_details", "sample_cardiac_details"]


@dataclass(frozen=True)
class CardiacDetails:
    """Draws of the cardiac details of one heart.

    Args:
        papillary: per papillary muscle: angle (radians, free wall at 0, septum at pi), radial position at its basal
            tip (fraction of the cavity radius), radius (mm).
        papillary_span: basal and apical ends of the muscles, as fractions of the LV length from the base.
        trabeculation: fraction of the endocardial layer taken by trabeculae (LV, RV).
        trabecular_depth: depth (mm) of the trabecular layer (LV, RV).
        trabecular_waves: per wave: angular frequency, phase, long-axis frequency (1/mm) of the trabecular pattern.
        lvot: angle (radians), half-width (radians) and depth below the base (mm) of the LV outflow tract.
        rvot: end point above the base (x, y, height) and radius (mm) of the RV outflow tract (diameter 20-28 mm).
    """

    papillary: tuple[tuple[float, float, float], ...]
    papillary_span: tuple[float, float]
    trabeculation: tuple[float, float]
    trabecular_depth: tuple[float, float]
    trabecular_waves: tuple[tuple[float, float, float], ...]
    lvot: tuple[float, float, float]
    rvot: tuple[float, float, float, float]

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def sample_cardiac_details(rng: np.random.Generator, shape: HeartShape) -> CardiacDetails:
    """Draw the details of a heart of end-diastolic ``shape``.

    Args:
        rng: random generator.
        shape: end-diastolic shape (the LV radius sets the papillary muscles' size).
    """
    u = rng.uniform
    papillary = (
        (float(np.radians(u(35, 70))), u(0.45, 0.65), u(0.12, 0.18) * shape.lv_a),  # anterolateral
        (float(-np.radians(u(35, 70))), u(0.45, 0.65), u(0.12, 0.18) * shape.lv_a),  # posteromedial
    )
    waves = tuple((float(rng.integers(5, 15)), u(0, 2 * np.pi), u(-0.05, 0.05)) for _ in range(6))
    return CardiacDetails(
        papillary=papillary,
        papillary_span=(u(0.15, 0.3), u(0.55, 0.75)),
        trabeculation=(u(0.15, 0.45), u(0.25, 0.55)),
        trabecular_depth=(u(1.5, 3.5), u(2.0, 4.0)),
        trabecular_waves=waves,
        lvot=(float(np.radians(u(-140, -105))), float(np.radians(u(25, 45))), u(6.0, 14.0)),
        rvot=(u(-40.0, -25.0), u(-35.0, -20.0), u(12.0, 25.0), u(10.0, 14.0)),
    )


def _pattern(theta: np.ndarray, z: np.ndarray, waves, density: float, offset: float = 0.0) -> np.ndarray:
    """Boolean trabecular pattern: mostly longitudinal streaks covering about ``density`` of the layer."""
    value = np.zeros_like(theta, dtype=np.float32)
    for k, phase, along in waves:
        value += np.sin(k * theta + phase + offset + along * z).astype(np.float32)
    # A sum of n sine waves of random phase is close to normal with variance n / 2.
    threshold = np.sqrt(len(waves) / 2.0) * ndtri(1.0 - density)
    return value > threshold


def paint_cardiac_details(
    tissue: np.ndarray, local: np.ndarray, shape: HeartShape, details: CardiacDetails
) -> np.ndarray:
    """Paint the details into a tissue map that holds the rasterised heart of ``shape`` (in place) and return it.

    Args:
        tissue: tissue map with the heart painted (:func:`~custom_networks.data.heart.rasterize_heart`).
        local: heart-frame coordinates (mm) of every voxel, ``(..., 3)``.
        shape: the heart's shape at the phase of ``tissue``.
        details: the heart's details.
    """
    base = np.float32(shape.base_offset)
    # Right ventricular outflow tract: from inside the RV near the base up to the pulmonary valve, painted first so
    # that the cavity details below also reach into it.
    rv_center = shape.rv_inner - shape.rv_a
    ex, ey, height, radius = details.rvot
    start = np.array([rv_center * 0.6, -0.35 * shape.rv_b, base - 12.0])
    end = np.array([ex, ey, base + height])
    length = float(np.linalg.norm(end - start))
    ventricle = np.isin(tissue, (Tissue.LV_BLOOD, Tissue.LV_MYO))
    outflow = tube_mask(local, start, end - start, radius, length) & ~ventricle
    wall = tube_mask(local, start, end - start, radius + 2.5, length) & ~ventricle & ~outflow
    wall &= local[..., 2] > base  # below the base the RV's own free wall is already there
    tissue[wall & (tissue != Tissue.RV_BLOOD)] = Tissue.MUSCLE
    tissue[outflow] = Tissue.RV_BLOOD

    cavity = np.nonzero((tissue == Tissue.LV_BLOOD) | (tissue == Tissue.RV_BLOOD) | (tissue == Tissue.LV_MYO))
    pts = local[cavity]
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2] - base
    values = tissue[cavity]
    theta = np.arctan2(y, x)
    lv_length = shape.lv_length
    s = -z / lv_length

    # LV outflow tract: the basal ring opens towards the aorta over the LVOT's sector.
    angle, half_width, depth = details.lvot
    sector = angular_distance(theta, angle) <= half_width
    values[(values == Tissue.LV_MYO) & sector & (z >= -depth)] = Tissue.LV_BLOOD

    # Papillary muscles: cylinders in the LV cavity that move outwards from their basal tip to the wall at their root.
    s0, s1 = details.papillary_span
    profile = long_axis_profile(s, shape.power)
    root = np.clip((s - s0) / max(s1 - s0, 1e-6), 0.0, 1.0)  # 0 at the basal tip, 1 at the root on the wall
    lv_blood = values == Tissue.LV_BLOOD
    for phi, frac, r in details.papillary:
        radial = (frac + (0.95 - frac) * root) * profile
        cx, cy = radial * shape.lv_a * np.cos(phi), radial * shape.lv_b * np.sin(phi)
        muscle = ((x - cx) ** 2 + (y - cy) ** 2 <= r**2) & (s >= s0) & (s <= s1)
        values[lv_blood & muscle] = Tissue.LV_PAPILLARY

    # Trabeculae: streaks in a thin layer along the endocardium, over the apical two thirds (LV) or all of the RV.
    lv_density, rv_density = details.trabeculation
    lv_depth, rv_depth = details.trabecular_depth
    lv = dict(a=shape.lv_a, b=shape.lv_b, length=lv_length, power=shape.power)
    deep_lv = ventricle_region(x, y, z, **lv, thickness=-lv_depth, apex_extra=-lv_depth)
    lv_layer = (values == Tissue.LV_BLOOD) & ~deep_lv & (s >= 0.33)
    values[lv_layer & _pattern(theta, z, details.trabecular_waves, lv_density)] = Tissue.LV_PAPILLARY
    deep_rv = ventricle_region(
        x - rv_center, y, z, shape.rv_a, shape.rv_b, shape.rv_length, shape.power, -rv_depth, -rv_depth
    )
    rv_layer = (values == Tissue.RV_BLOOD) & ~deep_rv & (z <= 0)
    rv_theta = np.arctan2(y, x - rv_center)
    values[rv_layer & _pattern(rv_theta, z, details.trabecular_waves, rv_density, offset=1.3)] = Tissue.RV_TRABECULAE
    tissue[cavity] = values
    return tissue
