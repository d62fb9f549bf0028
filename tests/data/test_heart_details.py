"""Cardiac details of the realistic anatomy: papillary muscles and trabeculae carry the blood pools' labels, the RV
outflow tract rises above the LV base, the LV outflow tract opens the basal ring."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from custom_networks.data.heart import angular_distance, rasterize_heart, sample_heart_params
from custom_networks.data.heart_details import paint_cardiac_details, sample_cardiac_details
from custom_networks.data.tissues import Tissue, tissue_to_label

STEP = 1.0


def _heart_frame_grid() -> np.ndarray:
    """Voxel centres (mm) of a 1 mm grid in the heart frame itself (no pose, no deformation)."""
    axes = (np.arange(-80, 60, STEP), np.arange(-70, 70, STEP), np.arange(-110, 40, STEP))
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).astype(np.float32)


def _paint(seed: int, phase: str):
    """A heart of one seed at one phase in the heart frame: grid, tissue without and with details, params, details."""
    rng = np.random.default_rng(seed)
    params = sample_heart_params(rng, (360.0, 360.0, 160.0))
    details = sample_cardiac_details(rng, params.ed)
    local = _heart_frame_grid()
    shape = params.shape(phase)
    plain = rasterize_heart(np.full(local.shape[:-1], Tissue.SOFT, np.uint8), local, shape, fat=2.0)
    detailed = paint_cardiac_details(plain.copy(), local, shape, details)
    return local, plain, detailed, params, details


@pytest.fixture(scope="module")
def detailed_heart():
    local, plain, detailed, _, details = _paint(3, "ED")
    return local, plain, detailed, details


def test_papillary_muscles_lie_inside_the_lv_cavity_and_carry_its_label(detailed_heart):
    _, plain, detailed, _ = detailed_heart
    muscle = detailed == Tissue.LV_PAPILLARY
    assert muscle.sum() * STEP**3 > 1000  # two muscles of 3-5.5 mm radius and trabeculae: over 1 mL
    # Every one of them was LV cavity before (they are painted into the blood pool, never onto the wall) ...
    assert set(np.unique(plain[muscle]).tolist()) == {Tissue.LV_BLOOD}
    # ... and keeps the LV blood-pool label: the label maps with and without details are the same for the LV.
    assert (tissue_to_label(detailed)[muscle] == 1).all()
    assert ((tissue_to_label(detailed) == 1) == (tissue_to_label(plain) == 1)).sum() > 0.999 * plain.size
    # The papillary cylinders proper reach deep into the cavity: voxels of papillary muscle with blood on all sides.
    surrounded = ndimage.binary_erosion(muscle, iterations=1) & ~ndimage.binary_dilation(
        detailed == Tissue.LV_MYO, iterations=2
    )
    assert surrounded.sum() > 50


def test_trabeculae_in_the_rv_carry_the_rv_label(detailed_heart):
    _, plain, detailed, _ = detailed_heart
    trabeculae = detailed == Tissue.RV_TRABECULAE
    assert trabeculae.sum() > 200
    assert set(np.unique(plain[trabeculae]).tolist()) == {Tissue.RV_BLOOD}
    assert (tissue_to_label(detailed)[trabeculae] == 3).all()


def test_rv_outflow_tract_rises_above_the_lv_base(detailed_heart):
    local, plain, detailed, details = detailed_heart
    z = local[..., 2]
    lv = (detailed == Tissue.LV_BLOOD) | (detailed == Tissue.LV_MYO) | (detailed == Tissue.LV_PAPILLARY)
    assert z[lv].max() <= 0.5  # the LV ends at its base plane
    assert z[plain == Tissue.RV_BLOOD].max() <= 0.5  # without the outflow tract the RV does too
    rv = tissue_to_label(detailed) == 3
    assert z[rv].max() >= details.rvot[2] - 3.0  # with it, the RV reaches the pulmonary valve above the base
    # The RV label is one connected piece (the outflow tract grows out of the cavity).
    assert ndimage.label(rv)[1] == 1
    # On the most basal LV slice the RV is present (the RV reaches the base).
    basal = (z > -STEP) & (z <= 0.0)
    assert (rv & basal).sum() > 100


def test_lv_outflow_tract_opens_the_basal_myocardial_ring(detailed_heart):
    local, plain, detailed, details = detailed_heart
    angle, half_width, depth = details.lvot
    theta = np.arctan2(local[..., 1], local[..., 0])
    in_sector = angular_distance(theta, angle) <= half_width
    basal = (local[..., 2] > -depth + 1) & (local[..., 2] <= 0)
    mid = (local[..., 2] > -depth - 20) & (local[..., 2] <= -depth - 10)
    assert ((plain == Tissue.LV_MYO) & in_sector & basal).sum() > 100  # a closed ring before
    assert ((detailed == Tissue.LV_MYO) & in_sector & basal).sum() == 0  # open towards the aorta after
    assert ((detailed == Tissue.LV_MYO) & in_sector & mid).sum() > 100  # below the outflow tract it stays closed


def test_details_follow_the_contracted_heart_at_end_systole():
    local, _, es, params, details = _paint(5, "ES")
    z = local[..., 2]
    muscle = es == Tissue.LV_PAPILLARY
    assert muscle.sum() > 300
    # They stay inside the (shorter, narrower) ES cavity: every papillary voxel touches only LV tissue.
    near = ndimage.binary_dilation(muscle)
    assert set(np.unique(es[near]).tolist()) <= {Tissue.LV_BLOOD, Tissue.LV_MYO, Tissue.LV_PAPILLARY}
    assert z[tissue_to_label(es) == 3].max() >= params.es.base_offset + details.rvot[2] - 3.0
