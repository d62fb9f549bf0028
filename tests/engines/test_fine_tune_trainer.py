"""FineTuneTrainer: a Gemini-GAN step on synthetic batches whose generator loss also holds the labelled-slice loss of
a real batch (world coordinates, labelled slices only)."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader, MetaTensor
from monai.utils import set_determinism
from test_joint_gan_trainer import TinyDiscriminator, TinyGenerator, make_items

from custom_networks.engines import FineTuneTrainer
from custom_networks.losses import JointSRSegLoss

HR_AFFINE = torch.diag(torch.tensor([1.25, 1.25, 2.0, 1.0], dtype=torch.float64))


def real_items(n: int = 3, seed: int = 1) -> list[dict]:
    """Real-like items: an image on a (16, 16, 8) HR grid, its label on a thick-slice grid (4 mm slices) in the same
    world space, the LV a bright block."""
    g = torch.Generator().manual_seed(seed)
    items = []
    label_affine = torch.diag(torch.tensor([1.25, 1.25, 4.0, 1.0], dtype=torch.float64))
    label_affine[2, 3] = 1.0  # thick slice k covers HR slices 2k and 2k + 1
    for _ in range(n):
        image = 0.1 * torch.rand((1, 16, 16, 8), generator=g)
        image[:, 4:12, 4:12, 2:6] += 0.8
        label = torch.zeros((16, 16, 4), dtype=torch.long)
        label[4:12, 4:12, 1:3] = 1
        items.append(
            {
                "image": MetaTensor(image, affine=HR_AFFINE.clone()),
                "label": MetaTensor(label, affine=label_affine.clone()),
                "labelled_slices": torch.ones(4, dtype=torch.bool),
                "labelled_classes": torch.tensor([True, True, False, False]),
                "slice_axis": 2,
            }
        )
    return items


def build(w_real: float = 1.0, synthetic: int = 4, real: int = 3, max_epochs: int = 1, lr: float = 1e-2):
    set_determinism(0)
    generator, discriminator = TinyGenerator(), TinyDiscriminator()
    return FineTuneTrainer(
        device="cpu",
        max_epochs=max_epochs,
        train_data_loader=DataLoader(real_items(real), batch_size=1, shuffle=False),
        synthetic_data_loader=DataLoader(make_items(synthetic), batch_size=2, shuffle=True),
        generator=generator,
        g_optimizer=torch.optim.Adam(generator.parameters(), lr=lr),
        g_loss=JointSRSegLoss(),
        discriminator=discriminator,
        d_optimizer=torch.optim.Adam(discriminator.parameters(), lr=lr),
        w_real=w_real,
    )


@pytest.mark.parametrize("w_real", [0.0, 2.0])
def test_generator_loss_holds_the_weighted_real_term(w_real):
    trainer = build(w_real)
    outputs = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: outputs.append(dict(e.state.output)))
    trainer.run()
    assert len(outputs) == 3  # one iteration per real batch; the 2 synthetic batches are restarted
    for out in outputs:
        synthetic = out["g_img"] + out["g_seg"] + 1e-3 * out["g_adv"]
        assert float(out["g_real"]) > 0.05
        assert float(out["loss"]) == pytest.approx(float(synthetic + w_real * out["g_real"]), rel=1e-5)
        assert "d_loss" in out  # the discriminator step ran on the synthetic batch


def test_the_real_term_teaches_the_generator_the_real_labels():
    trainer = build(w_real=1.0, real=1, max_epochs=60, lr=2e-2)
    real = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: real.append(float(e.state.output["g_real"])))
    trainer.run()
    assert sum(real[-5:]) / 5 < 0.5 * sum(real[:5]) / 5, real[::10]


def test_real_batch_without_affine_is_refused():
    trainer = build()
    item = real_items(1)[0]
    item["image"] = item["image"].as_tensor()
    trainer.data_loader = DataLoader([item], batch_size=1)
    with pytest.raises(ValueError, match="MetaTensor carrying its affine"):
        trainer.run()
