"""The shipped weights of the 3D step (the Gemini-GAN generator conditioned on the slice segmenter)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from custom_networks.core.geometry import hr_grid_for, resample_to_grid
from custom_networks.core.overlap import dice_per_class
from custom_networks.data import generate_subject, get_domain
from custom_networks.nets import ConditionedGeminiGenerator
from custom_networks.transforms import HeartRegionGeminid

WEIGHTS = Path(__file__).resolve().parents[2] / "gemini_gan_bundle" / "models" / "gemini_conditioned.pt"


@pytest.fixture(scope="module")
def step():
    """The 3D step with the shipped weights (no stage-1 network: the tests give it stage 1's probabilities)."""
    return HeartRegionGeminid(ConditionedGeminiGenerator(), ckpt_path=WEIGHTS)


def _normalise(x: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(x, [0.5, 99.5])
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def test_with_true_slice_labels_the_3d_segmentation_beats_nearest_neighbour_upsampling(step):
    """Stage 1 perfect (the acquired label maps, one-hot): on generated subjects no training set used (the bundle's
    datasets draw entropy (seed, index) with other seeds), the HR segmentation must beat nearest-neighbour up-sampling
    of those same labels against the generated HR truth, in world coordinates: a higher mean Dice over the classes,
    and no class more than 0.01 below."""
    staged, floor = [], []
    for index in range(3):
        subject = generate_subject([4242, index], get_domain("source"))
        for case in subject.phases.values():
            lr_affine = torch.as_tensor(case.lr_affine)
            probs = np.stack([(case.lr_label == c) for c in range(4)]).astype(np.float32)
            data = {
                "image": MetaTensor(torch.as_tensor(_normalise(case.lr_image))[None], affine=lr_affine),
                "pred": MetaTensor(torch.as_tensor(probs), affine=lr_affine.clone()),
            }
            out = step(data)
            pred = np.asarray(out["pred"]).argmax(0)
            out_affine = np.asarray(out["pred"].affine)
            hr_shape, hr_affine, _ = hr_grid_for(case.lr_image.shape, case.lr_affine)
            assert pred.shape == tuple(hr_shape)
            np.testing.assert_allclose(out_affine, hr_affine, atol=1e-6)
            # the generated truth (on the subject's own HR grid) and the nearest-neighbour floor, on the output grid
            truth = resample_to_grid(case.hr_label, subject.hr_affine, pred.shape, out_affine, order=0, mode="constant")
            nearest = resample_to_grid(case.lr_label, case.lr_affine, pred.shape, out_affine, order=0)
            staged.append(dice_per_class(pred, truth))
            floor.append(dice_per_class(nearest, truth))
    ours = {c: np.mean([d[c] for d in staged]) for c in (1, 2, 3)}
    nearest = {c: np.mean([d[c] for d in floor]) for c in (1, 2, 3)}
    assert np.mean(list(ours.values())) > np.mean(list(nearest.values())), (ours, nearest)
    assert all(ours[c] > nearest[c] - 0.01 for c in (1, 2, 3)), (ours, nearest)
