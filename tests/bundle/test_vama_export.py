"""Deployment checks of vama_bundle: metadata against the offline schema, network in/out against the metadata,
TorchScript export of the translation and reload."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO
from monai.bundle import verify_metadata, verify_net_in_out

from custom_networks.nets import VAMA

CONFIGS = REPO / "vama_bundle" / "configs"
INFER = str(CONFIGS / "inference.json")
META = str(CONFIGS / "metadata.json")
SCHEMA = str(REPO / "schemas" / "bundle_metadata.schema.json")

# verify_metadata warns that a schema given without a hash is not checked: the schema is versioned in this repository
pytestmark = pytest.mark.filterwarnings("ignore:No hash value provided")


def test_verify_metadata_with_the_offline_schema():
    # what `python -m monai.bundle verify_metadata --meta_file ... --filepath ...` runs; raises when invalid
    verify_metadata(meta_file=META, filepath=SCHEMA)


def test_verify_net_in_out_matches_metadata():
    # `python -m monai.bundle verify_net_in_out network_def --meta_file ... --config_file ...`: one forward of the
    # translation on a random input of the metadata's input shape, output checked against the metadata's `pred`
    verify_net_in_out(net_id="network_def", meta_file=META, config_file=INFER, n=1)
    verify_net_in_out(net_id="network_def", meta_file=META, config_file=INFER, n=2, features=[4, 8, 16, 32])


def test_torchscript_export_loads_and_matches_eager(tmp_path):
    torch.manual_seed(0)
    net = VAMA(features=[4, 8, 16, 32]).eval()
    ckpt = tmp_path / "model.pt"
    torch.save(net.state_dict(), ckpt)
    ts = tmp_path / "model.ts"
    cmd = [sys.executable, "-m", "monai.bundle", "ckpt_export", "network_def", "--filepath", str(ts)]
    cmd += ["--ckpt_file", str(ckpt), "--meta_file", META, "--config_file", INFER, "--features", "[4,8,16,32]"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    scripted = torch.jit.load(str(ts))
    x = torch.rand(1, 1, 32, 32, 16)
    with torch.no_grad():
        out = scripted(x)
        ref = net(x)
    assert out.shape == x.shape  # the single adapted volume MONAI Label expects
    torch.testing.assert_close(out, ref)
