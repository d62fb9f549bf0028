"""Surrounding tissue of the synthetic short-axis field of view: body wall, lungs, liver, atria and great vessels; with
the detailed anatomy also the skeleton (spine with its canal, ribs, sternum), the paraspinal muscles, stomach, spleen,
arms and breasts, and the heart placed anteriorly in the chest as in real patients.

All shapes are placed relative to the heart (in the heart frame, mm) so that the anatomy stays coherent for any
heart pose; a smooth random displacement field is applied to the whole thorax so that no two subjects are alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import ndimage

from custom_networks.data.tissues import Tissue

__all__ = [
    "ThoraxDetails",
    "ThoraxParams",
    "ellipsoid_mask",
    "paint_thorax",
    "sample_thorax_details",
    "sample_thorax_params",
    "smooth_displacement",
    "tube_mask",
]


@dataclass(frozen=True)
class ThoraxParams:
    """Draws of the surrounding anatomy (heart frame, mm).

    Args:
        body_center: centre of the elliptic body cross-section.
        body_radii: body radii (x, y); outside is air.
        subcutaneous_fat: thickness of the fat layer under the skin.
        chest_wall: thickness of the chest-wall muscle layer.
        lung_left: centre (3) and radii (3) of the left lung ellipsoid.
        lung_right: centre (3) and radii (3) of the right lung ellipsoid.
        liver: centre (3) and radii (3) of the liver ellipsoid.
        aorta_radius: radius of the ascending and descending aorta.
        atrium_radius: radius of the atria above the base.
    """

    body_center: tuple[float, float]
    body_radii: tuple[float, float]
    subcutaneous_fat: float
    chest_wall: float
    lung_left: tuple[float, ...]
    lung_right: tuple[float, ...]
    liver: tuple[float, ...]
    aorta_radius: float
    atrium_radius: float

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def sample_thorax_params(rng: np.random.Generator, lv_radius: float) -> ThoraxParams:
    """Draw the surrounding anatomy for a heart whose LV basal radius is ``lv_radius`` (mm)."""
    u = rng.uniform
    return ThoraxParams(
        body_center=(u(-10, 10), u(-40, -20)),
        body_radii=(u(150, 180), u(105, 125)),
        subcutaneous_fat=u(6, 18),
        chest_wall=u(8, 14),
        lung_left=(lv_radius + u(45, 60), u(-5, 10), u(-10, 10), u(28, 38), u(50, 65), u(90, 110)),
        lung_right=(-lv_radius - u(75, 90), u(-5, 10), u(0, 20), u(25, 35), u(50, 65), u(90, 110)),
        liver=(u(-50, -30), u(0, 20), u(-95, -80), u(75, 90), u(55, 70), u(40, 50)),
        aorta_radius=u(11, 15),
        atrium_radius=u(17, 22),
    )


@dataclass(frozen=True)
class ThoraxDetails:
    """Draws of the detailed thorax (heart frame, mm; ``+y`` is posterior, ``+x`` the patient's left).

    Args:
        body_center_y: body centre along ``y``, behind the heart (replaces the basic draw: the heart lies anteriorly).
        lung_shift_y: posterior shift of both lungs.
        spine: centre x, centre y, vertebral-body radius, spinal-canal radius.
        rib_spacing: distance between ribs along the long axis.
        rib_phase: position of one rib along the long axis.
        rib_thickness: rib height along the long axis.
        rib_slope: rise of a rib along the long axis per mm towards the back.
        sternum: half-width and thickness.
        stomach: centre (3) and radii (3) of the stomach (contents inside a 4 mm wall).
        spleen: centre (3) and radii (3).
        arm_radius: radius of each arm (0: arms raised, outside the field of view).
        arm_gap: gap between the body and each arm.
        breast: radii (3) of each breast (empty: none).
        breast_offset: left-right offset and long-axis position of the breasts.
    """

    body_center_y: float
    lung_shift_y: float
    spine: tuple[float, float, float, float]
    rib_spacing: float
    rib_phase: float
    rib_thickness: float
    rib_slope: float
    sternum: tuple[float, float]
    stomach: tuple[float, ...]
    spleen: tuple[float, ...]
    arm_radius: float
    arm_gap: float
    breast: tuple[float, ...]
    breast_offset: tuple[float, float]

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def sample_thorax_details(rng: np.random.Generator, params: ThoraxParams, lv_radius: float) -> ThoraxDetails:
    """Draw the detailed thorax around the basic one (its body radii) for a heart of LV basal radius ``lv_radius``."""
    u = rng.uniform
    ry = params.body_radii[1]
    center_y = u(20.0, 45.0)
    bx = params.body_center[0]
    spine_r = u(15.0, 20.0)
    arms = rng.random() < 0.5
    breasts = rng.random() < 0.5
    return ThoraxDetails(
        body_center_y=center_y,
        lung_shift_y=u(10.0, 30.0),
        spine=(bx + u(-5, 5), center_y + ry - u(45.0, 60.0), spine_r, u(6.0, 9.0)),
        rib_spacing=u(22.0, 30.0),
        rib_phase=u(0.0, 30.0),
        rib_thickness=u(8.0, 12.0),
        rib_slope=u(0.2, 0.5),
        sternum=(u(12.0, 18.0), u(8.0, 12.0)),
        stomach=(lv_radius + u(15, 35), u(-10, 20), -u(90, 125), u(35, 50), u(30, 45), u(30, 45)),
        spleen=(lv_radius + u(45, 65), center_y + ry - u(60, 80), -u(80, 115), u(20, 30), u(35, 50), u(40, 55)),
        arm_radius=u(35.0, 50.0) if arms else 0.0,
        arm_gap=u(5.0, 30.0),
        breast=(u(50.0, 75.0), u(30.0, 60.0), u(50.0, 70.0)) if breasts else (),
        breast_offset=(u(60.0, 90.0), u(-90.0, -30.0)),
    )


def ellipsoid_mask(local: np.ndarray, spec: tuple[float, ...]) -> np.ndarray:
    """Inside test of an axis-aligned ellipsoid ``(cx, cy, cz, rx, ry, rz)`` for coordinates ``(..., 3)`` (mm)."""
    (cx, cy, cz, rx, ry, rz) = (np.float32(v) for v in spec)
    return ((local[..., 0] - cx) / rx) ** 2 + ((local[..., 1] - cy) / ry) ** 2 + ((local[..., 2] - cz) / rz) ** 2 <= 1


def tube_mask(local: np.ndarray, start, direction, radius: float, length: float) -> np.ndarray:
    """Inside test of a straight tube from ``start`` along ``direction`` (``radius``, ``length`` in mm)."""
    d = (np.asarray(direction, float) / np.linalg.norm(direction)).astype(np.float32)
    rx, ry, rz = (local[..., i] - np.float32(start[i]) for i in range(3))
    along = rx * d[0] + ry * d[1] + rz * d[2]
    perp2 = rx * rx + ry * ry + rz * rz - along * along
    return (perp2 <= radius**2) & (along >= 0) & (along <= length)


def paint_thorax(
    local: np.ndarray, params: ThoraxParams, base_z: float = 0.0, details: ThoraxDetails | None = None
) -> np.ndarray:
    """Tissue map of everything but the heart (which is painted on top afterwards).

    Args:
        local: heart-frame coordinates (mm) of every voxel, shape ``(..., 3)``; ED base plane at ``z = 0``.
        params: surrounding-anatomy draws.
        base_z: current base-plane height (the atria follow the base through the cycle).
        details: the detailed thorax (``None``: the basic one).
    """
    if details is not None:
        shift = details.lung_shift_y
        params = replace(
            params,
            body_center=(params.body_center[0], details.body_center_y),
            lung_left=(params.lung_left[0], params.lung_left[1] + shift, *params.lung_left[2:]),
            lung_right=(params.lung_right[0], params.lung_right[1] + shift, *params.lung_right[2:]),
        )
    x, y = local[..., 0], local[..., 1]
    bx, by = params.body_center
    rx, ry = params.body_radii
    body = ((x - bx) / rx) ** 2 + ((y - by) / ry) ** 2
    tissue = np.full(local.shape[:-1], Tissue.AIR, dtype=np.uint8)
    tissue[body <= 1.0] = Tissue.FAT
    inner_fat = ((x - bx) / (rx - params.subcutaneous_fat)) ** 2 + ((y - by) / (ry - params.subcutaneous_fat)) ** 2
    tissue[inner_fat <= 1.0] = Tissue.MUSCLE
    wall = params.subcutaneous_fat + params.chest_wall
    tissue[((x - bx) / (rx - wall)) ** 2 + ((y - by) / (ry - wall)) ** 2 <= 1.0] = Tissue.SOFT
    tissue[ellipsoid_mask(local, params.liver)] = Tissue.LIVER
    if details is not None:
        _paint_abdomen(tissue, local, details)
    tissue[ellipsoid_mask(local, params.lung_left) | ellipsoid_mask(local, params.lung_right)] = Tissue.LUNG
    if details is not None:
        _paint_skeleton(tissue, local, params, details)
    # Descending aorta: behind the heart, running roughly along the body axis.
    desc = tube_mask(local, (15.0, 55.0, -150.0), (0.1, 0.05, 1.0), params.aorta_radius * 0.85, 400.0)
    tissue[desc] = Tissue.OTHER_BLOOD
    # Atria and great vessels above the base plane (bright blood that is not labelled).
    ra = params.atrium_radius
    la = ellipsoid_mask(local, (5.0, 18.0, base_z + ra * 0.8, ra * 1.1, ra, ra))
    rat = ellipsoid_mask(local, (-45.0, 5.0, base_z + ra * 0.8, ra, ra * 1.1, ra))
    aorta = tube_mask(local, (-5.0, -8.0, base_z - 2.0), (0.15, -0.25, 1.0), params.aorta_radius, 120.0)
    pulm = tube_mask(local, (-30.0, -25.0, base_z - 2.0), (0.35, 0.1, 1.0), params.aorta_radius * 0.9, 120.0)
    vessels = la | rat | aorta | pulm
    walls = ndimage.binary_dilation(vessels, iterations=1) & ~vessels
    tissue[walls] = Tissue.MUSCLE
    tissue[vessels] = Tissue.OTHER_BLOOD
    if details is not None:
        _paint_limbs_and_breasts(tissue, local, params, details)
    return tissue


def _shelled(tissue: np.ndarray, outer: np.ndarray, inner: np.ndarray, shell: int, core: int) -> None:
    """Paint ``outer`` as ``shell`` and its ``inner`` part as ``core`` (in place)."""
    tissue[outer] = shell
    tissue[outer & inner] = core


def _paint_abdomen(tissue: np.ndarray, local: np.ndarray, details: ThoraxDetails) -> None:
    """Stomach (contents inside a muscular wall) and spleen, under the diaphragm on the left."""
    sx, sy, sz, srx, sry, srz = details.stomach
    outer = ellipsoid_mask(local, details.stomach)
    inner = ellipsoid_mask(local, (sx, sy, sz, srx - 4.0, sry - 4.0, srz - 4.0))
    _shelled(tissue, outer, inner, Tissue.MUSCLE, Tissue.STOMACH)
    tissue[ellipsoid_mask(local, details.spleen)] = Tissue.SPLEEN


def _paint_skeleton(tissue: np.ndarray, local: np.ndarray, params: ThoraxParams, details: ThoraxDetails) -> None:
    """Ribs along the body wall, sternum, spine (vertebral body, canal, lamina) and the paraspinal muscles."""
    x, y, z = local[..., 0], local[..., 1], local[..., 2]
    bx, by = params.body_center
    rx, ry = params.body_radii
    # Ribs: bands just inside the chest-wall muscle, one every rib_spacing along the long axis, rising towards the back.
    depth = params.subcutaneous_fat + 0.5 * params.chest_wall
    rho = np.sqrt(((x - bx) / (rx - depth)) ** 2 + ((y - by) / (ry - depth)) ** 2)
    band = np.abs(rho - 1.0) * (min(rx, ry) - depth)
    along = np.mod(z - details.rib_slope * (y - by) - details.rib_phase, details.rib_spacing)
    along = np.minimum(along, details.rib_spacing - along)
    half = details.rib_thickness / 2
    cartilage = (np.abs(x - bx) < 25.0) & (y < by)
    rib = (band <= 5.0) & (along <= half) & ~cartilage
    _shelled(tissue, rib, (band <= 3.0) & (along <= half - 2.0), Tissue.CORTEX, Tissue.BONE)
    # Sternum: anterior midline, inside the chest-wall muscle.
    half_width, thickness = details.sternum
    sy = by - ry + params.subcutaneous_fat + params.chest_wall / 2
    sternum = (np.abs(x - bx) <= half_width) & (np.abs(y - sy) <= thickness / 2)
    _shelled(
        tissue,
        sternum,
        (np.abs(x - bx) <= half_width - 2) & (np.abs(y - sy) <= thickness / 2 - 2),
        Tissue.CORTEX,
        Tissue.BONE,
    )
    # Spine: vertebral body, spinal canal (CSF in a bony ring) behind it, paraspinal muscles either side.
    cx, cy, body_r, canal_r = details.spine
    canal_y = cy + body_r + canal_r + 2.0
    inside = tissue != Tissue.AIR
    for side in (-1.0, 1.0):
        muscle = ((x - cx - side * (canal_r + 22.0)) / 22.0) ** 2 + ((y - canal_y - 8.0) / 20.0) ** 2 <= 1.0
        tissue[muscle & inside] = Tissue.MUSCLE
    vertebra = ((x - cx) / body_r) ** 2 + ((y - cy) / (0.85 * body_r)) ** 2
    _shelled(tissue, vertebra <= 1.0, vertebra <= ((body_r - 2.0) / body_r) ** 2, Tissue.CORTEX, Tissue.BONE)
    canal = (x - cx) ** 2 + (y - canal_y) ** 2
    _shelled(tissue, canal <= (canal_r + 3.0) ** 2, canal <= canal_r**2, Tissue.CORTEX, Tissue.FLUID)


def _paint_limbs_and_breasts(
    tissue: np.ndarray, local: np.ndarray, params: ThoraxParams, details: ThoraxDetails
) -> None:
    """Arms beside the body (skin fat, muscle, humerus) and breasts in front of it, where there is air."""
    x, y = local[..., 0], local[..., 1]
    bx, by = params.body_center
    rx, ry = params.body_radii
    air = tissue == Tissue.AIR
    if details.arm_radius > 0:
        r = details.arm_radius
        for side in (-1.0, 1.0):
            d2 = (x - bx - side * (rx + details.arm_gap + r)) ** 2 + (y - by) ** 2
            arm = air & (d2 <= r**2)
            tissue[arm] = Tissue.FAT
            tissue[arm & (d2 <= (r - 7.0) ** 2)] = Tissue.MUSCLE
            _shelled(tissue, arm & (d2 <= 12.0**2), arm & (d2 <= 9.0**2), Tissue.CORTEX, Tissue.BONE)
    if details.breast:
        brx, bry, brz = details.breast
        offset, bz = details.breast_offset
        for side in (-1.0, 1.0):
            centre = (bx + side * offset, by - ry, bz)
            breast = air & ellipsoid_mask(local, (*centre, brx, bry, brz))
            tissue[breast] = Tissue.FAT
            tissue[breast & ellipsoid_mask(local, (*centre, 0.6 * brx, 0.6 * bry, 0.6 * brz))] = Tissue.BREAST


def smooth_displacement(
    rng: np.random.Generator, shape: tuple[int, int, int], amplitude_mm: float, control_points: int = 5
) -> np.ndarray:
    """Smooth random displacement field ``(*shape, 3)`` in mm: Gaussian control-point grid, cubic up-sampling.

    Args:
        rng: random generator.
        shape: grid shape.
        amplitude_mm: standard deviation of the control-point displacements.
        control_points: control points per axis (fewer = smoother).
    """
    coarse = rng.normal(0.0, amplitude_mm, size=(3, control_points, control_points, control_points))
    # Cubic-spline up-sampling is separable: build one (n, control_points) interpolation matrix per axis
    # by up-sampling the identity, then contract (much faster than a 3D zoom of every component).
    eye = np.eye(control_points)
    mats = [
        ndimage.zoom(eye, (n / control_points, 1), order=3, mode="nearest", grid_mode=True)[:n].astype(np.float32)
        for n in shape
    ]
    field = np.einsum("cabd,ia,jb,kd->ijkc", coarse.astype(np.float32), *mats, optimize=True)
    return np.ascontiguousarray(field, dtype=np.float32)
