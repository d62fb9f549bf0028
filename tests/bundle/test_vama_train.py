"""Training / resume / evaluation of vama_bundle through the ``monai.bundle`` API on a tiny paired dataset."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, check_rank_zero_switches, tiny_pairs
from ignite.engine import Events
from monai.bundle import ConfigParser, ConfigWorkflow

from custom_networks.baselines import HistogramMatching
from custom_networks.bundle import latest_checkpoint
from custom_networks.nets import VAMA, GeminiGenerator

CONFIGS = REPO / "vama_bundle" / "configs"
TRAIN = str(CONFIGS / "train.json")
EVALUATE = str(CONFIGS / "evaluate.json")
MULTI_GPU = str(CONFIGS / "multi_gpu_train.json")
META = str(CONFIGS / "metadata.json")
TINY_FEATURES = [4, 8, 16, 32]
TINY_GEMINI = [4, 8, 16, 32, 32]


@pytest.fixture(scope="module")
def overrides(tmp_path_factory) -> dict:
    """Bundle overrides for fast CPU runs: tiny V-AMA, a tiny random frozen Gemini-GAN, 32^3 patches."""
    torch.manual_seed(0)
    gemini = tmp_path_factory.mktemp("gemini") / "model.pt"
    torch.save(GeminiGenerator(features=TINY_GEMINI, output="seg").state_dict(), gemini)
    return {
        "dataset_dir": str(tiny_pairs(tmp_path_factory)),
        "features": TINY_FEATURES,
        "disc_channels": 8,
        "patch_size": [32, 32, 32],
        "samples_per_volume": 1,
        "gemini_features": TINY_GEMINI,
        "gemini_ckpt": str(gemini),
        "num_workers": 0,
    }


def _fixed_batch_terms(trainer) -> dict[str, float]:
    """Generator loss terms of the model on one fixed batch (same noise every call), in eval mode."""
    source, target = trainer.state.fixed_batch
    model = trainer.model
    model.eval()
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(0)
        terms = {k: float(v) for k, v in model.generator_loss(source, target).items()}
    model.train()
    return terms


def _run(config, work: Path, run_id="run", record=None, **overrides):
    paths = {"output_dir": str(work / "runs"), "ckpt_dir": str(work / "models")}
    wf = ConfigWorkflow(
        config_file=config,
        meta_file=META,
        logging_file=False,
        run_id=run_id,
        workflow_type=None,
        **paths,
        **overrides,
    )
    wf.initialize()
    trainer = wf.parser.get_parsed_content("train#trainer") if record is not None else None
    if trainer is not None:

        def fix_batch(engine):
            with torch.random.fork_rng():
                batch = next(iter(engine.data_loader))
            engine.state.fixed_batch = engine.prepare_batch(batch, engine.state.device)
            record.append(("fixed", _fixed_batch_terms(engine)))

        trainer.add_event_handler(Events.STARTED, fix_batch)
        trainer.add_event_handler(Events.COMPLETED, lambda e: record.append(("fixed", _fixed_batch_terms(e))))
        trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: record.append(dict(e.state.output)))
        trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: record.append(("epoch", e.state.epoch)))
    wf.run()
    wf.finalize()
    return trainer


@pytest.fixture(scope="module")
def trained(overrides, tmp_path_factory) -> tuple[Path, list]:
    """6 epochs on the tiny dataset (validation, hence models/model.pt, at epochs 3 and 6)."""
    work = tmp_path_factory.mktemp("train")
    record: list = []
    _run(TRAIN, work, record=record, max_epochs=6, val_interval=3, learning_rate=0.001, **overrides)
    return work, record


@pytest.mark.slow
def test_training_logs_every_term_and_lowers_the_reconstruction_loss(trained):
    outputs = [r for r in trained[1] if isinstance(r, dict)]
    assert len(outputs) == 12  # 6 epochs x 2 training pairs (ED, ES of the training subject)
    # every loss term reaches the logs (StatsHandler / TensorBoard output_transform)
    logged = ConfigParser(ConfigParser.load_config_file(TRAIN)).get_parsed_content("train#loss_terms")(outputs[0])
    expected = {"loss", "d_loss", "g_source_mse", "g_source_l1", "g_source_kl", "g_source_adv", "g_target_mse"}
    assert expected | {"d_source_real", "d_source_fake", "d_target_real", "d_target_fake"} <= set(logged)
    # on a fixed batch, the generator loss falls: both reconstructions (translation vs aligned source, target VAE)
    before, after = [r[1] for r in trained[1] if isinstance(r, tuple) and r[0] == "fixed"]
    assert after["loss"] < before["loss"]
    for branch in ("source", "target"):
        assert after[f"{branch}_mse"] + after[f"{branch}_l1"] < 0.8 * (before[f"{branch}_mse"] + before[f"{branch}_l1"])


@pytest.mark.slow
def test_checkpoints_and_resume(trained, overrides):
    work = trained[0]
    # resume state (model with both discriminators, both optimisers, epoch) and the deployable model
    ckpt = latest_checkpoint(work / "runs")
    assert ckpt is not None and ckpt.endswith("epoch=6.pt")
    state = torch.load(ckpt, weights_only=True)
    assert {"model", "g_opt", "d_opt", "trainer"} <= set(state)
    assert state["trainer"]["iteration"] == 12
    model = torch.load(work / "models" / "model.pt", weights_only=True)
    VAMA(features=TINY_FEATURES, disc_channels=8).load_state_dict(model)  # flat state dict, strict
    # resume: continue from epoch 6 to 8, running only the 2 missing epochs
    resumed: list = []
    trainer = _run(TRAIN, work, "training", resumed, max_epochs=8, val_interval=3, resume=True, **overrides)
    assert [r[1] for r in resumed if isinstance(r, tuple) and r[0] == "epoch"] == [7, 8]
    assert trainer.state.epoch == 8 and trainer.state.iteration == 16
    assert latest_checkpoint(work / "runs").endswith("epoch=8.pt")


@pytest.mark.slow
def test_evaluate_scores_adapted_and_unadapted_target_test_cases(trained, overrides):
    from custom_networks.baselines import fit_histogram_matching, source_training_items
    from custom_networks.metric_table import read_raw

    work = trained[0]
    calibration = work / "calibration"
    hm_config = ConfigParser.load_config_files([TRAIN, str(CONFIGS / "comparators" / "histogram_matching.json")])
    fit_histogram_matching(
        HistogramMatching(),
        source_training_items(overrides["dataset_dir"]),
        ConfigParser(hm_config).get_parsed_content("fit_transform"),
        calibration,
        progress=False,
    )
    runs = (
        ({"adapt": True, "calibrate": False}, "vama"),
        ({"adapt": True, "calibration_ckpt": str(calibration / "model.pt")}, "vama_calibrated"),  # calibrate: default
        ({"adapt": False}, "no_adaptation"),
        ({"upper_bound": True}, "source_twin"),
    )
    for args, name in runs:
        _run([TRAIN, EVALUATE], work, "evaluating", bundle_root=str(work), **args, **overrides)
        with open(work / "eval" / name / "val_mean_dice_raw.csv") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 2 and all("/sub-" in r["filename"] for r in rows)  # the target test subject, ED + ES
        for metric in ("val_hd95_mm", "compat_dice", "translation_psnr", "translation_ssim", "val_dice_lv"):
            assert (work / "eval" / name / f"{metric}_raw.csv").is_file()
    psnr = {name: read_raw(work / "eval" / name / "translation_psnr_raw.csv")[:, 0] for _, name in runs}
    assert np.all(psnr["source_twin"] > 100)  # the upper bound segments the twins themselves
    assert np.all(psnr["no_adaptation"] < 40)  # another scanner's image of the same subject
    assert not np.allclose(psnr["vama"], psnr["vama_calibrated"])  # the calibration changed the translation


def test_comparator_overrides_swap_the_network_and_the_output_folders(overrides, tmp_path):
    for name, cls in (("cyclegan", "CycleGAN"), ("munit", "MUNIT"), ("bicyclegan", "BicycleGAN")):
        parser = ConfigParser(ConfigParser.load_config_files([TRAIN, str(CONFIGS / "comparators" / f"{name}.json")]))
        parser.update({"bundle_root": str(tmp_path)})
        assert parser["network_def"]["_target_"] == f"custom_networks.nets.{cls}"
        assert parser.get_parsed_content("ckpt_dir") == str(tmp_path / "models" / name)
        assert parser.get_parsed_content("output_dir") == str(tmp_path / "runs" / name)
        net = parser.get_parsed_content("network_def")
        assert type(net).__name__ == cls
        assert set(map(id, net.generator_parameters())).isdisjoint(map(id, net.discriminator_parameters()))


def test_multi_gpu_overrides():
    """DDP needs find_unused_parameters; the logging / saving handlers refer to the named switch rank_zero_only_off,
    the generators' LrScheduleHandler to print_lr (no override addresses a handler by list index), and the switches
    drop them on ranks > 0 only."""
    config = ConfigParser(ConfigParser.load_config_files([TRAIN, MULTI_GPU]))
    assert config["network"]["find_unused_parameters"] is True
    # the discriminators run several times before one backward: a per-forward in-place broadcast of their batch-norm
    # statistics breaks cuDNN's batch-norm backward (seen on a GPU: benchmarks/gpu_check.py); validation syncs them
    assert config["network"]["broadcast_buffers"] is False
    assert "dist.broadcast" in config["run"][0]
    assert config["validate#network#translator"] == "$@network.module"
    assert "$import torch.distributed as dist" in config["imports"] and len(config["imports"]) > 2
    check_rank_zero_switches(TRAIN, MULTI_GPU)


def test_histogram_matching_baseline_fits_on_the_training_sources_and_evaluates(overrides, tmp_path):
    import nibabel as nib

    config = [TRAIN, str(CONFIGS / "comparators" / "histogram_matching.json")]
    _run(config, tmp_path, "fit", **overrides)
    state = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    assert bool(state["fitted"])
    # reference = mean foreground quantiles of the percentile-scaled training sources, recomputed here with numpy
    levels = state["levels"].numpy()
    quantiles = []
    # the source cohort's own training stacks (not the aligned copies): every training item of source/dataset.json
    source = Path(overrides["dataset_dir"]) / "source"
    for item in json.loads((source / "dataset.json").read_text())["training"]:
        img = np.asarray(nib.load(source / item["image"]).dataobj, dtype=np.float64)
        lo, hi = np.percentile(img, [0.5, 99.5])
        img = np.clip((img - lo) / (hi - lo), 0.0, 1.0)
        quantiles.append(np.quantile(img[img > 0], levels))
    np.testing.assert_allclose(state["reference"].numpy(), np.mean(quantiles, 0), atol=2e-3)

    _run([*config, EVALUATE], tmp_path, "evaluating", bundle_root=str(tmp_path), **overrides)
    with open(tmp_path / "eval" / "histogram_matching" / "val_mean_dice_raw.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and all("/sub-" in r["filename"] for r in rows)


def test_evaluate_without_source_twins(trained, overrides, tmp_path):
    """A real paired cohort (no data-engine manifest, so no twins): translations are compared with the aligned source,
    and the upper bound stops with a clear message."""
    data = tmp_path / "pairs"
    shutil.copytree(overrides["dataset_dir"], data, ignore=shutil.ignore_patterns("manifest.json", "source_twin"))
    pairs = json.loads((data / "pairs.json").read_text())
    for split in ("training", "validation", "test", "rejected"):
        for item in pairs[split]:
            item.pop("target_twin", None)
            item.pop("target_twin_hr_image", None)
    (data / "pairs.json").write_text(json.dumps(pairs))
    args = {**overrides, "dataset_dir": str(data), "bundle_root": str(tmp_path), "calibrate": False}
    _run([TRAIN, EVALUATE], trained[0], "evaluating", **args)
    assert (tmp_path / "eval" / "vama" / "translation_psnr_raw.csv").is_file()
    assert not (data / "source_twin").exists()
    with pytest.raises(RuntimeError) as err:
        _run([TRAIN, EVALUATE], trained[0], "evaluating", upper_bound=True, **args)
    assert "needs source twins" in repr(err.value.__cause__) + str(err.getrepr())
