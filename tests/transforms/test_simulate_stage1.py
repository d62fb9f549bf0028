"""Simulated stage-1 probabilities (:mod:`custom_networks.transforms.simulate_stage1`) on small synthetic stacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from custom_networks.core.errors import InputError
from custom_networks.transforms.simulate_stage1 import SimulateStage1d, Stage1Errors, simulate_stage1_probabilities

SPACING = np.asarray([1.5, 1.5, 8.0])

#: No error at all: the argmax must be the input label.
NO_ERRORS = {
    "jitter_mm": (0.0, 0.0),
    "p_missed": 0.0,
    "p_spurious": 0.0,
    "p_coverage": 0.0,
    "blur_mm": (0.0, 0.0),
    "temperature": (1.0, 1.0),
    "p_shift": 0.0,
}


def _label(nx: int = 40, ny: int = 36, nz: int = 6) -> np.ndarray:
    """A heart-like label map (slice axis last): RV beside a ring of myocardium around the LV blood pool, on every
    slice but the first and the last (which stay background), shrinking towards the apex."""
    i, j = np.mgrid[0:nx, 0:ny]
    label = np.zeros((nx, ny, nz), np.uint8)
    for k in range(1, nz - 1):
        r = 9.0 - k
        d = np.hypot(i - 20, j - 16)
        label[..., k][d <= r + 3] = 2
        label[..., k][d <= r] = 1
        label[..., k][(np.abs(i - 20) <= r) & (j >= 16 + r + 4) & (j <= 16 + r + 9)] = 3
    return label


def _errors(**changes) -> Stage1Errors:
    return Stage1Errors(**{**NO_ERRORS, **changes})


def test_no_errors_gives_the_input_label():
    label = _label()
    probs = simulate_stage1_probabilities(label, SPACING, _errors(), np.random.default_rng(0))
    assert probs.shape == (4, *label.shape)
    np.testing.assert_array_equal(probs.argmax(axis=0), label)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_probabilities_sum_to_one_in_unit_range(seed):
    probs = simulate_stage1_probabilities(_label(), SPACING, Stage1Errors(), np.random.default_rng(seed))
    assert probs.dtype == np.float32
    assert probs.min() >= 0.0 and probs.max() <= 1.0
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    assert probs.max() > 0.9  # not uniformly uncertain


def test_missed_class_on_every_slice():
    label = _label()
    pred = simulate_stage1_probabilities(label, SPACING, _errors(p_missed=1.0), np.random.default_rng(3)).argmax(0)
    slices_with_classes = 0
    for k in range(label.shape[-1]):
        before = set(np.unique(label[..., k]).tolist()) - {0}
        after = set(np.unique(pred[..., k]).tolist()) - {0}
        if not before:
            assert not after
            continue
        slices_with_classes += 1
        assert after < before and len(after) == len(before) - 1  # exactly one class lost
        lost = (before - after).pop()
        assert (pred[..., k][label[..., k] == lost] == 0).all()  # to background
        kept = label[..., k] != lost
        np.testing.assert_array_equal(pred[..., k][kept], label[..., k][kept])  # nothing else changed
    assert slices_with_classes == label.shape[-1] - 2


def test_coverage_removes_both_heart_ends():
    label = _label()
    pred = simulate_stage1_probabilities(label, SPACING, _errors(p_coverage=1.0), np.random.default_rng(0)).argmax(0)
    heart = np.flatnonzero(label.any(axis=(0, 1)))
    assert not pred[..., heart[0]].any() and not pred[..., heart[-1]].any()
    np.testing.assert_array_equal(pred[..., heart[1:-1]], label[..., heart[1:-1]])


def test_spurious_blob_adds_a_class_somewhere():
    label = _label()
    probs = simulate_stage1_probabilities(label, SPACING, _errors(p_spurious=1.0), np.random.default_rng(5))
    pred = probs.argmax(0)
    assert (pred != label).any(axis=(0, 1)).sum() >= 1


def test_same_seed_same_output_other_seed_different():
    label = _label()
    a = simulate_stage1_probabilities(label, SPACING, Stage1Errors(), np.random.default_rng(7))
    b = simulate_stage1_probabilities(label, SPACING, Stage1Errors(), np.random.default_rng(7))
    c = simulate_stage1_probabilities(label, SPACING, Stage1Errors(), np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.1


def _affine(spacing, origin=(0.0, 0.0, 0.0)) -> torch.Tensor:
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    return torch.as_tensor(affine)


def _case(hr_spacing=(1.5, 1.5, 8.0), hr_shape=None) -> dict:
    """An acquired stack with a bright square exactly where class 1 is, and an HR reference grid."""
    label = np.zeros((32, 32, 5), np.uint8)
    label[12:18, 10:16, 1:4] = 1
    label[10:20, 18:24, 1:4] = 3
    image = (label == 1).astype(np.float32)
    lr_affine = _affine(SPACING)
    lr_image = MetaTensor(torch.as_tensor(image[None]), affine=lr_affine, meta={"filename_or_obj": "stack.nii.gz"})
    lr_label = MetaTensor(torch.as_tensor(label[None]), affine=lr_affine.clone())
    if hr_shape is None:
        hr_shape = label.shape
    ref = MetaTensor(torch.zeros((1, *hr_shape)), affine=_affine(hr_spacing, origin=(0.0, 0.0, -3.0)))
    return {"lr_image": lr_image, "lr_label": lr_label, "label": ref}


def _centroids(weights: np.ndarray) -> np.ndarray:
    """In-plane centroid ``(Z, 2)`` of every slice of ``weights`` ``(X, Y, Z)``."""
    i, j = np.mgrid[0 : weights.shape[0], 0 : weights.shape[1]]
    total = weights.sum(axis=(0, 1))
    return np.stack([(weights * i[..., None]).sum((0, 1)) / total, (weights * j[..., None]).sum((0, 1)) / total], 1)


def test_shift_moves_image_and_probabilities_together():
    data = _case(hr_spacing=tuple(SPACING))
    data["label"] = MetaTensor(torch.zeros((1, 32, 32, 5)), affine=_affine(SPACING))  # HR grid = stack grid
    still = SimulateStage1d(errors=_errors(p_shift=0.0), seed=0)(data)
    moved = SimulateStage1d(errors=_errors(p_shift=1.0, shift_mm=3.0), seed=0)(data)
    for out in (still, moved):
        assert out["image"].shape == (1, 32, 32, 5) and out["probs"].shape == (4, 32, 32, 5)
    heart = slice(1, 4)

    def centres(out):
        image = np.asarray(out["image"][0])[..., heart]
        lv = np.asarray(out["probs"][1])[..., heart]
        return _centroids(image), _centroids(lv - lv.min())

    image_still, lv_still = centres(still)
    image_moved, lv_moved = centres(moved)
    np.testing.assert_allclose(image_still, lv_still, atol=0.02)  # the square is where class 1 is
    image_shift, lv_shift = image_moved - image_still, lv_moved - lv_still
    assert np.linalg.norm(image_shift, axis=1).max() > 0.1  # it did move
    assert (np.linalg.norm(image_shift * SPACING[:2], axis=1) <= 3.0 + 1e-3).all()  # at most shift_mm
    np.testing.assert_allclose(image_shift, lv_shift, atol=0.02)  # by the same amount
    assert not np.allclose(image_shift[0], image_shift[1])  # slice by slice


def test_outputs_on_the_reference_grid():
    data = _case(hr_spacing=(1.0, 1.0, 2.0), hr_shape=(48, 48, 18))
    out = SimulateStage1d(errors=Stage1Errors(p_shift=1.0), seed=3)(data)
    ref = data["label"]
    for key, channels in (("image", 1), ("probs", 4)):
        assert isinstance(out[key], MetaTensor)
        assert tuple(out[key].shape) == (channels, *ref.shape[1:])
        np.testing.assert_allclose(np.asarray(out[key].affine), np.asarray(ref.affine))
    probs = np.asarray(out["probs"])
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-4)
    assert out["lr_image"] is data["lr_image"]  # inputs kept


def test_seeded_transform_is_repeatable():
    data = _case()
    a = SimulateStage1d(seed=1)(data)
    b = SimulateStage1d(seed=1)(data)
    c = SimulateStage1d(seed=2)(data)
    np.testing.assert_array_equal(np.asarray(a["probs"]), np.asarray(b["probs"]))
    assert not np.array_equal(np.asarray(a["probs"]), np.asarray(c["probs"]))


def test_errors_from_a_mapping_and_lists():
    transform = SimulateStage1d(errors={"jitter_mm": [0.5, 1.0], "p_missed": 0.2})
    assert transform.errors.jitter_mm == (0.5, 1.0) and transform.errors.p_missed == 0.2
    assert Stage1Errors(**Stage1Errors().to_dict()) == Stage1Errors()


@pytest.mark.parametrize(
    "bad",
    [
        {"jitter_mm": (-1.0, 2.0)},
        {"p_missed": -0.1},
        {"blur_mm": (2.0, 1.0)},
        {"temperature": (1.5, 0.5)},
        {"p_missed": 1.5},
        {"p_coverage": 2.0},
        {"p_shift": 1.01},
        {"shift_mm": float("nan")},
        {"jitter_scale_mm": "12"},
        {"blur_mm": 1.0},  # a range needs (min, max): a number would fail only later, inside the simulation
        {"jitter_mm": (0.0, 1.0, 2.0)},
        {"p_missed": (0.1, 0.2)},
    ],
)
def test_bad_errors_are_refused(bad):
    with pytest.raises(InputError):
        Stage1Errors(**bad)
