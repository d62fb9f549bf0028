"""Surrounding tissue of the synthetic short-axis field of view: body wall, lungs, liver, atria and great vessels.

All shapes are placed relative to the heart (in the heart frame, mm) so that the anatomy stays coherent for any
heart pose; a smooth random displacement field is applied to the whole thorax so that no two subjects are alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from custom_networks.data.tissues import Tissue

__all__ = ["ThoraxParams", "paint_thorax", "sample_thorax_params", "smooth_displacement"]


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


def _ellipsoid(local: np.ndarray, spec: tuple[float, ...]) -> np.ndarray:
    (cx, cy, cz, rx, ry, rz) = (np.float32(v) for v in spec)
    return ((local[..., 0] - cx) / rx) ** 2 + ((local[..., 1] - cy) / ry) ** 2 + ((local[..., 2] - cz) / rz) ** 2 <= 1


def _tube(local: np.ndarray, start, direction, radius: float, length: float) -> np.ndarray:
    d = (np.asarray(direction, float) / np.linalg.norm(direction)).astype(np.float32)
    rx, ry, rz = (local[..., i] - np.float32(start[i]) for i in range(3))
    along = rx * d[0] + ry * d[1] + rz * d[2]
    perp2 = rx * rx + ry * ry + rz * rz - along * along
    return (perp2 <= radius**2) & (along >= 0) & (along <= length)


def paint_thorax(local: np.ndarray, params: ThoraxParams, base_z: float = 0.0) -> np.ndarray:
    """Tissue map of everything but the heart (which is painted on top afterwards).

    Args:
        local: heart-frame coordinates (mm) of every voxel, shape ``(..., 3)``; ED base plane at ``z = 0``.
        params: surrounding-anatomy draws.
        base_z: current base-plane height (the atria follow the base through the cycle).
    """
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
    tissue[_ellipsoid(local, params.liver)] = Tissue.LIVER
    tissue[_ellipsoid(local, params.lung_left) | _ellipsoid(local, params.lung_right)] = Tissue.LUNG
    # Descending aorta: behind the heart, running roughly along the body axis.
    desc = _tube(local, (15.0, 55.0, -150.0), (0.1, 0.05, 1.0), params.aorta_radius * 0.85, 400.0)
    tissue[desc] = Tissue.OTHER_BLOOD
    # Atria and great vessels above the base plane (bright blood that is not labelled).
    ra = params.atrium_radius
    la = _ellipsoid(local, (5.0, 18.0, base_z + ra * 0.8, ra * 1.1, ra, ra))
    rat = _ellipsoid(local, (-45.0, 5.0, base_z + ra * 0.8, ra, ra * 1.1, ra))
    aorta = _tube(local, (-5.0, -8.0, base_z - 2.0), (0.15, -0.25, 1.0), params.aorta_radius, 120.0)
    pulm = _tube(local, (-30.0, -25.0, base_z - 2.0), (0.35, 0.1, 1.0), params.aorta_radius * 0.9, 120.0)
    vessels = la | rat | aorta | pulm
    walls = ndimage.binary_dilation(vessels, iterations=1) & ~vessels
    tissue[walls] = Tissue.MUSCLE
    tissue[vessels] = Tissue.OTHER_BLOOD
    return tissue


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
