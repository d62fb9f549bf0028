from __future__ import annotations

import numpy as np
import pytest
from conftest import dice
from scipy import ndimage

from custom_networks.core.geometry import resample_to_grid, spacing_from_affine
from custom_networks.data import generate_subject, get_domain
from custom_networks.data.heart import PHYSIOLOGY_RANGES
from custom_networks.metrics import clinical_indices


def test_physiology_in_documented_ranges(source_subjects):
    for subject in source_subjects:
        spacing = spacing_from_affine(subject.hr_affine)
        idx = clinical_indices(subject.phases["ED"].hr_label, spacing, subject.phases["ES"].hr_label)
        for key, (lo, hi) in PHYSIOLOGY_RANGES.items():
            assert lo <= idx[key] <= hi, f"{key} = {idx[key]:.2f} outside [{lo}, {hi}]"
        # Incompressible myocardium: mass at ES within 5% of ED; cavities eject.
        assert idx["LVM_ES_g"] == pytest.approx(idx["LVM_g"], rel=0.05)
        assert idx["RVESV_ml"] < idx["RVEDV_ml"]
        # The measured EF follows the drawn one (the deformation changes volumes only slightly).
        assert idx["LVEF"] == pytest.approx(subject.manifest["anatomy"]["heart"]["ef_target"], abs=0.05)


def test_myocardium_and_cavities_are_single_connected_pieces(source_subjects):
    for subject in source_subjects:
        for phase in ("ED", "ES"):
            label = subject.phases[phase].hr_label
            for cls in (1, 2, 3):
                assert ndimage.label(label == cls)[1] == 1, f"class {cls} at {phase} is in pieces"
            # The myocardium encloses the LV blood pool in every short-axis slice below the base.
            lv = label == 1
            ring = ndimage.binary_dilation(lv, iterations=1) & ~lv
            assert np.isin(label[ring], (1, 2, 3)).mean() > 0.7


def test_heart_is_surrounded_by_tissue_not_black(source_subjects):
    vols = source_subjects[0].phases["ED"]
    background = vols.hr_image[vols.hr_label == 0]
    blood = vols.hr_image[vols.hr_label == 1].mean()
    # Bright unlabelled structures (atria, vessels, fat) exist, so the network must find the heart.
    assert (background > 0.7 * blood).mean() > 0.01
    assert (background < 0.15 * blood).mean() > 0.02  # lungs / air


def test_lr_label_agrees_with_hr_label_in_world_coordinates(aligned_subject):
    for phase in ("ED", "ES"):
        vols = aligned_subject.phases[phase]
        on_lr = resample_to_grid(vols.hr_label, aligned_subject.hr_affine, vols.lr_label.shape, vols.lr_affine, order=0)
        for cls in (1, 2, 3):
            assert dice(on_lr == cls, vols.lr_label == cls) > (0.8 if cls == 2 else 0.9)


def test_outputs_share_grids_and_lr_on_hr_interpolates_the_stack(aligned_subject):
    vols = aligned_subject.phases["ED"]
    assert vols.lr_on_hr.shape == vols.hr_image.shape == vols.hr_label.shape
    np.testing.assert_allclose(spacing_from_affine(vols.lr_affine), [1.25, 1.25, 10.0])
    # The interpolated stack resembles the HR image much more than an unrelated volume does.
    corr = np.corrcoef(vols.lr_on_hr.ravel(), vols.hr_image.ravel())[0, 1]
    assert corr > 0.8


def test_misaligned_stack_moves_the_lv_as_recorded(source_subjects):
    """Centroid of the LV in each misaligned stack slice minus the centroid of the HR label resampled onto the
    nominal stack grid equals the recorded shift."""
    subject = source_subjects[1]
    vols = subject.phases["ED"]
    nominal = resample_to_grid(vols.hr_label, subject.hr_affine, vols.lr_label.shape, vols.lr_affine, order=0)
    spacing = spacing_from_affine(vols.lr_affine)
    errors = []
    for k in range(vols.lr_label.shape[2]):
        a, b = np.argwhere(vols.lr_label[:, :, k] == 1), np.argwhere(nominal[:, :, k] == 1)
        if len(a) > 150 and len(b) > 150:
            measured = (a.mean(axis=0) - b.mean(axis=0)) * spacing[:2]
            errors.append(np.abs(measured - vols.shifts_mm[k]).max())
    assert len(errors) >= 4
    assert np.max(np.abs(vols.shifts_mm)) > 0.5
    assert np.median(errors) < 0.5


def test_deterministic_for_a_seed_and_different_across_seeds():
    domain = get_domain("source")
    a = generate_subject([3, 1], domain)
    b = generate_subject([3, 1], domain)
    c = generate_subject([3, 2], domain)
    for phase in ("ED", "ES"):
        np.testing.assert_array_equal(a.phases[phase].hr_image, b.phases[phase].hr_image)
        np.testing.assert_array_equal(a.phases[phase].lr_image, b.phases[phase].lr_image)
        np.testing.assert_array_equal(a.phases[phase].hr_label, b.phases[phase].hr_label)
    assert a.manifest == b.manifest
    assert dice(a.phases["ED"].hr_label == 1, c.phases["ED"].hr_label == 1) < 0.9
    assert not np.allclose(a.phases["ED"].hr_image, c.phases["ED"].hr_image)


def _stats(subject):
    vols = subject.phases["ED"]
    blood = vols.hr_image[vols.hr_label == 1]
    myo = vols.hr_image[vols.hr_label == 2]
    # Noise: neighbouring-voxel differences inside the (eroded, homogeneous) blood pool, std / sqrt(2).
    lv = ndimage.binary_erosion(vols.hr_label == 1, iterations=4)
    pair = lv[1:] & lv[:-1]
    noise = np.diff(vols.hr_image, axis=0)[pair].std() / np.sqrt(2) / blood.mean()
    return myo.mean() / blood.mean(), noise, blood.mean()


def test_domains_differ_measurably():
    stats = {name: _stats(generate_subject([0, 0], get_domain(name))) for name in ("source", "target_a", "target_b")}
    contrast = {k: v[0] for k, v in stats.items()}
    noise = {k: v[1] for k, v in stats.items()}
    assert contrast["target_a"] > contrast["source"] + 0.05 > contrast["target_b"] + 0.05
    assert noise["target_a"] > 1.3 * noise["source"] > 1.3 * 1.1 * noise["target_b"]
    for name, value in noise.items():  # the measured noise is the preset's
        assert value == pytest.approx(get_domain(name).noise_hr, rel=0.2)
    assert abs(stats["target_a"][2] - stats["source"][2]) / stats["source"][2] > 0.2


def test_domain_randomisation_changes_tissue_intensities():
    domain = get_domain("source")
    plain = generate_subject([0, 0], domain).manifest["intensities"]
    rand = generate_subject([0, 0], domain, randomize_intensities=True).manifest["intensities"]
    assert max(abs(plain[k] - rand[k]) for k in plain) > 0.2


def test_unknown_domain_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown domain 'nope'.*source"):
        get_domain("nope")


@pytest.fixture(scope="module")
def realistic_pair():
    domain = get_domain("source")
    return generate_subject([4, 2], domain), generate_subject([4, 2], domain, anatomy_detail="realistic")


def test_realistic_anatomy_keeps_the_grid_and_renders_papillary_muscles_as_myocardium(realistic_pair):
    basic, real = realistic_pair
    np.testing.assert_array_equal(basic.hr_affine, real.hr_affine)  # the basic draws of a seed are kept
    assert basic.manifest["anatomy_detail"] == "basic" and "cardiac_details" not in basic.manifest["anatomy"]
    vols = real.phases["ED"]
    papillary = ndimage.binary_erosion(vols.hr_tissue == 10)  # LV_PAPILLARY, away from partial volume
    blood = ndimage.binary_erosion(vols.hr_tissue == 1, iterations=2)
    myo = ndimage.binary_erosion(vols.hr_tissue == 2)
    assert papillary.sum() > 20
    image = vols.hr_image
    assert abs(image[papillary].mean() - image[myo].mean()) < 0.35 * (image[blood].mean() - image[myo].mean())
    assert (vols.hr_label[vols.hr_tissue == 10] == 1).all()


def test_realistic_anatomy_volumes_are_those_of_real_hearts(realistic_pair):
    _, real = realistic_pair
    spacing = spacing_from_affine(real.hr_affine)
    ml = float(np.prod(spacing)) / 1000.0
    edv = float((real.phases["ED"].hr_label == 1).sum()) * ml
    esv = float((real.phases["ES"].hr_label == 1).sum()) * ml
    mass = float((real.phases["ED"].hr_label == 2).sum()) * ml * 1.05
    rv = float((real.phases["ED"].hr_label == 3).sum()) * ml
    # The ACDC cohort's ranges (normal to dilated and hypertrophic hearts), not only healthy adults'.
    assert 60 <= edv <= 400 and 0.08 <= 1 - esv / edv <= 0.85 and 50 <= mass <= 300 and 50 <= rv <= 450


def test_basic_intensities_cannot_render_a_realistic_tissue_map(realistic_pair):
    from custom_networks.data.appearance import render_object

    basic, real = realistic_pair
    with pytest.raises(ValueError, match="no intensity for tissue classes.*bone"):
        render_object(real.phases["ED"].hr_tissue, basic.manifest["intensities"], 1000.0)


def test_unknown_anatomy_detail_is_refused():
    with pytest.raises(ValueError, match="anatomy_detail"):
        generate_subject([0, 0], get_domain("source"), anatomy_detail="baroque")
