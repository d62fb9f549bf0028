"""``configs/multi_gpu_train.json``: DistributedDataParallel training of the Gemini-GAN bundle, run with torchrun on
two CPU processes (gloo backend)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import check_rank_zero_switches

from custom_networks.nets import GeminiGenerator

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "gemini_gan_bundle" / "configs"
TRAIN, MULTI_GPU = CONFIGS / "train.json", CONFIGS / "multi_gpu_train.json"
TIMEOUT_S = 420

#: test-only override: after the run every rank saves its (unwrapped) networks to <output_dir>/rank<r>.pt
SAVE_RANK_STATES = {
    "+finalize": [
        "$torch.save({'generator': @network.module.state_dict(), 'discriminator': @discriminator.module.state_dict()},"
        " os.path.join(@output_dir, 'rank' + os.environ['RANK'] + '.pt'))"
    ]
}


def test_rank0_only_switches_disable_every_logging_and_saving_handler():
    """The logging / saving handlers refer to the named switch rank_zero_only_off, the generator's LrScheduleHandler
    to print_lr (no override addresses a handler by list index); the switches drop them on ranks > 0 only."""
    no_ddp = {"discriminator": "@discriminator_def"}  # d_optimizer (a _disabled_ refers to it) without a process group
    config = check_rank_zero_switches(TRAIN, MULTI_GPU, **no_ddp)
    # the discriminator runs on real and fake batches before one backward: a per-forward in-place broadcast of its
    # batch-norm statistics breaks cuDNN's batch-norm backward (seen on a GPU: benchmarks/gpu_check.py)
    assert config["discriminator"]["broadcast_buffers"] is False
    assert "DistributedSampler" in config["train#sampler#_target_"] and config["train#dataloader#shuffle"] is False
    assert "$import torch.distributed as dist" in config["imports"]  # merged with train.json's imports
    assert len(config["imports"]) > 2


def _run_torchrun(tmp: Path) -> subprocess.CompletedProcess:
    override = tmp / "save_rank_states.json"
    override.write_text(json.dumps(SAVE_RANK_STATES))
    config_files = [str(TRAIN), str(MULTI_GPU), str(override)]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "monai.bundle", "run", "--config_file", repr(config_files)]
    cmd += ["--dataset_dir", str(tmp / "data"), "--synthetic_subjects", "3", "--max_epochs", "1", "--val_interval", "1"]
    # patch depth 32: the patch discriminator (3 stride-2 layers, kernel 4) needs at least 24 voxels per axis
    cmd += ["--patch_size", "[32,32,32]", "--val_roi_size", "[64,64,32]"]
    cmd += ["--output_dir", str(tmp / "runs"), "--ckpt_dir", str(tmp / "models")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks
        out, _ = proc.communicate()
        pytest.fail(f"torchrun did not finish in {TIMEOUT_S} s (deadlock?):\n{out[-6000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, "")


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One 2-process CPU run; rank 0 generates the (missing) 3-subject dataset while rank 1 waits."""
    tmp = tmp_path_factory.mktemp("multi_gpu")
    result = _run_torchrun(tmp)
    assert result.returncode == 0, result.stdout[-8000:]
    return tmp, result


@pytest.mark.slow
def test_multi_gpu_train_writes_outputs_once_from_rank_0(ddp_run):
    tmp, result = ddp_run
    assert json.loads((tmp / "data" / "dataset.json").read_text())["numTraining"] == 2
    runs = tmp / "runs"
    assert [p.name for p in runs.glob("resume*.pt")] == ["resume_checkpoint_epoch=1.pt"]
    assert sorted(p.name for p in (tmp / "models").iterdir()) == ["gemini_synthetic.pt"]
    # one TensorBoard writer per engine (trainer, evaluator), both in one process (rank 0)
    events = [p.name for p in runs.glob("events.out.tfevents.*")]
    assert len(events) == 2 and len({name.split(".")[-2] for name in events}) == 1, events
    assert result.stdout.count("Saved checkpoint at epoch: 1") == 1  # rank 1's CheckpointSaver is disabled
    assert len(re.findall(r"Epoch\[1\] Metrics -- .*val_mean_dice", result.stdout)) == 1  # so is its StatsHandler

    model = torch.load(tmp / "models" / "gemini_synthetic.pt", map_location="cpu", weights_only=True)
    assert not [k for k in model if k.startswith("module.")]
    GeminiGenerator(features=[8, 16, 32, 64, 64], output="both").load_state_dict(model, strict=True)
    resume = torch.load(runs / "resume_checkpoint_epoch=1.pt", map_location="cpu", weights_only=True)
    assert {"generator", "discriminator", "g_opt", "d_opt", "trainer"} <= set(resume)
    for name in ("generator", "discriminator"):
        assert not [k for k in resume[name] if k.startswith("module.")]
    assert all(torch.equal(model[k], resume["generator"][k]) for k in model)


@pytest.mark.slow
def test_multi_gpu_train_keeps_the_ranks_in_sync(ddp_run):
    tmp, _ = ddp_run
    states = [torch.load(tmp / "runs" / f"rank{r}.pt", map_location="cpu", weights_only=True) for r in (0, 1)]
    # the generator: every tensor, batch-norm statistics included (broadcast from rank 0 before validation)
    generator = [s["generator"] for s in states]
    assert generator[0].keys() == generator[1].keys()
    assert [k for k in generator[0] if not torch.equal(generator[0][k], generator[1][k])] == []
    model = torch.load(tmp / "models" / "gemini_synthetic.pt", map_location="cpu", weights_only=True)
    assert all(torch.equal(model[k], generator[0][k]) for k in model)
    # the discriminator: all weights; its running statistics are per-rank between DDP's per-forward broadcasts
    discriminator = [s["discriminator"] for s in states]
    differ = [k for k in discriminator[0] if not torch.equal(discriminator[0][k], discriminator[1][k])]
    assert all(k.endswith(("running_mean", "running_var")) for k in differ), differ
