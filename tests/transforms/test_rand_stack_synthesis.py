"""RandStackSynthesisd: randomised contrast and acquisition drawn anew per sample, within the configured ranges, with
image, SR target and labels aligned in world space."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, RandFlipd, RandRotate90d, RandSpatialCropd

from custom_networks.core.errors import InputError
from custom_networks.data.synthesis import _parametric_tissues, sax_grid_affine
from custom_networks.data.tissues import Tissue, tissue_to_label
from custom_networks.transforms import RandStackSynthesisd, SynthesisRanges

SHAPE = (128, 128, 64)
SPACING = (1.25, 1.25, 2.0)
#: No texture, bias, gamma or noise: every tissue region is one constant value, so means can be read off the image.
FLAT = {
    "intensity_std": (0.0, 0.0),
    "texture_sigma_vox": (0.0, 0.0),
    "bias_coeff": (0.0, 0.0),
    "gamma_std": 0.0,
    "noise": (0.0, 0.0),
    "hr_noise": (0.0, 0.0),
    "partial_volume_mm": 0.0,
    "background_splits": (1, 1),
}


@pytest.fixture(scope="module")
def tissue_item():
    rng = np.random.default_rng(3)
    extent = tuple(n * s for n, s in zip(SHAPE, SPACING, strict=True))
    tissues, _ = _parametric_tissues(rng, SHAPE, SPACING, extent, 2.0)
    affine = sax_grid_affine(rng, SHAPE, SPACING)
    tissue = MetaTensor(torch.as_tensor(tissues["ED"][None].astype(np.float32)), affine=torch.as_tensor(affine))
    return {"tissue": tissue}


def _draw(item, seed, **ranges):
    t = RandStackSynthesisd("tissue", ranges=ranges or None)
    t.set_random_state(seed)
    return t(item)


def test_deterministic_for_a_seed_and_new_for_another(tissue_item):
    a, b, c = _draw(tissue_item, 7), _draw(tissue_item, 7), _draw(tissue_item, 8)
    for key in ("image", "hr_image", "label"):
        assert torch.equal(a[key], b[key])
    assert not torch.allclose(a["hr_image"], c["hr_image"])
    assert torch.equal(a["label"], c["label"])  # the anatomy is the tissue map's


def test_outputs_on_the_tissue_grid_and_labels_are_its_cardiac_classes(tissue_item):
    out = _draw(tissue_item, 1)
    tissue = np.asarray(tissue_item["tissue"][0]).astype(int)
    for key in ("image", "hr_image", "label"):
        assert tuple(out[key].shape) == (1, *SHAPE)
        np.testing.assert_allclose(np.asarray(out[key].affine), np.asarray(tissue_item["tissue"].affine))
    np.testing.assert_array_equal(np.asarray(out["label"][0]), tissue_to_label(tissue))


def test_drawn_values_lie_in_their_ranges_measured_on_the_images(tissue_item):
    tissue = np.asarray(tissue_item["tissue"][0]).astype(int)
    ranges = {**FLAT, "intensity": (0.3, 0.7), "blood_tie": (0.9, 1.1), "slice_thickness": (6.0, 9.0)}
    for seed in range(6):
        out = _draw(tissue_item, seed, **ranges)
        record = out["hr_image"].meta["synthesis"]
        hr = np.asarray(out["hr_image"][0]) * record["scale"]  # back to the drawn intensities
        measured = {t: float(hr[tissue == t].mean()) for t in Tissue if (tissue == t).any()}
        for t, value in measured.items():
            assert value == pytest.approx(record["intensities"][t.key], abs=1e-4)
            low, high = (0.0, 0.1) if t == Tissue.AIR else (0.3, 0.7) if t != Tissue.RV_BLOOD else (0.27, 0.77)
            assert low - 1e-6 <= value <= high + 1e-6, (t, value)
        assert 0.9 - 1e-6 <= measured[Tissue.RV_BLOOD] / measured[Tissue.LV_BLOOD] <= 1.1 + 1e-6
        protocol = record["protocol"]
        assert 6.0 <= protocol["slice_thickness"] <= 9.0 and 5.0 <= protocol["slice_spacing"] <= 15.0
        assert 0.7 <= protocol["inplane_spacing"] <= 2.5 and 0.0 <= protocol["max_shift_mm"] <= 5.0


def test_stack_and_hr_image_of_one_draw_share_the_contrast(tissue_item):
    tissue = np.asarray(tissue_item["tissue"][0]).astype(int)
    for seed in range(4):
        out = _draw(tissue_item, seed, max_shift_mm=(0.0, 0.0))
        lr, hr = np.asarray(out["image"][0]), np.asarray(out["hr_image"][0])
        present = [t for t in Tissue if (tissue == t).sum() > 2000]
        lr_means = [lr[tissue == t].mean() for t in present]
        hr_means = [hr[tissue == t].mean() for t in present]
        assert np.corrcoef(lr_means, hr_means)[0, 1] > 0.9, (seed, lr_means, hr_means)


def test_image_and_labels_stay_aligned_through_random_spatial_steps(tissue_item):
    keys = ["image", "hr_image", "label"]
    pipeline = Compose(
        [
            RandStackSynthesisd("tissue", ranges=FLAT),
            RandFlipd(keys, prob=0.5, spatial_axis=0),
            RandRotate90d(keys, prob=0.5, spatial_axes=(0, 1)),
            RandSpatialCropd(keys, roi_size=(80, 80, 40), random_size=False),
        ]
    )
    for seed in range(5):
        pipeline.set_random_state(seed)
        out = pipeline(dict(tissue_item))
        hr, label = np.asarray(out["hr_image"][0]), np.asarray(out["label"][0])
        for c in (1, 2, 3):  # one constant intensity per cardiac class: the label still covers exactly its tissue
            if (label == c).any():
                assert np.ptp(hr[label == c]) < 1e-5, (seed, c)
        np.testing.assert_allclose(np.asarray(out["image"].affine), np.asarray(out["label"].affine))


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"slice_thickness": (12.0, 5.0)}, "slice_thickness: min 12 > max 5"),
        ({"slice_spacing": (-1.0, 8.0)}, "slice_spacing: must be > 0 mm"),
        ({"noise": (-0.1, 0.1)}, "noise: must be >= 0"),
        ({"intensity": (0.5,)}, r"intensity: expected \(min, max\)"),
        ({"background_splits": (0, 2)}, "background_splits: integers >= 1"),
        ({"thickness": (5.0, 8.0)}, "thickness: unknown key"),
    ],
)
def test_ranges_that_make_no_sense_are_refused_with_the_key_named(ranges, message):
    with pytest.raises(InputError, match=message):
        RandStackSynthesisd("tissue", ranges=ranges)


def test_default_ranges_are_the_documented_acquisition():
    r = SynthesisRanges()
    assert r.slice_thickness == (5.0, 12.0) and r.slice_spacing == (5.0, 15.0) and r.inplane_spacing == (0.7, 2.5)
    assert r.max_shift_mm == (0.0, 5.0)


def test_realistic_anatomy_draws_papillary_muscles_as_myocardium_and_splits_new_tissues():
    rng = np.random.default_rng(4)
    shape, spacing = (96, 96, 48), (2.5, 2.5, 3.0)  # a 240 mm field of view: skeleton and abdomen in view
    extent = tuple(n * s for n, s in zip(shape, spacing, strict=True))
    detail_rng = np.random.default_rng(40)
    tissues, _ = _parametric_tissues(rng, shape, spacing, extent, 2.0, detail_rng)
    tissue = tissues["ED"]
    affine = np.diag([*spacing, 1.0])
    item = {"tissue": MetaTensor(torch.as_tensor(tissue[None].astype(np.float32)), affine=torch.as_tensor(affine))}
    out = _draw(item, 3, **{**FLAT, "background_splits": (3, 3)})
    record = out["hr_image"].meta["synthesis"]
    hr = np.asarray(out["hr_image"][0]) * record["scale"]
    papillary = tissue == Tissue.LV_PAPILLARY
    assert papillary.any() and (tissue == Tissue.BONE).any()
    np.testing.assert_allclose(hr[papillary], record["intensities"]["lv_myo"], atol=1e-4)
    assert "lv_papillary" not in record["intensities"]
    assert {"bone_0", "bone_1", "bone_2"} <= set(record["intensities"])  # the skeleton is split like the background
    assert (np.asarray(out["label"][0])[papillary] == 1).all()
