"""The detailed thorax: skeleton, abdomen, arms and breasts are painted where they belong, around an anterior heart."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from custom_networks.data.heart import rasterize_heart, sample_heart_params
from custom_networks.data.thorax import paint_thorax, sample_thorax_details, sample_thorax_params
from custom_networks.data.tissues import Tissue

STEP = 2.0


def _heart_frame_grid(z_range: tuple[float, float] = (-160, 60)) -> np.ndarray:
    """Voxel centres (mm) of a 2 mm grid over a whole chest, in the heart frame (``+y`` posterior, ``+z`` base)."""
    axes = (np.arange(-260, 260, STEP), np.arange(-200, 240, STEP), np.arange(*z_range, STEP))
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).astype(np.float32)


def _draw(seed: int):
    rng = np.random.default_rng(seed)
    heart = sample_heart_params(rng, (360.0, 360.0, 200.0))
    thorax = sample_thorax_params(rng, heart.ed.lv_a)
    return heart, thorax, sample_thorax_details(rng, thorax, heart.ed.lv_a)


@pytest.fixture(scope="module")
def grid():
    return _heart_frame_grid()


def test_thorax_classes_are_present_and_placed(grid):
    heart, thorax, details = _draw(0)
    tissue = paint_thorax(grid, thorax, details=details)
    tissue = rasterize_heart(tissue, grid, heart.ed, heart.epicardial_fat)
    counts = {t: int((tissue == t).sum()) * STEP**3 / 1000 for t in Tissue}  # mL
    for t in (Tissue.BONE, Tissue.CORTEX, Tissue.FLUID, Tissue.STOMACH, Tissue.SPLEEN, Tissue.LUNG, Tissue.LIVER):
        assert counts[t] > 5, t.name
    x, y = grid[..., 0], grid[..., 1]
    # The spine (its marrow) lies behind the heart, in the midline of the body.
    spine = (tissue == Tissue.BONE) & (np.abs(x - details.spine[0]) < details.spine[2])
    heart_y = y[tissue == Tissue.LV_BLOOD].mean()
    assert np.median(y[spine]) > heart_y + 60
    # The heart lies anteriorly: closer to the front of the body than to its back.
    body = tissue != Tissue.AIR
    row = body & (np.abs(x - thorax.body_center[0]) < 5) & (np.abs(grid[..., 2] + 30) < 5)
    assert heart_y - y[row].min() < y[row].max() - heart_y
    # The CSF of the spinal canal is surrounded by bone (cortex), behind the vertebral body.
    assert y[tissue == Tissue.FLUID].mean() > details.spine[1]


def test_arms_and_breasts_only_replace_air():
    grid = _heart_frame_grid((-50, -30))  # a slab at the level of the breasts
    found = {"arms": False, "breasts": False}
    for seed in range(12):
        heart, thorax, details = _draw(seed)
        plain = paint_thorax(grid, thorax, details=replace(details, arm_radius=0.0, breast=()))
        full = paint_thorax(grid, thorax, details=details)
        changed = plain != full
        if details.arm_radius > 0 or details.breast:
            assert changed.any()
            assert set(np.unique(plain[changed]).tolist()) == {Tissue.AIR}
        else:
            assert not changed.any()
        found["arms"] |= details.arm_radius > 0 and bool(((full == Tissue.BONE) & changed).any())
        found["breasts"] |= bool((full == Tissue.BREAST).any())
    assert found == {"arms": True, "breasts": True}  # both drawn in some of 12 subjects (p = 0.5 each)


def test_basic_thorax_is_unchanged_without_details(grid):
    heart, thorax, details = _draw(1)
    basic = paint_thorax(grid, thorax)
    assert not np.isin(basic, [t for t in Tissue if t > Tissue.SOFT]).any()
    assert (paint_thorax(grid, thorax, details=details) != basic).mean() > 0.05
