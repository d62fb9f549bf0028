"""Real-data checks: slice dropping keeps world positions, held-out scoring, label floors (real data when present)."""

from __future__ import annotations

import importlib.util
import math
import sys

import numpy as np
import pytest
from conftest import REPO, real_data_path

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import centered_grid_affine, rotation_matrix, spacing_from_affine
from custom_networks.core.nifti import save_nifti
from custom_networks.datalists import ACDC_LABEL_MAP, find_floor_pairs
from custom_networks.evaluate.floors import label_floor, nn_upsample_labels
from custom_networks.evaluate.held_out import (
    drop_slices,
    interpolate_dropped,
    label_agreement,
    map_labels,
    score_held_out,
    slice_centres,
    summarise_held_out,
)


def _oblique_stack(shape=(11, 24, 20), spacing=(10.0, 1.25, 1.5)):
    """A stack whose slice axis is the FIRST array axis, on an oblique grid; values linear in the slice index."""
    affine = centered_grid_affine(shape, spacing, rotation_matrix((-35, 40, 120)), (12.0, -30.0, 8.0))
    i, j, k = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij")
    stack = 100.0 + 20.0 * i + 0.5 * j - 0.3 * k
    return stack.astype(np.float32), affine


# --- (a) slice dropping -----------------------------------------------------------------------------------------


def test_drop_slices_keeps_world_positions():
    stack, affine = _oblique_stack()
    split = drop_slices(stack, affine)
    assert split.axis == 0
    np.testing.assert_array_equal(split.kept_idx, [0, 2, 4, 6, 8, 10])
    np.testing.assert_array_equal(split.dropped_idx, [1, 3, 5, 7, 9])
    np.testing.assert_array_equal(split.scored_idx, [1, 3, 5, 7, 9])  # odd length: every dropped slice is inner
    assert split.kept.shape == (6, 24, 20)
    np.testing.assert_array_equal(split.kept, stack[::2])
    np.testing.assert_allclose(spacing_from_affine(split.kept_affine), [20.0, 1.25, 1.5], atol=1e-9)
    kept_world = slice_centres(split.kept.shape, split.kept_affine, range(6), axis=0)
    np.testing.assert_allclose(kept_world, slice_centres(stack.shape, affine, split.kept_idx), atol=1e-9)
    # every voxel, not only the slice centres
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in split.kept.shape], indexing="ij"), -1).reshape(-1, 3)
    orig = ijk.copy()
    orig[:, 0] *= 2
    np.testing.assert_allclose(ijk @ split.kept_affine[:3, :3].T, orig @ affine[:3, :3].T, atol=1e-9)


def test_drop_slices_even_length_and_offset():
    stack, affine = _oblique_stack(shape=(10, 8, 8))
    split = drop_slices(stack, affine)
    np.testing.assert_array_equal(split.dropped_idx, [1, 3, 5, 7, 9])
    np.testing.assert_array_equal(split.scored_idx, [1, 3, 5, 7])  # slice 9 has no kept neighbour beyond it
    odd = drop_slices(stack, affine, start=1)
    np.testing.assert_array_equal(odd.kept_idx, [1, 3, 5, 7, 9])
    np.testing.assert_allclose(
        slice_centres(odd.kept.shape, odd.kept_affine, range(5)), slice_centres(stack.shape, affine, odd.kept_idx)
    )
    with pytest.raises(InputError):
        drop_slices(stack[:2], affine)  # 2 slices keep only one
    with pytest.raises(InputError):
        drop_slices(np.zeros_like(stack), affine)  # constant


# --- (b) held-out scoring -------------------------------------------------------------------------------------------


def test_perfect_prediction_and_exact_linear_interpolation():
    stack, affine = _oblique_stack()
    split = drop_slices(stack, affine)
    heart = np.zeros(stack.shape, np.uint8)
    heart[:, 8:14, 6:12] = 1
    linear = interpolate_dropped(split, "linear")
    np.testing.assert_allclose(split.slices(linear, split.kept_idx), split.slices(split.scale(stack), split.kept_idx))
    np.testing.assert_allclose(
        split.slices(linear, split.scored_idx), split.slices(split.scale(stack), split.scored_idx), atol=1e-5
    )
    oracle = split.scale(stack)
    noise = np.random.default_rng(0).uniform(0, 1, stack.shape)
    rows = score_held_out(split, {"oracle": oracle, "linear": linear, "noise": noise}, heart)
    summary = summarise_held_out(rows)
    assert summary["oracle"]["n"] == 5
    assert math.isinf(summary["oracle"]["psnr_heart"]) and summary["oracle"]["ssim_heart"] == pytest.approx(1.0)
    assert summary["linear"]["psnr_heart"] > 80 and summary["linear"]["ssim_heart"] == pytest.approx(1.0, abs=1e-4)
    assert summary["noise"]["psnr"] < 10 and summary["noise"]["ssim"] < 0.1
    assert {r["slice"] for r in rows} == {1, 3, 5, 7, 9}
    with pytest.raises(InputError):
        score_held_out(split, {"bad": oracle[:-1]})


def test_label_agreement_and_acdc_mapping():
    acdc = np.array([[[0, 1, 2, 3]]], dtype=np.uint8)
    np.testing.assert_array_equal(map_labels(acdc, ACDC_LABEL_MAP), [[[0, 3, 2, 1]]])
    _, affine = _oblique_stack(shape=(6, 20, 20))
    label = np.zeros((6, 20, 20), np.uint8)
    label[1:5, 4:12, 5:15] = 1
    label[1:5, 12:16, 5:15] = 3
    dice = label_agreement(label, affine, label, affine)
    assert dice["dice_lv"] == 1.0 and dice["dice_rv"] == 1.0 and math.isnan(dice["dice_myo"])


# --- floors -------------------------------------------------------------------------------------------------------


def test_floor_of_a_pure_downsampling_is_perfect_for_a_slice_invariant_map(tmp_path):
    """Demo-like layout (slice axis first): HR 2 mm, LR every 5th slice (10 mm), same origin."""
    hr_affine = centered_grid_affine((20, 16, 16), (2.0, 1.25, 1.25), rotation_matrix((10, -20, 30)), (0, 0, 0))
    lr_affine = hr_affine.copy()
    lr_affine[:3, 0] *= 5
    hr = np.zeros((20, 16, 16), np.uint8)
    hr[:, 3:9, 4:10], hr[:, 9:11, 4:10], hr[:, 11:14, 4:10] = 1, 2, 4  # RV as 4, as in the real files
    save_nifti(hr, hr_affine, tmp_path / "case_HR.nii.gz")
    save_nifti(hr[::5], lr_affine, tmp_path / "case_LR.nii.gz")
    (pair,) = find_floor_pairs(tmp_path)
    assert pair.name == "case_LR" and pair.motion is None
    scores = label_floor(pair.hr, pair.lr, "world")
    assert scores["identical_slices"] == 4 and scores["lr_slices"] == 4
    assert scores["dice_lv"] == scores["dice_myo"] == scores["dice_rv"] == 1.0
    index = nn_upsample_labels(hr[::5], lr_affine, hr.shape, hr_affine, "index")
    assert index.shape == hr.shape
    with pytest.raises(InputError):
        nn_upsample_labels(hr[::5], lr_affine, hr.shape, hr_affine, "cubic")


# --- (c) real data --------------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_floors_subject_1081():
    """README floors: about 0.93 / 0.85 / 0.92 without motion, 0.89 / 0.75 / 0.87 with.

    They are reproduced by the array-index protocol; in world coordinates (the correct geometry: the LR slices are
    exactly the HR slices 0, 5, 10, ...) the no-motion floor is higher."""
    folder = real_data_path("ukdh_labelmaps", "subject_1081", "ED")
    hr = folder / "HR.nii.gz"
    index = label_floor(hr, folder / "LR_ds" / "data_clean.nii.gz", "index")
    world = label_floor(hr, folder / "LR_ds" / "data_clean.nii.gz", "world")
    for key, expected in zip(("dice_lv", "dice_myo", "dice_rv"), (0.93, 0.85, 0.92), strict=True):
        assert index[key] == pytest.approx(expected, abs=0.02), key
        assert world[key] >= index[key]
    assert world["identical_slices"] == world["lr_slices"] == 12
    assert (world["dice_lv"], world["dice_myo"], world["dice_rv"]) == pytest.approx((0.948, 0.907, 0.927), abs=0.005)
    motion = [label_floor(hr, folder / f"LR_normal_motion_{i}" / "data_clean.nii.gz", "world") for i in (1, 2)]
    for key, expected in zip(("dice_lv", "dice_myo", "dice_rv"), (0.89, 0.75, 0.87), strict=True):
        assert np.mean([m[key] for m in motion]) == pytest.approx(expected, abs=0.02), key
    assert all(m["identical_slices"] < 12 for m in motion)


# --- the script -------------------------------------------------------------------------------------------------


def _script():
    spec = importlib.util.spec_from_file_location("real_data_checks", REPO / "benchmarks" / "real_data_checks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("real_data_checks", module)
    spec.loader.exec_module(module)
    return module


def test_script_errors_clearly_without_data(tmp_path, capsys):
    script = _script()
    out = tmp_path / "report"
    with pytest.raises(InputError, match="real-data folder not found"):
        script.run_checks(data=tmp_path / "missing", out=out)
    with pytest.raises(InputError, match="unknown part"):
        script.run_checks(data=tmp_path, out=out, parts="everything")
    with pytest.raises(SystemExit) as exit_info:
        script.main(data=str(tmp_path / "missing"), out=str(out))
    assert exit_info.value.code == 2 and "error:" in capsys.readouterr().err
    assert not out.exists()
