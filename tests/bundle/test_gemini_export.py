"""Deployment checks of gemini_gan_bundle: network in/out against metadata, TorchScript export and reload (the
default slice segmenter, and the Gemini-GAN generator with its override config)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from conftest import GEMINI_CONFIGS, REPO

from custom_networks.nets import GeminiGenerator, SliceSegmenter

INFER = str(GEMINI_CONFIGS / "inference.json")
GEMINI = f"['{INFER}','{GEMINI_CONFIGS / 'inference_gemini.json'}']"
META = str(GEMINI_CONFIGS / "metadata.json")


def _bundle(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "monai.bundle", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=300
    )


def test_verify_net_in_out_matches_metadata():
    proc = _bundle("verify_net_in_out", "network_def", "--meta_file", META, "--config_file", INFER)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "data shape of network is verified with no error" in (proc.stdout + proc.stderr)


@pytest.mark.parametrize(
    ("config", "net", "args", "shape"),
    [
        (INFER, lambda: SliceSegmenter(channels=[4, 8, 16], num_res_units=0), ["--channels", "[4,8,16]",
         "--num_res_units", "0"], (1, 1, 32, 48)),
        (GEMINI, lambda: GeminiGenerator(features=[4, 8, 16, 32, 32], output="seg"), ["--features", "[4,8,16,32,32]"],
         (1, 1, 32, 32, 16)),
    ],
    ids=["slice_segmenter", "gemini"],
)  # fmt: skip
def test_torchscript_export_loads_and_matches_eager(tmp_path, config, net, args, shape):
    torch.manual_seed(0)
    net = net().eval()
    ckpt = tmp_path / "model.pt"
    torch.save(net.state_dict(), ckpt)
    ts = tmp_path / "model.ts"
    proc = _bundle(
        "ckpt_export", "network_def", "--filepath", str(ts), "--ckpt_file", str(ckpt), "--meta_file", META,
        "--config_file", config, *args,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    scripted = torch.jit.load(str(ts))
    x = torch.rand(*shape)
    with torch.no_grad():
        out = scripted(x)
        ref = net(x)
    assert out.shape == (1, 4, *shape[2:])  # the single "seg" tensor MONAI Label expects
    torch.testing.assert_close(out, ref)
