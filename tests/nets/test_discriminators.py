"""Tests of the conditioned discriminator input (``conditioned_pair``) and of the two discriminators."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.losses import PatchAdversarialLoss
from monai.networks.nets import PatchDiscriminator

from custom_networks.nets import (
    ConditionalPatchDiscriminator,
    GeminiGenerator,
    SegSRGenerator,
    SRGANDiscriminator,
    conditioned_pair,
    label_to_onehot,
)

torch.set_num_threads(1)

SHAPE = (2, 1, 32, 32, 16)
LSGAN = PatchAdversarialLoss(criterion="least_squares")


def test_conditioned_pair_of_logits_is_softmax_probabilities_with_gradient():
    sr = torch.rand(SHAPE)
    logits = torch.randn(2, 4, *SHAPE[2:], requires_grad=True)
    pair = conditioned_pair(sr, logits)
    assert pair.shape == (2, 5, *SHAPE[2:]) and pair.dtype == torch.float32
    torch.testing.assert_close(pair[:, :1], sr)
    torch.testing.assert_close(pair[:, 1:], torch.softmax(logits, 1))
    torch.testing.assert_close(pair[:, 1:].sum(1), torch.ones(2, *SHAPE[2:]))
    # a non-linear function of the probabilities (a sum of softmax would have zero gradient)
    (pair[:, 1:] ** 2 * torch.arange(4.0).view(1, 4, 1, 1, 1)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    assert conditioned_pair(sr, None) is sr  # image-only discriminator (SR-GAN baseline)
    with pytest.raises(ValueError, match="differ in batch or spatial shape"):
        conditioned_pair(sr, torch.randn(2, 4, 32, 32, 8))


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.float32])
def test_conditioned_pair_one_hot_encodes_label_maps(dtype):
    image = torch.rand(SHAPE)
    labels = torch.randint(0, 4, (2, 1, *SHAPE[2:])).to(dtype)
    pair = conditioned_pair(image, labels, num_classes=4)
    assert pair.shape == (2, 5, *SHAPE[2:]) and pair.dtype == torch.float32 and not pair.requires_grad
    torch.testing.assert_close(pair[:, :1], image)
    torch.testing.assert_close(pair[:, 1:], F.one_hot(labels[:, 0].long(), 4).movedim(-1, 1).float())
    # an already one-hot input is passed through
    torch.testing.assert_close(conditioned_pair(image, pair[:, 1:], softmax=False), pair)
    torch.testing.assert_close(conditioned_pair(None, pair[:, 1:], softmax=False), pair[:, 1:])
    # MetaTensor inputs (from MONAI transforms) give plain tensors
    assert type(conditioned_pair(MetaTensor(image), MetaTensor(labels))) is torch.Tensor


def test_conditioned_pair_and_label_to_onehot_bad_inputs_raise():
    onehot = label_to_onehot(torch.randint(0, 4, (1, 1, 3, 3, 2)), 4)
    assert onehot.shape == (1, 4, 3, 3, 2) and torch.equal(onehot.sum(1), torch.ones(1, 3, 3, 2))
    grey, zeros = torch.rand(1, 1, 3, 3, 2), torch.zeros(1, 1, 3, 3, 2)
    assert conditioned_pair(grey, zeros, num_classes=3).shape == (1, 4, 3, 3, 2)
    with pytest.raises(ValueError, match="at least one"):
        conditioned_pair(None, None)
    with pytest.raises(ValueError, match=r"\(B, 1, \*spatial\)"):
        label_to_onehot(onehot, 4)


def test_conditioned_pair_is_available_on_the_discriminators():
    for cls in (ConditionalPatchDiscriminator, SRGANDiscriminator):
        assert cls.conditioned_pair is conditioned_pair


@pytest.mark.parametrize(
    ("kwargs", "shape", "out_shape"),
    [
        ({}, SHAPE, (2, 1, 6, 6, 2)),
        ({"layout": "2d", "num_slices": 16}, SHAPE, (2, 1, 6, 6)),
        ({"num_classes": 0}, SHAPE, (2, 1, 6, 6, 2)),
    ],
)
def test_conditional_patch_discriminator_returns_final_patch_map(kwargs, shape, out_shape):
    torch.manual_seed(0)
    disc = ConditionalPatchDiscriminator(channels=4, num_layers_d=2, **kwargs)
    n_classes = kwargs.get("num_classes", 4)
    x = torch.rand(shape[0], 1 + n_classes, *shape[2:])
    out = disc(x)
    assert isinstance(out, torch.Tensor) and out.shape == out_shape
    folded = x.permute(0, 1, 4, 2, 3).reshape(2, -1, 32, 32) if disc.layout == "2d" else x
    torch.testing.assert_close(out, PatchDiscriminator.forward(disc, folded)[-1])  # = MONAI's last output


def test_conditional_patch_discriminator_default_is_five_conv4x4_layers():
    disc = ConditionalPatchDiscriminator()
    convs = [m for m in disc.modules() if isinstance(m, torch.nn.Conv3d)]
    assert len(convs) == 5 and all(c.kernel_size == (4, 4, 4) for c in convs)
    assert convs[0].in_channels == 5 and convs[-1].out_channels == 1
    assert disc(torch.rand(1, 5, 24, 24, 24)).shape == (1, 1, 1, 1, 1)  # minimum size 3 * 2 ** 3


@pytest.mark.parametrize("kwargs", [{}, {"layout": "2d", "num_slices": 16}, {"sigmoid": True}])
def test_srgan_discriminator_scores(kwargs):
    torch.manual_seed(0)
    disc = SRGANDiscriminator(features=(8, 16), hidden_channels=16, **kwargs)
    out = disc(torch.rand(2, 5, *SHAPE[2:]))
    assert out.shape == (2, 1)
    if kwargs.get("sigmoid"):
        assert ((out > 0) & (out < 1)).all()


def test_srgan_discriminator_original_structure():
    disc = SRGANDiscriminator(layout="2d", num_slices=100)
    convs = [m for m in disc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].in_channels == 500  # [grey, 4 class probabilities] x 100 slices
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512, 1024, 1]
    assert [c.stride[0] for c in convs[:8]] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert [c.kernel_size[0] for c in convs] == [3] * 8 + [1, 1]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in disc.modules()) == 7


def _seg_head_grads(generator, discriminator, use_argmax: bool) -> list[torch.Tensor | None]:
    generator.zero_grad(set_to_none=True)
    sr, logits = generator(torch.rand(SHAPE))
    if use_argmax:  # the original: the label map reaches the discriminator through argmax
        labels = logits.argmax(1, keepdim=True)
        fake = conditioned_pair(sr, labels, num_classes=4)
    else:
        fake = conditioned_pair(sr, logits)
    loss = LSGAN(discriminator(fake), target_is_real=True, for_discriminator=False)
    loss.backward()
    assert generator.sr_decoder.head.conv.weight.grad.abs().sum() > 0  # the SR branch gets a gradient either way
    return [p.grad for p in generator.seg_decoder.parameters()]


@pytest.mark.parametrize(("layout", "disc_cls"), [("3d", ConditionalPatchDiscriminator), ("2d", SRGANDiscriminator)])
def test_adversarial_gradient_reaches_segmentation_decoder(layout, disc_cls):
    torch.manual_seed(0)
    layout_kwargs = {"layout": layout, "num_slices": 16} if layout == "2d" else {}
    generator = GeminiGenerator(features=(4, 8, 8), **layout_kwargs)
    if disc_cls is ConditionalPatchDiscriminator:
        discriminator = disc_cls(channels=4, num_layers_d=2, **layout_kwargs)
    else:
        discriminator = disc_cls(features=(8, 16), hidden_channels=16, **layout_kwargs)
    grads = _seg_head_grads(generator, discriminator, use_argmax=False)
    assert all(g is not None for g in grads)
    assert generator.seg_decoder.head.conv.weight.grad.abs().sum() > 0
    assert sum(g.abs().sum() for g in grads) > 0
    # contrast: through argmax no adversarial gradient reaches the segmentation decoder
    grads = _seg_head_grads(generator, discriminator, use_argmax=True)
    assert all(g is None for g in grads)


def test_adversarial_gradient_reaches_segsr_seg_head():
    torch.manual_seed(0)
    generator = SegSRGenerator(features=4, num_res_blocks=1)
    discriminator = ConditionalPatchDiscriminator(channels=4, num_layers_d=2)
    sr, logits = generator(torch.rand(SHAPE))
    LSGAN(discriminator(conditioned_pair(sr, logits)), target_is_real=True, for_discriminator=False).backward()
    assert generator.seg_head.conv.weight.grad.abs().sum() > 0


def test_discriminator_step_trains_every_discriminator_parameter():
    torch.manual_seed(0)
    discriminator = ConditionalPatchDiscriminator(channels=4, num_layers_d=2)
    real = conditioned_pair(torch.rand(SHAPE), torch.randint(0, 4, (2, 1, *SHAPE[2:])))
    fake = conditioned_pair(torch.rand(SHAPE), torch.randn(2, 4, *SHAPE[2:]))
    loss = LSGAN(discriminator(real), target_is_real=True, for_discriminator=True) + LSGAN(
        discriminator(fake.detach()), target_is_real=False, for_discriminator=True
    )
    loss.backward()
    assert all(p.grad is not None for p in discriminator.parameters())
    assert discriminator.final_conv.conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("cls", [ConditionalPatchDiscriminator, SRGANDiscriminator])
def test_discriminator_bad_arguments_and_inputs_raise(cls):
    with pytest.raises(ValueError, match="layout must be one of"):
        cls(layout="1d")
    with pytest.raises(ValueError, match="needs num_slices"):
        cls(layout="2d")
    with pytest.raises(ValueError, match="num_classes"):
        cls(num_classes=-1)
    small = {"channels": 4, "num_layers_d": 2} if cls is ConditionalPatchDiscriminator else {"features": (4,)}
    with pytest.raises(ValueError, match=r"\(B, 5, H, W, D\)"):
        cls(**small)(torch.rand(1, 4, *SHAPE[2:]))
    with pytest.raises(ValueError, match="built for 16 slices"):
        cls(layout="2d", num_slices=16, **small)(torch.rand(1, 5, 32, 32, 8))
