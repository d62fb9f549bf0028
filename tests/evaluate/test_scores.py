from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from monai.metrics import SSIMMetric

from custom_networks.evaluate.scores import (
    CLASS_NAMES,
    clinical_scores,
    compat_scores,
    heart_region,
    image_scores,
    robust_scale,
    segmentation_scores,
)

SHAPE = (40, 40, 20)
SPACING = (1.0, 1.5, 2.5)  # anisotropic, mm


def _ellipsoid_grid(shape=SHAPE, spacing=SPACING, centre_mm=(20.0, 30.0, 25.0)) -> np.ndarray:
    """Physical distance (mm) of every voxel centre from ``centre_mm``."""
    axes = [np.arange(n) * s for n, s in zip(shape, spacing, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1)
    return np.linalg.norm(grid - np.asarray(centre_mm), axis=-1)


# --- segmentation ---------------------------------------------------------------------------------------------------


def test_class_names():
    assert CLASS_NAMES == {1: "lv", 2: "myo", 3: "rv"}


def test_dice_of_offset_boxes_per_class():
    ref = np.zeros(SHAPE, np.uint8)
    pred = np.zeros(SHAPE, np.uint8)
    ref[5:15, 5:15, 2:12] = 1  # 1000 voxels
    pred[8:18, 5:15, 2:12] = 1  # shifted 3 along X: overlap 700 -> 0.7
    ref[20:30, 20:30, 5:15] = 2
    pred[20:30, 20:30, 10:20] = 2  # shifted 5 along Z: overlap 500 -> 0.5
    ref[25:35, 5:15, 2:6] = 3  # 400 voxels
    pred[25:35, 5:15, 2:4] = 3  # 200 voxels inside it -> 2 * 200 / 600
    scores, notes = segmentation_scores(pred, ref, SPACING)
    assert notes == []
    assert set(scores) == {f"{m}_{n}" for m in ("dice", "hd95", "msd") for n in ("lv", "myo", "rv")}
    assert scores["dice_lv"] == pytest.approx(0.7)
    assert scores["dice_myo"] == pytest.approx(0.5)
    assert scores["dice_rv"] == pytest.approx(2 / 3)
    # class order of the arguments does not matter, and a subset can be asked for
    sub, _ = segmentation_scores(pred, ref, SPACING, classes=(3, 1))
    assert set(sub) == {"dice_rv", "hd95_rv", "msd_rv", "dice_lv", "hd95_lv", "msd_lv"}
    assert sub["dice_rv"] == pytest.approx(2 / 3)
    # identical masks: Dice 1, distances 0
    same, _ = segmentation_scores(ref, ref, SPACING)
    assert all(same[f"dice_{n}"] == pytest.approx(1.0) for n in ("lv", "myo", "rv"))
    assert all(same[f"hd95_{n}"] == 0.0 and same[f"msd_{n}"] == 0.0 for n in ("lv", "myo", "rv"))


def test_hd95_and_msd_of_parallel_slabs_are_exact_in_mm():
    # One-voxel-thick slabs filling the XY plane, 3 slices apart: every surface voxel is exactly 3 * dz away.
    ref = np.zeros(SHAPE, np.uint8)
    pred = np.zeros(SHAPE, np.uint8)
    ref[..., 5] = 1
    pred[..., 8] = 1
    scores, _ = segmentation_scores(pred, ref, SPACING, classes=(1,))
    assert scores["hd95_lv"] == pytest.approx(3 * 2.5)
    assert scores["msd_lv"] == pytest.approx(3 * 2.5)
    iso, _ = segmentation_scores(pred, ref, (1.0, 1.0, 1.0), classes=(1,))
    assert iso["hd95_lv"] == pytest.approx(3.0)  # so the spacing is really used


def test_hd95_of_concentric_spheres_on_anisotropic_grid():
    dist = _ellipsoid_grid()
    ref = (dist <= 14.0).astype(np.uint8)  # spheres in mm, ellipsoids in voxels
    pred = (dist <= 8.0).astype(np.uint8)
    scores, _ = segmentation_scores(pred, ref, SPACING, classes=(1,))
    # every point of one sphere is 6 mm from the other; discretisation costs less than a voxel
    assert abs(scores["hd95_lv"] - 6.0) < max(SPACING)
    assert abs(scores["msd_lv"] - 6.0) < max(SPACING)
    assert scores["msd_lv"] <= scores["hd95_lv"]


def test_hd95_ignores_a_single_outlier_and_msd_averages_it():
    ref = np.zeros(SHAPE, np.uint8)
    ref[5:15, 5:15, 2:12] = 1  # 10^3 cube: 1000 - 8^3 = 488 surface voxels
    pred = ref.copy()
    pred[5, 5, 18] = 1  # isolated voxel, 7 slices above the nearest reference surface voxel (5, 5, 11)
    scores, notes = segmentation_scores(pred, ref, SPACING, classes=(1,))
    assert notes == []
    assert scores["hd95_lv"] == 0.0  # the outlier is far below 5 % of the surface
    d = 7 * SPACING[2]
    assert scores["msd_lv"] == pytest.approx(d / (489 + 488), rel=1e-5)  # pooled over both directions
    assert scores["dice_lv"] == pytest.approx(2000 / 2001)


def test_empty_reference_gives_nan_and_note():
    ref = np.zeros(SHAPE, np.uint8)
    ref[5:15, 5:15, 2:12] = 1
    ref[20:30, 20:30, 2:12] = 2
    pred = ref.copy()
    pred[30:35, 30:35, 2:5] = 3  # RV predicted, absent from the reference
    scores, notes = segmentation_scores(pred, ref, SPACING)
    assert all(math.isnan(scores[f"{m}_rv"]) for m in ("dice", "hd95", "msd"))
    assert notes == ["rv: reference mask empty (Dice/HD95/MSD undefined)"]
    assert scores["dice_lv"] == pytest.approx(1.0) and scores["hd95_lv"] == 0.0
    # both empty: still undefined, never 1
    scores, notes = segmentation_scores(ref, ref, SPACING)
    assert math.isnan(scores["dice_rv"]) and notes == ["rv: reference mask empty (Dice/HD95/MSD undefined)"]


def test_empty_prediction_gives_zero_dice_and_nan_distances():
    ref = np.zeros(SHAPE, np.uint8)
    ref[5:15, 5:15, 2:12] = 1
    ref[20:30, 20:30, 2:12] = 2
    pred = np.where(ref == 2, 2, 0).astype(np.uint8)  # LV missing
    scores, notes = segmentation_scores(pred, ref, SPACING, classes=(1, 2))
    assert scores["dice_lv"] == 0.0
    assert math.isnan(scores["hd95_lv"]) and math.isnan(scores["msd_lv"])
    assert notes == ["lv: prediction empty (HD95/MSD undefined)"]
    assert scores["dice_myo"] == pytest.approx(1.0)


def test_segmentation_rejects_bad_input():
    a = np.zeros(SHAPE, np.uint8)
    with pytest.raises(ValueError, match="shape"):
        segmentation_scores(a, a[:-1], SPACING)
    with pytest.raises(ValueError, match="spacing"):
        segmentation_scores(a, a, (1.0, 1.0))


# --- heart region ---------------------------------------------------------------------------------------------------


def test_heart_region_margin_in_mm_on_anisotropic_grid():
    label = np.zeros(SHAPE, np.uint8)
    label[10:20, 15:25, 8:12] = 1
    label[12, 16, 9] = 3
    spacing = (1.0, 2.0, 2.5)
    # 5 mm -> 5, ceil(2.5) = 3 and 2 voxels
    assert heart_region(label, spacing, margin_mm=5.0) == (slice(5, 25), slice(12, 28), slice(6, 14))
    # 10 mm -> 10, 5 and exactly 4 voxels; clipped to the array
    assert heart_region(label, spacing, margin_mm=10.0) == (slice(0, 30), slice(10, 30), slice(4, 16))
    assert heart_region(label, spacing, margin_mm=0.0) == (slice(10, 20), slice(15, 25), slice(8, 12))
    edge = np.zeros(SHAPE, np.uint8)
    edge[0:2, 37:40, 18:20] = 2
    assert heart_region(edge, spacing, margin_mm=5.0) == (slice(0, 7), slice(34, 40), slice(16, 20))
    assert heart_region(np.zeros(SHAPE, np.uint8), spacing) is None


# --- images ---------------------------------------------------------------------------------------------------------


def _smooth_image(seed: int = 0) -> np.ndarray:
    """Smooth structured image in [0.3, 0.7] (clipping never touches a small perturbation of it)."""
    x, y, z = np.meshgrid(*[np.linspace(0, 1, n) for n in SHAPE], indexing="ij")
    rng = np.random.default_rng(seed)
    phase = rng.random(3) * 2 * np.pi
    img = np.sin(6 * x + phase[0]) * np.cos(5 * y + phase[1]) + 0.5 * np.sin(4 * z + phase[2])
    img = (img - img.min()) / (img.max() - img.min())
    return (0.3 + 0.4 * img).astype(np.float32)


def test_robust_scale():
    x = np.arange(1001, dtype=np.float32)  # percentiles of 0..1000 are the values themselves * 10
    out = robust_scale(x, 1.0, 99.0)
    assert out.dtype == np.float32 and out.min() == 0.0 and out.max() == 1.0
    assert out[500] == pytest.approx(0.5)
    assert (out == 0).sum() == 11 and (out == 1).sum() == 11  # 0..10 and 990..1000
    assert np.all(robust_scale(np.full(SHAPE, 3.0)) == 0)


def test_psnr_of_constant_offset_is_exactly_20_db():
    ref = _smooth_image()
    scores = image_scores(ref + 0.1, ref)  # MSE 0.01, peak 1
    assert scores["psnr"] == pytest.approx(20.0, abs=1e-4)
    assert math.isnan(scores["psnr_heart"]) and math.isnan(scores["ssim_heart"])


def test_psnr_of_gaussian_noise_and_ssim_drop():
    ref = _smooth_image()
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(SHAPE).astype(np.float32)
    same = image_scores(ref, ref)
    assert same["psnr"] == math.inf
    assert same["ssim"] == pytest.approx(1.0, abs=1e-5)
    ssims = []
    for sigma in (0.01, 0.03, 0.1):
        scores = image_scores(ref + sigma * noise, ref)
        if sigma < 0.1:  # no clipping at these levels
            assert scores["psnr"] == pytest.approx(-20 * math.log10(sigma), abs=0.1)
        ssims.append(scores["ssim"])
    assert 1.0 > ssims[0] > ssims[1] > ssims[2]


def test_prediction_is_clipped_to_unit_range():
    ref = _smooth_image()
    pred = ref.copy()
    pred[:10] = 1.7  # clipped to 1.0
    pred[30:] = -0.4  # clipped to 0.0
    mse = (np.sum((1.0 - ref[:10]) ** 2) + np.sum(ref[30:] ** 2)) / ref.size
    assert image_scores(pred, ref)["psnr"] == pytest.approx(-10 * math.log10(mse), abs=1e-3)


def test_heart_region_scores_differ_when_the_error_is_outside():
    ref = _smooth_image()
    region = (slice(10, 30), slice(12, 28), slice(5, 15))
    pred = ref + 0.05 * np.random.default_rng(2).standard_normal(SHAPE).astype(np.float32)
    pred[region] = ref[region]  # perfect inside the heart
    scores = image_scores(pred, ref, region=region)
    assert scores["psnr_heart"] == math.inf and scores["ssim_heart"] == pytest.approx(1.0, abs=1e-5)
    assert np.isfinite(scores["psnr"]) and scores["ssim"] < 0.99
    # the other way round: error only in the heart
    pred = ref.copy()
    pred[region] += 0.05
    scores = image_scores(pred, ref, region=region)
    assert scores["psnr_heart"] == pytest.approx(-20 * math.log10(0.05), abs=1e-3)
    assert scores["psnr"] > scores["psnr_heart"]


def test_thin_region_shrinks_the_ssim_window():
    ref = _smooth_image()
    pred = np.clip(ref + 0.05 * np.random.default_rng(3).standard_normal(SHAPE).astype(np.float32), 0, 1)
    region = (slice(5, 35), slice(5, 35), slice(8, 10))  # 2 slices thick < kernel 7
    scores = image_scores(pred, ref, region=region, kernel_size=7)
    assert np.isfinite(scores["ssim_heart"])
    # window (7, 7, 1): the 3D SSIM is the mean of the 2D SSIMs (7 x 7 Gaussian window) of the two slices
    ssim2d = SSIMMetric(spatial_dims=2, data_range=1.0, win_size=7, kernel_sigma=1.5)
    per_slice = [
        float(ssim2d(torch.as_tensor(pred[5:35, 5:35, k])[None, None], torch.as_tensor(ref[5:35, 5:35, k])[None, None]))
        for k in (8, 9)
    ]
    assert scores["ssim_heart"] == pytest.approx(np.mean(per_slice), abs=1e-5)
    # a 4-slice region uses a 3-slice window: still defined, and differs from the 2D mean
    thick = image_scores(pred, ref, region=(slice(5, 35), slice(5, 35), slice(8, 12)))
    assert np.isfinite(thick["ssim_heart"])
    with pytest.raises(ValueError, match="odd"):
        image_scores(pred, ref, kernel_size=6)


# --- clinical -------------------------------------------------------------------------------------------------------


def test_clinical_errors_from_voxel_counts():
    spacing = (1.0, 2.0, 1.5)  # 3 mm^3 = 0.003 mL per voxel
    ref_ed = np.zeros(SHAPE, np.uint8)
    ref_ed[0:10, 0:10, 0:10] = 1  # 1000
    ref_ed[10:15, 0:10, 0:10] = 2  # 500
    ref_ed[20:25, 0:4, 0:10] = 3  # 200
    pred_ed = np.zeros(SHAPE, np.uint8)
    pred_ed[0:8, 0:10, 0:10] = 1  # 800
    pred_ed[10:16, 0:10, 0:10] = 2  # 600
    pred_ed[20:25, 0:6, 0:10] = 3  # 300
    ref_es = np.zeros(SHAPE, np.uint8)
    ref_es[0:4, 0:10, 0:10] = 1  # 400
    ref_es[10:15, 0:10, 0:10] = 2  # 500
    ref_es[20:25, 0:2, 0:10] = 3  # 100
    pred_es = np.zeros(SHAPE, np.uint8)
    pred_es[0:4, 0:10, 0:10] = 1  # 400
    pred_es[10:14, 0:10, 0:10] = 2  # 400
    pred_es[20:25, 0:3, 0:10] = 3  # 150
    v = 0.003
    ed_only = clinical_scores(pred_ed, ref_ed, spacing)
    assert set(ed_only) == {f"{p}_{k}" for p in ("pred", "ref", "err") for k in ("LVEDV_ml", "LVM_g", "RVEDV_ml")}
    s = clinical_scores(pred_ed, ref_ed, spacing, pred_es, ref_es)
    assert len(s) == 3 * 8
    assert s["ref_LVEDV_ml"] == pytest.approx(1000 * v) and s["pred_LVEDV_ml"] == pytest.approx(800 * v)
    assert s["err_LVEDV_ml"] == pytest.approx((800 - 1000) * v)
    assert s["err_LVM_g"] == pytest.approx((600 - 500) * v * 1.05)
    assert s["err_RVEDV_ml"] == pytest.approx((300 - 200) * v)
    assert s["err_LVESV_ml"] == pytest.approx(0.0)
    assert s["err_RVESV_ml"] == pytest.approx((150 - 100) * v)
    assert s["err_LVEF"] == pytest.approx((800 - 400) / 800 - (1000 - 400) / 1000)  # 0.5 - 0.6
    assert s["err_RVEF"] == pytest.approx((300 - 150) / 300 - (200 - 100) / 200)  # 0.5 - 0.5
    assert s["err_LVM_ES_g"] == pytest.approx((400 - 500) * v * 1.05)
    for key in ("LVEDV_ml", "LVM_g", "RVEDV_ml", "LVESV_ml", "RVESV_ml", "LVEF", "RVEF", "LVM_ES_g"):
        assert s[f"err_{key}"] == pytest.approx(s[f"pred_{key}"] - s[f"ref_{key}"])
    with pytest.raises(ValueError, match="both"):
        clinical_scores(pred_ed, ref_ed, spacing, pred_es=pred_es)


# --- gemini-compat --------------------------------------------------------------------------------------------------


def test_compat_dice_skips_a_slice_where_one_class_scores_zero():
    shape = (20, 20, 4)
    ref = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    for k in range(3):
        ref[2:8, 2:8, k] = 1  # 36
        ref[10:16, 2:8, k] = 2  # 36
        ref[2:8, 10:16, k] = 3  # 36
    # slice 0: lv 4 rows of 6 -> 2*24/60, myo exact, rv 3 rows -> 2*18/54
    pred[2:6, 2:8, 0] = 1
    pred[10:16, 2:8, 0] = 2
    pred[2:5, 10:16, 0] = 3
    # slice 1: rv missing in the prediction -> rv Dice 0 -> the whole slice is skipped
    pred[2:8, 2:8, 1] = 1
    pred[10:16, 2:8, 1] = 2
    # slice 2: lv exact, myo 5 rows -> 2*30/66, rv exact
    pred[2:8, 2:8, 2] = 1
    pred[10:15, 2:8, 2] = 2
    pred[2:8, 10:16, 2] = 3
    # slice 3: no foreground in either -> skipped
    s = compat_scores(pred_label=pred, ref_label=ref)
    assert set(s) == {"compat_dice_lv", "compat_dice_myo", "compat_dice_rv"}
    assert s["compat_dice_lv"] == pytest.approx((48 / 60 + 1.0) / 2)
    assert s["compat_dice_myo"] == pytest.approx((1.0 + 60 / 66) / 2)
    assert s["compat_dice_rv"] == pytest.approx((36 / 54 + 1.0) / 2)
    # the 3D Dice counts slice 1 (it is lower: the missed RV is not forgiven)
    d3, _ = segmentation_scores(pred, ref, (1.0, 1.0, 8.0))
    assert d3["dice_rv"] < s["compat_dice_rv"]


def test_compat_image_scores_are_per_slice_min_max_normalised():
    ref = _smooth_image()
    s = compat_scores(pred_image=3.0 * ref + 7.0, ref_image=ref)  # affine changes vanish per slice
    assert set(s) == {"compat_psnr", "compat_ssim"}
    assert s["compat_ssim"] == pytest.approx(1.0, abs=1e-5)
    assert s["compat_psnr"] > 100.0
    assert image_scores(3.0 * ref + 7.0, ref)["psnr"] < 10.0  # the 3D protocol does not forgive it
    both = compat_scores(np.ones(SHAPE, np.uint8), np.ones(SHAPE, np.uint8), ref, ref)
    assert len(both) == 5
    assert compat_scores() == {}
    with pytest.raises(ValueError, match="both"):
        compat_scores(pred_image=ref)
