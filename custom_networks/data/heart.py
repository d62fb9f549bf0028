"""Parametric bi-ventricular heart: shape parameters, end-systolic contraction and rasterisation.

The heart is described in its own frame (millimetres): the LV long axis is ``+z`` (apex at ``z = -L``, the
truncated base at ``z = 0``), the septum points towards ``-x``. The LV endocardium is a blunt prolate
"super-ellipsoid" ``(x/a)^2 + (y/b)^2 <= R(s)^2`` with ``R(s) = (1 - s^p)^(1/p)``, ``s = -z/L``; the epicardium
has the same form with radii grown by an angle-dependent wall thickness (thicker at the septum). The RV
blood pool is an ellipsoid on the septal side, minus the LV; its free wall is a thin muscle shell.

Phenotypes (:data:`PHENOTYPES`, the groups of the ACDC cohort) change the ranges drawn from: dilated (large,
thin-walled, poorly ejecting LV), hypertrophic (thick walls, small cavity), infarct (a thinned, akinetic wall sector)
and dilated RV.

End systole keeps the apex fixed, shortens the long axis, shrinks the cavity to ``EDV * (1 - EF)`` and
thickens the wall so that the myocardial volume is the same as at end diastole (incompressible myocardium).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy.optimize import brentq

from custom_networks.core.errors import InputError
from custom_networks.data.tissues import Tissue

__all__ = [
    "PHENOTYPES",
    "PHYSIOLOGY_RANGES",
    "HeartParams",
    "HeartShape",
    "Phenotype",
    "angular_distance",
    "long_axis_profile",
    "lv_volumes_ml",
    "rasterize_heart",
    "sample_heart_params",
    "ventricle_region",
]

# Adult-like ranges the sampler draws from (documented in the README "Data engine" section).
EDV_RANGE_ML = (105.0, 185.0)
EF_RANGE = (0.50, 0.70)
RV_EF_RANGE = (0.45, 0.62)

#: Ranges that the clinical indices of generated hearts (measured on the voxelised labels, after the random
#: deformation) lie in: adult-like by default. Stated in the README and checked by the tests.
PHYSIOLOGY_RANGES = {
    "LVEDV_ml": (100.0, 210.0),
    "LVESV_ml": (30.0, 105.0),
    "LVEF": (0.45, 0.72),
    "LVM_g": (75.0, 170.0),
    "RVEDV_ml": (100.0, 240.0),
    "RVEF": (0.40, 0.67),
}


@dataclass(frozen=True)
class Phenotype:
    """Ranges one heart phenotype is drawn from (uniform within each).

    Args:
        edv_ml: LV end-diastolic volume (before the fit into the grid).
        ef: LV ejection fraction.
        wall_free: LV free-wall thickness (mm).
        septal_excess: septal minus free-wall thickness (mm).
        max_septum: largest septal thickness (mm).
        rv_ratio: RV / LV end-diastolic volume.
        rv_ef: RV ejection fraction.
        infarct_wall: thickness (mm) of a thinned, akinetic wall sector (``None``: no infarct).
        infarct_width_deg: angular width of that sector (degrees).
    """

    edv_ml: tuple[float, float] = EDV_RANGE_ML
    ef: tuple[float, float] = EF_RANGE
    wall_free: tuple[float, float] = (6.0, 8.5)
    septal_excess: tuple[float, float] = (1.0, 3.0)
    max_septum: float = 12.0
    rv_ratio: tuple[float, float] = (1.0, 1.25)
    rv_ef: tuple[float, float] = RV_EF_RANGE
    infarct_wall: tuple[float, float] | None = None
    infarct_width_deg: tuple[float, float] = (60.0, 120.0)


#: The phenotypes :func:`sample_heart_params` draws (ACDC's groups: NOR, DCM, HCM, MINF, ARV).
PHENOTYPES = {
    "normal": Phenotype(),
    "dilated": Phenotype(
        edv_ml=(220.0, 330.0),
        ef=(0.12, 0.40),
        wall_free=(4.5, 6.5),
        septal_excess=(0.0, 1.5),
        rv_ratio=(0.8, 1.1),
        rv_ef=(0.30, 0.50),
    ),
    "hypertrophic": Phenotype(
        edv_ml=(80.0, 140.0),
        ef=(0.62, 0.80),
        wall_free=(10.0, 15.0),
        septal_excess=(2.0, 8.0),
        max_septum=24.0,
        rv_ratio=(0.9, 1.2),
        rv_ef=(0.50, 0.65),
    ),
    "infarct": Phenotype(edv_ml=(150.0, 260.0), ef=(0.25, 0.45), infarct_wall=(2.5, 4.5)),
    "dilated_rv": Phenotype(edv_ml=(100.0, 170.0), ef=(0.50, 0.65), rv_ratio=(1.6, 2.3), rv_ef=(0.25, 0.45)),
}


@dataclass(frozen=True)
class HeartShape:
    """Shape of the heart at one cardiac phase, in the heart frame (mm).

    Args:
        lv_a: LV endocardial radius along x at the base.
        lv_b: LV endocardial radius along y at the base.
        lv_length: base-to-endocardial-apex distance.
        power: bluntness ``p`` of the long-axis profile (2 = ellipsoid, larger = more cylindrical).
        wall_free: LV free-wall thickness.
        wall_septum: LV septal wall thickness.
        wall_apex: LV apical wall thickness.
        rv_inner: x position of the RV ellipsoid's septal-side edge (kept fixed through the cycle).
        rv_a: RV ellipsoid radius along x.
        rv_b: RV ellipsoid radius along y.
        rv_length: base-to-RV-apex distance.
        rv_wall: RV free-wall thickness.
        base_offset: shift of the base plane along the long axis relative to end diastole (negative at ES).
        infarct_angle: centre (radians, septum at pi) of a thinned wall sector.
        infarct_width: angular width (radians) of that sector; 0: no thinned sector.
        infarct_wall: wall thickness (mm) inside the sector (kept at end systole: the scar does not thicken).
    """

    lv_a: float
    lv_b: float
    lv_length: float
    power: float
    wall_free: float
    wall_septum: float
    wall_apex: float
    rv_inner: float
    rv_a: float
    rv_b: float
    rv_length: float
    rv_wall: float
    base_offset: float = 0.0
    infarct_angle: float = 0.0
    infarct_width: float = 0.0
    infarct_wall: float = 0.0


@dataclass(frozen=True)
class HeartParams:
    """Everything drawn for one parametric heart (recorded in the dataset manifest).

    Args:
        ed: end-diastolic shape.
        es: end-systolic shape.
        ef_target: LV ejection fraction the ES shape was solved for.
        epicardial_fat: thickness (mm) of the fat layer around the heart.
        base_center: position (grid mm, relative to the grid centre) of the LV base-plane centre at ED.
        tilt_deg: tilt of the long axis away from the slice axis (about x, about y), degrees.
        rotation_deg: in-plane rotation of the heart about the slice axis, degrees.
        phenotype: name of the :data:`PHENOTYPES` entry the heart was drawn from.
    """

    ed: HeartShape
    es: HeartShape
    ef_target: float
    epicardial_fat: float
    base_center: tuple[float, float, float]
    tilt_deg: tuple[float, float]
    rotation_deg: float
    phenotype: str = "normal"

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)

    def shape(self, phase: str) -> HeartShape:
        """Shape at ``"ED"`` or ``"ES"``."""
        return {"ED": self.ed, "ES": self.es}[phase.upper()]

    def frame(self) -> np.ndarray:
        """3x3 rotation whose columns are the heart frame's axes in grid coordinates."""
        from custom_networks.core.geometry import rotation_matrix

        return rotation_matrix((self.tilt_deg[0], self.tilt_deg[1], self.rotation_deg))


def angular_distance(theta: np.ndarray, centre: float) -> np.ndarray:
    """Absolute angle (radians, 0 to pi) between directions ``theta`` and ``centre``, across the +-pi seam."""
    return np.abs(np.angle(np.exp(1j * (np.asarray(theta) - centre))))


def long_axis_profile(s: np.ndarray, power: float) -> np.ndarray:
    """Long-axis radius profile ``R(s)`` for ``s`` in [0, 1] (0 at the base, 1 at the apex); 0 outside."""
    s = np.clip(s, 0.0, 1.0)
    return np.power(np.clip(1.0 - np.power(s, power), 0.0, None), 1.0 / power)


def _wall(theta: np.ndarray, shape: HeartShape, scale: float = 1.0) -> np.ndarray:
    """Angle-dependent LV wall thickness (septum at ``theta = pi``), thinned smoothly over an infarct sector."""
    septal = np.clip(-np.cos(theta), 0.0, None) ** 2
    wall = scale * (shape.wall_free + (shape.wall_septum - shape.wall_free) * septal)
    if shape.infarct_width > 0:
        distance = angular_distance(theta, shape.infarct_angle)
        # 1 inside the sector, a cosine taper over 15 degrees at its edges, 0 outside.
        taper = np.radians(15.0)
        weight = np.clip((shape.infarct_width / 2 + taper - distance) / taper, 0.0, 1.0)
        weight = 0.5 - 0.5 * np.cos(np.pi * weight)
        wall = wall * (1.0 - weight) + shape.infarct_wall * weight
    return wall


def ventricle_region(x, y, z, a, b, length, power, thickness=0.0, apex_extra=0.0) -> np.ndarray:
    """Inside test of an LV-like truncated super-ellipsoid grown by ``thickness`` (array or scalar; negative shrinks).

    Args:
        x: heart-frame x (mm) of the points, relative to the ventricle's axis.
        y: heart-frame y (mm).
        z: heart-frame z (mm), base plane at 0.
        a: radius along x at the base.
        b: radius along y at the base.
        length: base-to-apex distance.
        power: bluntness of the long-axis profile.
        thickness: growth of both radii.
        apex_extra: growth of the length beyond the apex.
    """
    total = length + apex_extra
    s = -z / total
    radius = long_axis_profile(s, power)
    aa, bb = a + thickness, b + thickness
    inside = (x / aa) ** 2 + (y / bb) ** 2 <= radius**2
    return inside & (z <= 0.0) & (z >= -total)


def _cross_section_area(a: np.ndarray, b: np.ndarray, radius: float) -> float:
    """Area of ``{(x/a(theta))^2 + (y/b(theta))^2 <= radius^2}`` for radii sampled on a regular theta grid."""
    theta = np.linspace(0, 2 * np.pi, a.size, endpoint=False)
    r2 = radius**2 / (np.cos(theta) ** 2 / a**2 + np.sin(theta) ** 2 / b**2)
    return 0.5 * float(np.mean(r2)) * 2 * np.pi


def lv_volumes_ml(shape: HeartShape, wall_scale: float = 1.0, n: int = 256) -> tuple[float, float]:
    """Analytic-numeric LV cavity and epicardial volumes (mL) of a shape (wall thickness scaled by ``wall_scale``)."""
    theta = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    t = _wall(theta, shape, wall_scale)
    zs_endo = (np.arange(n) + 0.5) / n
    endo = np.pi * shape.lv_a * shape.lv_b * np.mean(long_axis_profile(zs_endo, shape.power) ** 2) * shape.lv_length
    epi_len = shape.lv_length + wall_scale * shape.wall_apex
    areas = [_cross_section_area(shape.lv_a + t, shape.lv_b + t, r) for r in long_axis_profile(zs_endo, shape.power)]
    epi = float(np.mean(areas)) * epi_len
    return endo / 1000.0, epi / 1000.0


def rv_volume_ml(shape: HeartShape, step: float = 2.0) -> float:
    """RV blood-pool volume (mL) of a shape, by rasterising its bounding box on a coarse grid in the heart frame."""
    half_y = max(shape.rv_b, shape.lv_b + shape.wall_free) + shape.rv_wall + step
    xs = np.arange(shape.rv_inner - 2 * shape.rv_a - step, shape.lv_a + shape.wall_free, step, dtype=np.float32)
    ys = np.arange(-half_y, half_y, step, dtype=np.float32)
    zs = np.arange(-(shape.rv_length + step), 0.0, step, dtype=np.float32) + shape.base_offset
    local = np.stack(np.meshgrid(xs, ys, zs, indexing="ij"), axis=-1)
    tissue = rasterize_heart(np.zeros(local.shape[:-1], np.uint8), local, shape, fat=0.0)
    return float((tissue == Tissue.RV_BLOOD).sum()) * step**3 / 1000.0


def _solve_es(ed: HeartShape, ef: float, long_shortening: float, rv_ef: float) -> HeartShape:
    """ES shape: cavity ``EDV (1 - EF)``, long axis shortened (apex fixed), myocardial volume preserved; the RV
    free wall moves towards the septum until the RV ejects ``rv_ef`` of its volume."""
    edv, ed_epi = lv_volumes_ml(ed)
    myo = ed_epi - edv
    l_es = ed.lv_length * (1.0 - long_shortening)
    radial = np.sqrt((1.0 - ef) / (1.0 - long_shortening))
    es = replace(ed, lv_a=ed.lv_a * radial, lv_b=ed.lv_b * radial, lv_length=l_es)

    def myo_error(k: float) -> float:
        endo, epi = lv_volumes_ml(es, wall_scale=k)
        return (epi - endo) - myo

    k = brentq(myo_error, 0.5, 4.0, xtol=1e-4)
    es = replace(
        es,
        wall_free=ed.wall_free * k,
        wall_septum=ed.wall_septum * k,
        wall_apex=ed.wall_apex * k,
        rv_length=ed.rv_length * (1.0 - long_shortening),
        base_offset=-(ed.lv_length - l_es),
    )
    rv_target = rv_volume_ml(ed) * (1.0 - rv_ef)

    def rv_error(scale: float) -> float:
        return rv_volume_ml(replace(es, rv_a=ed.rv_a * scale, rv_b=ed.rv_b * (0.5 + 0.5 * scale))) - rv_target

    scale = brentq(rv_error, 0.2, 1.2, xtol=1e-3) if rv_error(0.2) < 0 < rv_error(1.2) else 0.7
    return replace(es, rv_a=ed.rv_a * scale, rv_b=ed.rv_b * (0.5 + 0.5 * scale))


#: Shortest through-plane extent (mm) of an HR grid that holds the heart model with its atria.
MIN_THROUGH_PLANE_MM = 80.0


def sample_heart_params(
    rng: np.random.Generator, grid_extent_mm: tuple[float, float, float], phenotype: str = "normal"
) -> HeartParams:
    """Draw an adult heart of a phenotype that fits in a grid of the given extent (mm).

    Args:
        rng: random generator (the only source of randomness).
        grid_extent_mm: physical size of the HR grid along x, y, z.
        phenotype: a :data:`PHENOTYPES` name. ``"normal"`` draws exactly what earlier versions drew for a seed.
    """
    if phenotype not in PHENOTYPES:
        raise ValueError(f"unknown heart phenotype {phenotype!r}; choose from {sorted(PHENOTYPES)}")
    kind = PHENOTYPES[phenotype]
    too_short = InputError(
        f"HR grid {grid_extent_mm[2]:.0f} mm through-plane: too short for an adult heart and its atria (at least "
        f"{MIN_THROUGH_PLANE_MM:.0f} mm, e.g. hr_shape [128, 128, 64] at 2 mm)"
    )
    if grid_extent_mm[2] < MIN_THROUGH_PLANE_MM:
        raise too_short
    edv = rng.uniform(*kind.edv_ml)
    ef = rng.uniform(*kind.ef)
    power = rng.uniform(2.0, 3.0)
    ecc = rng.uniform(0.85, 1.0)
    ratio = rng.uniform(2.4, 2.9)
    unit = HeartShape(1.0, ecc, ratio, power, 0, 0, 0, 0, 0, 0, 0, 0)
    a = (edv / lv_volumes_ml(unit)[0]) ** (1.0 / 3.0)
    # Keep the heart (plus ~20 mm of atria above the base) inside the grid's through-plane extent.
    max_len = grid_extent_mm[2] - 30.0
    if a * ratio + 8.0 > max_len:
        a = (max_len - 8.0) / ratio
    wall_free = rng.uniform(*kind.wall_free)
    wall_septum = min(wall_free + rng.uniform(*kind.septal_excess), kind.max_septum)
    rv_a = a * rng.uniform(0.9, 1.2)
    ed = HeartShape(
        lv_a=a,
        lv_b=a * ecc,
        lv_length=a * ratio,
        power=power,
        wall_free=wall_free,
        wall_septum=wall_septum,
        wall_apex=rng.uniform(4.5, 6.5),
        rv_inner=-(a + wall_septum) + 2.0 * rv_a - rng.uniform(0.35, 0.55) * a,
        rv_a=rv_a,
        rv_b=(a * ecc + wall_free) * rng.uniform(1.2, 1.45),
        rv_length=a * ratio * rng.uniform(0.75, 0.9),
        rv_wall=rng.uniform(2.5, 4.0),
    )
    # Grow the RV free wall until the RV end-diastolic volume is the phenotype's multiple of the LV's.
    rv_edv = edv * rng.uniform(*kind.rv_ratio)

    def rv_error(g: float) -> float:
        return rv_volume_ml(replace(ed, rv_a=ed.rv_a * g)) - rv_edv

    lo, hi = (0.5, 3.0) if rv_error(0.5) < 0 < rv_error(3.0) else (0.2, 6.0)
    try:
        ed = replace(ed, rv_a=ed.rv_a * brentq(rv_error, lo, hi, xtol=1e-3))
    except ValueError as err:  # no RV of that volume fits the shrunken heart
        raise too_short from err
    long_shortening = rng.uniform(0.08, 0.15)
    rv_ef = rng.uniform(*kind.rv_ef)
    if kind.infarct_wall is not None:
        # A thinned sector of the free or inferior wall (an infarct spares the septum less often), akinetic.
        ed = replace(
            ed,
            infarct_angle=float(rng.uniform(-0.6 * np.pi, 0.6 * np.pi)),
            infarct_width=float(np.radians(rng.uniform(*kind.infarct_width_deg))),
            infarct_wall=float(rng.uniform(*kind.infarct_wall)),
        )
    es = _solve_es(ed, ef, long_shortening, rv_ef)
    total = ed.lv_length + ed.wall_apex
    half_z = grid_extent_mm[2] / 2.0
    base_z = float(np.clip(half_z - 30.0 + rng.uniform(-4.0, 4.0), -half_z + total + 2.0, half_z - 20.0))
    base_center = (rng.uniform(4.0, 16.0), rng.uniform(-8.0, 8.0), base_z)
    return HeartParams(
        ed=ed,
        es=es,
        ef_target=float(ef),
        epicardial_fat=float(rng.uniform(1.0, 3.5)),
        base_center=tuple(float(v) for v in base_center),
        tilt_deg=(float(rng.uniform(-10, 10)), float(rng.uniform(-10, 10))),
        rotation_deg=float(rng.uniform(-25, 25)),
        phenotype=phenotype,
    )


def rasterize_heart(tissue: np.ndarray, local: np.ndarray, shape: HeartShape, fat: float) -> np.ndarray:
    """Paint the heart into a tissue map (in place) and return it.

    Args:
        tissue: tissue-class array to paint into (same spatial shape as ``local``).
        local: heart-frame coordinates (mm) of every voxel, shape ``(..., 3)``, ED base plane at ``z = 0``.
        shape: heart shape at the phase being painted.
        fat: epicardial fat thickness (mm).
    """
    # Only voxels inside the heart's bounding box (heart frame) can change: test those alone.
    margin = shape.rv_wall + fat + 1.0
    half_y = max(shape.rv_b, shape.lv_b + shape.wall_septum) + margin
    lo = np.array([shape.rv_inner - 2 * shape.rv_a - margin, -half_y, -(shape.lv_length + shape.wall_apex + margin)])
    hi = np.array([shape.lv_a + shape.wall_septum + margin, half_y, 0.5])
    lo[2] += shape.base_offset
    hi[2] += shape.base_offset
    box = np.ones(local.shape[:-1], dtype=bool)
    for axis in range(3):
        comp = local[..., axis]
        box &= (comp >= np.float32(lo[axis])) & (comp <= np.float32(hi[axis]))
    pts = local[box]
    x, y = pts[:, 0], pts[:, 1]
    z = pts[:, 2] - np.float32(shape.base_offset)
    theta = np.arctan2(y, x)
    wall = _wall(theta, shape).astype(np.float32)
    lv = dict(a=shape.lv_a, b=shape.lv_b, length=shape.lv_length, power=shape.power)
    rv_center = shape.rv_inner - shape.rv_a
    rv_len = shape.rv_length

    def rv_region(margin: float) -> np.ndarray:
        return ventricle_region(x - rv_center, y, z, shape.rv_a, shape.rv_b, rv_len, shape.power, margin, margin)

    epi = ventricle_region(x, y, z, **lv, thickness=wall, apex_extra=shape.wall_apex)
    rv_outer = rv_region(shape.rv_wall)
    fat_region = rv_region(shape.rv_wall + fat) | ventricle_region(
        x, y, z, **lv, thickness=wall + fat, apex_extra=shape.wall_apex + fat
    )
    sub = tissue[box]
    sub[fat_region] = Tissue.FAT
    sub[rv_outer] = Tissue.MUSCLE
    sub[rv_region(0.0) & ~epi] = Tissue.RV_BLOOD
    sub[epi] = Tissue.LV_MYO
    sub[ventricle_region(x, y, z, **lv)] = Tissue.LV_BLOOD
    tissue[box] = sub
    return tissue
