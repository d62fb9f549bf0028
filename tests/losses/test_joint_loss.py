"""Tests of the Gemini-GAN objective: generator loss terms and discriminator loss (the conditioned pair: tests/nets)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.losses import DiceCELoss

from custom_networks.losses import JointSRSegLoss, LeastSquaresDiscriminatorLoss
from custom_networks.nets import conditioned_pair, label_to_onehot

SHAPE = (2, 1, 6, 5, 4)


@pytest.fixture
def data() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "sr": torch.rand(SHAPE, generator=g),
        "hr_image": torch.rand(SHAPE, generator=g),
        "seg_logits": torch.randn((2, 4, *SHAPE[2:]), generator=g),
        "hr_label": torch.randint(0, 4, SHAPE, generator=g),
        "fake_scores": torch.randn((2, 1, 3, 3, 2), generator=g),
    }


def test_defaults_reproduce_original_objective(data):
    loss = JointSRSegLoss()
    assert (loss.w_img, loss.w_seg, loss.w_adv, loss.img_loss, loss.seg_loss) == (1.0, 1.0, 1e-3, "mse", "ce")
    out = loss(**data)
    mse = F.mse_loss(data["sr"], data["hr_image"])
    ce = F.cross_entropy(data["seg_logits"], data["hr_label"][:, 0])
    adv = ((data["fake_scores"] - 1) ** 2).mean()
    assert set(out) == {"loss", "img", "seg", "adv"}
    torch.testing.assert_close(out["img"], mse)
    torch.testing.assert_close(out["seg"], ce)
    torch.testing.assert_close(out["adv"], adv)
    torch.testing.assert_close(out["loss"], mse + ce + 1e-3 * adv)


def test_weights_are_applied(data):
    out = JointSRSegLoss(w_img=2.0, w_seg=0.5, w_adv=0.1)(**data)
    torch.testing.assert_close(out["loss"], 2.0 * out["img"] + 0.5 * out["seg"] + 0.1 * out["adv"])


def test_adversarial_term_zero_when_scores_are_one(data):
    data["fake_scores"] = torch.ones(2, 1, 3, 3, 2)
    out = JointSRSegLoss()(**data)
    assert out["adv"].item() == 0.0
    # multi-scale discriminators give a list of score maps
    out = JointSRSegLoss()(**{**data, "fake_scores": [torch.ones(2, 1, 2, 2, 2), torch.ones(2, 1, 1, 1, 1)]})
    assert out["adv"].item() == 0.0


def test_l1_and_dice_ce_variants(data):
    out = JointSRSegLoss(img_loss="l1", seg_loss="dice_ce")(**data)
    torch.testing.assert_close(out["img"], F.l1_loss(data["sr"], data["hr_image"]))
    reference = DiceCELoss(to_onehot_y=True, softmax=True)(data["seg_logits"], data["hr_label"])
    torch.testing.assert_close(out["seg"], reference)


def test_label_encodings_agree(data):
    loss = JointSRSegLoss()
    index = loss.seg_term(data["seg_logits"], data["hr_label"])
    as_float = loss.seg_term(data["seg_logits"], data["hr_label"].float())
    onehot = loss.seg_term(data["seg_logits"], label_to_onehot(data["hr_label"], 4))
    meta = loss.seg_term(MetaTensor(data["seg_logits"]), MetaTensor(data["hr_label"].float()))
    for value in (as_float, onehot, meta):
        torch.testing.assert_close(value, index)


def test_single_task_and_missing_terms(data):
    loss = JointSRSegLoss()
    sr_only = loss(sr=data["sr"], hr_image=data["hr_image"])
    torch.testing.assert_close(sr_only["loss"], F.mse_loss(data["sr"], data["hr_image"]))
    assert sr_only["seg"].item() == 0.0 and sr_only["adv"].item() == 0.0
    seg_only = loss(seg_logits=data["seg_logits"], hr_label=data["hr_label"])
    torch.testing.assert_close(seg_only["loss"], F.cross_entropy(data["seg_logits"], data["hr_label"][:, 0]))
    assert seg_only["img"].item() == 0.0
    # a zero weight switches a term off even when its inputs are given
    no_img = JointSRSegLoss(w_img=0.0)(**data)
    assert no_img["img"].item() == 0.0
    torch.testing.assert_close(no_img["loss"], no_img["seg"] + 1e-3 * no_img["adv"])


def test_errors(data):
    loss = JointSRSegLoss()
    with pytest.raises(ValueError, match="hr_image"):
        loss(sr=data["sr"])
    with pytest.raises(ValueError, match="hr_label"):
        loss(seg_logits=data["seg_logits"])
    with pytest.raises(ValueError, match="no loss term"):
        JointSRSegLoss(w_img=0.0)(sr=data["sr"], hr_image=data["hr_image"])
    with pytest.raises(ValueError):
        JointSRSegLoss(img_loss="ssim")
    with pytest.raises(ValueError):
        JointSRSegLoss(seg_loss="focal")


def test_loss_gradients_reach_both_outputs(data):
    sr = data["sr"].clone().requires_grad_(True)
    logits = data["seg_logits"].clone().requires_grad_(True)
    out = JointSRSegLoss()(sr=sr, hr_image=data["hr_image"], seg_logits=logits, hr_label=data["hr_label"])
    out["loss"].backward()
    assert sr.grad.abs().sum() > 0 and logits.grad.abs().sum() > 0


def test_discriminator_loss():
    real, fake = torch.randn(2, 1, 3, 3, 2), torch.randn(2, 1, 3, 3, 2)
    out = LeastSquaresDiscriminatorLoss()(real, fake)
    expected_real, expected_fake = ((real - 1) ** 2).mean(), (fake**2).mean()
    torch.testing.assert_close(out["real"], expected_real)
    torch.testing.assert_close(out["fake"], expected_fake)
    torch.testing.assert_close(out["loss"], 0.5 * (expected_real + expected_fake))
    perfect = LeastSquaresDiscriminatorLoss()(torch.ones(2, 1, 2, 2, 2), torch.zeros(2, 1, 2, 2, 2))
    assert perfect["loss"].item() == 0.0


def test_adversarial_gradient_reaches_segmentation_logits():
    """The original code's defect, fixed: fake labels reach the discriminator as probabilities, not via an argmax."""
    torch.manual_seed(0)
    disc = torch.nn.Conv3d(5, 1, kernel_size=3, padding=1)
    sr = torch.rand(2, 1, 4, 4, 3, requires_grad=True)
    logits = torch.randn(2, 4, 4, 4, 3, requires_grad=True)
    adv = JointSRSegLoss().adversarial_term(disc(conditioned_pair(sr, logits)))
    adv.backward()
    assert logits.grad.abs().sum() > 0 and sr.grad.abs().sum() > 0
