"""Training / resume / evaluation of gemini_gan_bundle through the ``monai.bundle`` API on tiny generated data."""

from __future__ import annotations

import csv

import pytest
import torch
from conftest import GEMINI_CONFIGS, tiny_overrides
from ignite.engine import Events
from monai.bundle import ConfigWorkflow

from custom_networks.bundle import latest_checkpoint
from custom_networks.nets import GeminiGenerator

TRAIN = str(GEMINI_CONFIGS / "train.json")
EVALUATE = str(GEMINI_CONFIGS / "evaluate.json")
META = str(GEMINI_CONFIGS / "metadata.json")


def _run(config, run_id="run", record=None, **overrides):
    wf = ConfigWorkflow(
        config_file=config, meta_file=META, logging_file=False, run_id=run_id, workflow_type=None, **overrides
    )
    wf.initialize()
    trainer = wf.parser.get_parsed_content("train#trainer") if record is not None else None
    if trainer is not None:
        trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: record.append(float(e.state.output["g_img"])))
        trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: record.append(("epoch", e.state.epoch)))
    wf.run()
    wf.finalize()
    return trainer


@pytest.mark.slow
def test_training_lowers_loss_writes_checkpoints_and_resumes(tiny_dataset, tmp_path):
    over = tiny_overrides(tiny_dataset, tmp_path)
    losses = []
    _run(TRAIN, record=losses, max_epochs=12, val_interval=6, learning_rate=0.003, **over)
    values = [v for v in losses if not isinstance(v, tuple)]
    assert len(values) == 24  # 12 epochs x 2 training cases (ED, ES of the training subject)
    # The SR term of the generator loss falls steadily (the segmentation term is noisier on random patches).
    assert sum(values[-4:]) / 4 < 0.5 * sum(values[:4]) / 4
    # Resume state (both networks, both optimisers, epoch) and the deployable model.
    ckpt = latest_checkpoint(tmp_path / "runs")
    assert ckpt is not None and ckpt.endswith("epoch=12.pt")
    state = torch.load(ckpt, weights_only=True)
    assert {"generator", "discriminator", "g_opt", "d_opt", "trainer"} <= set(state)
    assert state["trainer"]["iteration"] == 24
    model = torch.load(tmp_path / "models" / "gemini_synthetic.pt", weights_only=True)
    GeminiGenerator(features=over["features"]).load_state_dict(model)  # flat state dict, strict
    # Resume: continue from epoch 12 to 14, running only the 2 missing epochs.
    resumed = []
    trainer = _run(TRAIN, run_id="training", record=resumed, max_epochs=14, val_interval=6, resume=True, **over)
    epochs = [v[1] for v in resumed if isinstance(v, tuple)]
    assert epochs == [13, 14]
    assert trainer.state.epoch == 14 and trainer.state.iteration == 28
    assert latest_checkpoint(tmp_path / "runs").endswith("epoch=14.pt")


@pytest.mark.slow
def test_evaluate_writes_per_case_metrics(tiny_dataset, tmp_path):
    over = tiny_overrides(tiny_dataset, tmp_path)
    _run(TRAIN, max_epochs=1, val_interval=1, **over)
    _run([TRAIN, EVALUATE], run_id="evaluating", eval_dir=str(tmp_path / "eval"), **over)
    with open(tmp_path / "eval" / "val_mean_dice_raw.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and all("/sub-" in r["filename"] for r in rows)  # the test subject, ED and ES
    for row in rows:
        for c in ("class0", "class1", "class2"):
            assert 0.0 <= float(row[c]) <= 1.0
    for name in ("val_hd95_mm", "val_psnr", "val_ssim", "compat_dice", "compat_psnr", "compat_ssim"):
        assert (tmp_path / "eval" / f"{name}_raw.csv").is_file()
