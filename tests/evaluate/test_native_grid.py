"""Native-grid scoring of real stacks: perfect prediction, a known shift, unlabelled slices and classes, world-space
sampling of an HR prediction (centre and slab profiles), clinical indices of known volumes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from custom_networks.core.geometry import centered_grid_affine, hr_grid_for, labels_on_native_grid, rotation_matrix
from custom_networks.core.label_maps import Annotation
from custom_networks.evaluate.native_grid import heart_found, native_clinical_scores, native_segmentation_scores

SHAPE = (40, 36, 8)
SPACING = (1.5, 1.5, 10.0)


def _affine(angles=(10.0, -20.0, 35.0)):
    return centered_grid_affine(SHAPE, SPACING, rotation_matrix(angles), (5.0, -12.0, 30.0))


def _labels() -> np.ndarray:
    """LV cube 10 x 10 on slices 2-5, a myocardium ring of 2 voxels around it, an RV block beside."""
    label = np.zeros(SHAPE, np.uint8)
    label[8:24, 8:24, 2:6] = 2
    label[11:21, 11:21, 2:6] = 1
    label[26:34, 10:22, 2:6] = 3
    return label


def test_perfect_prediction_scores_one_and_no_index_error():
    ref, affine = _labels(), _affine()
    scores, notes = native_segmentation_scores(ref, ref, affine, Annotation.full(SHAPE[2]))
    for c in ("lv", "myo", "rv"):
        assert scores[f"dice_{c}"] == 1.0
        assert scores[f"hd95_{c}"] == 0.0
    assert notes == []
    clinical = native_clinical_scores(ref, ref, affine, Annotation.full(8), ref, ref, affine, Annotation.full(8))
    assert all(clinical[k] == 0.0 for k in clinical if k.startswith("err_") and "EF" not in k)
    assert clinical["ref_LVEDV_ml"] == pytest.approx(10 * 10 * 4 * 1.5 * 1.5 * 10 / 1000)


def test_one_voxel_shift_of_a_cube_gives_the_known_dice_and_hd95():
    ref = np.zeros(SHAPE, np.uint8)
    ref[10:20, 10:20, 2:6] = 1  # 10 x 10 in-plane
    pred = np.roll(ref, 1, axis=0)
    scores, _ = native_segmentation_scores(pred, ref, _affine(), Annotation.full(SHAPE[2], classes=(1,)), classes=(1,))
    assert scores["dice_lv"] == pytest.approx(0.9)  # 2 * 9 * 10 / (2 * 100) per slice
    assert scores["hd95_lv"] == pytest.approx(1.5)  # one in-plane voxel of 1.5 mm


def test_unlabelled_slices_and_classes_do_not_count():
    ref, affine = _labels(), _affine()
    labelled = Annotation({1: (2, 3, 4), 2: (3,)}, SHAPE[2])  # RV never labelled, myocardium on slice 3 only
    pred = ref.copy()
    pred[..., 5] = 3  # garbage on an unlabelled slice
    pred[..., 0] = 1
    for k in (2, 4, 5):  # myocardium missed on the slices where it was not labelled
        pred[..., k][ref[..., k] == 2] = 0
    scores, notes = native_segmentation_scores(pred, ref, affine, labelled)
    assert scores["dice_lv"] == 1.0 and scores["dice_myo"] == 1.0
    assert math.isnan(scores["dice_rv"]) and math.isnan(scores["hd95_rv"])
    assert scores["slices_lv"] == 3 and scores["slices_myo"] == 1
    assert any("rv: not labelled" in n for n in notes)
    clinical = native_clinical_scores(pred, ref, affine, labelled)
    assert clinical["err_LVEDV_ml"] == 0.0 and clinical["err_LVM_g"] == 0.0
    assert math.isnan(clinical["pred_RVEDV_ml"]) and math.isnan(clinical["ref_RVEDV_ml"])
    assert math.isnan(clinical["pred_LVEF"])  # no ES given


def test_empty_prediction_is_zero_dice_and_no_heart_found():
    ref, affine = _labels(), _affine()
    empty = np.zeros_like(ref)
    scores, notes = native_segmentation_scores(empty, ref, affine, Annotation.full(SHAPE[2]))
    assert scores["dice_lv"] == 0.0 and math.isnan(scores["hd95_lv"])
    assert not heart_found(empty) and heart_found(ref)
    assert any("prediction empty" in n for n in notes)


def test_hr_prediction_sampled_on_the_native_grid_in_world_coordinates():
    """An HR label map drawn from the native labels in world space comes back exactly at the native voxel centres
    (centre profile), on an oblique grid whose HR axes are permuted; the slab profile keeps whole-slice structures."""
    ref, affine = _labels(), _affine()
    hr_shape, hr_affine, _ = hr_grid_for(SHAPE, affine)
    from custom_networks.core.geometry import resample_to_grid

    hr = resample_to_grid(ref, affine, hr_shape, hr_affine, order=0, mode="constant")
    back = labels_on_native_grid(hr, hr_affine, SHAPE, affine, profile="centre")
    assert (back == ref).mean() > 0.99
    slab = labels_on_native_grid(hr, hr_affine, SHAPE, affine, profile="slab")
    scores, _ = native_segmentation_scores(slab, ref, affine, Annotation.full(SHAPE[2]))
    assert scores["dice_lv"] > 0.97 and scores["dice_rv"] > 0.97
    # a structure 4 mm thick (less than half of a 10 mm slice) sits at a voxel centre: the centre profile sees it,
    # integrated over the slice profile it is out-voted by background
    thin = np.zeros(hr_shape, np.uint8)
    centre_k = np.linalg.inv(hr_affine) @ affine @ np.array([20, 18, 4, 1.0])
    k = int(round(centre_k[2]))
    thin[..., k - 1 : k + 1] = 1
    assert labels_on_native_grid(thin, hr_affine, SHAPE, affine, "centre")[20, 18, 4] == 1
    assert labels_on_native_grid(thin, hr_affine, SHAPE, affine, "slab")[20, 18, 4] == 0
    with pytest.raises(ValueError, match="unknown profile"):
        labels_on_native_grid(hr, hr_affine, SHAPE, affine, profile="gauss")


def test_clinical_indices_of_known_volumes():
    """LV 20 mL at ED and 8 mL at ES (EF 60 %), myocardium 10 mL (10.5 g), RV 30 / 15 mL, on 1 x 1 x 10 mm voxels."""
    affine = np.diag([1.0, 1.0, 10.0, 1.0])
    ed, es = np.zeros((50, 50, 10), np.uint8), np.zeros((50, 50, 10), np.uint8)
    ed[0:20, 0:10, 0:10] = 1  # 2000 voxels = 20 mL
    ed[20:30, 0:10, 0:10] = 2  # 1000 voxels = 10 mL
    ed[30:50, 0:15, 0:10] = 3  # 3000 voxels = 30 mL
    es[0:8, 0:10, 0:10] = 1
    es[30:50, 0:15, 0:5] = 3
    full = Annotation.full(10)
    out = native_clinical_scores(ed, ed, affine, full, es, es, affine, full)
    assert out["ref_LVEDV_ml"] == pytest.approx(20.0)
    assert out["ref_LVESV_ml"] == pytest.approx(8.0)
    assert out["ref_LVEF"] == pytest.approx(0.6)
    assert out["ref_LVM_g"] == pytest.approx(10.5)
    assert out["ref_RVEDV_ml"] == pytest.approx(30.0)
    assert out["ref_RVEF"] == pytest.approx(0.5)
    smaller = ed.copy()
    smaller[0:2, 0:10, 0:10] = 0  # prediction misses 2 mL of LV at ED
    out = native_clinical_scores(smaller, ed, affine, full, es, es, affine, full)
    assert out["err_LVEDV_ml"] == pytest.approx(-2.0)
    assert out["err_LVEF"] == pytest.approx((18 - 8) / 18 - 0.6)
