"""Self-supervised SR fine-tuning on real stacks (``train_sr_real.json``): a few iterations on tiny synthetic stacks,
stage 1 cached, only the SR decoder trained, the curve, the weights and their record written."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from conftest import GEMINI_CONFIGS
from monai.bundle import ConfigWorkflow
from scipy import ndimage

from custom_networks.core.nifti import save_nifti
from custom_networks.nets import ConditionedGeminiGenerator

TRAIN = str(GEMINI_CONFIGS / "train_sr_real.json")
META = str(GEMINI_CONFIGS / "metadata.json")
FEATURES = [8, 16, 32, 64]


@pytest.fixture(scope="module")
def cine_folder(tmp_path_factory):
    """A ``cine_sax``-like folder of two tiny stacks (1.5 x 1.5 x 10 mm, 7 slices) with their pseudo-labels."""
    root = tmp_path_factory.mktemp("cine") / "cine_sax"
    source = root / "synthetic"
    source.mkdir(parents=True)
    rng = np.random.default_rng(0)
    affine = np.diag([1.5, 1.5, 10.0, 1.0])
    for phase in ("ed", "es"):
        image = ndimage.gaussian_filter(rng.random((48, 40, 7)), (3, 3, 0)).astype(np.float32) * 1000
        label = np.zeros(image.shape, np.uint8)
        label[18:30, 14:26, 1:6] = 3
        save_nifti(image, affine, source / f"sax_{phase}.nii.gz")
        save_nifti(label, affine, source / f"sax_{phase}_pseudolabel.nii.gz", label=True)
    return root


def test_a_short_run_trains_only_the_sr_decoder_and_writes_its_record(cine_folder, tmp_path):
    torch.manual_seed(0)
    start = ConditionedGeminiGenerator(features=FEATURES)
    for p in start.parameters():  # non-zero heads: the SR decoder's gradient reaches every layer
        torch.nn.init.normal_(p, std=0.05)
    pretrained = tmp_path / "pretrained.pt"
    torch.save({"model": start.state_dict()}, pretrained)
    run_dir, final = tmp_path / "run", tmp_path / "out" / "sr_real.pt"
    wf = ConfigWorkflow(
        config_file=TRAIN,
        meta_file=META,
        logging_file=False,
        workflow_type=None,
        real_data=None,
        cine_data=[str(cine_folder)],
        pretrained_path=str(pretrained),
        run_dir=str(run_dir),
        final_ckpt=str(final),
        iterations=4,
        epoch_length=2,
        batch_size=2,
        roi_size=[16, 16, 16],
        features=FEATURES,
        learning_rate=0.01,
    )
    wf.initialize()
    wf.run()
    wf.finalize()

    stacks = json.loads((run_dir / "stage1" / "stacks.json").read_text())
    assert [s["case"] for s in stacks["stacks"]] == ["cine_sax_synthetic_ed", "cine_sax_synthetic_es"]
    for s in stacks["stacks"]:
        probs = np.asarray(__import__("nibabel").load(s["probs"]).dataobj)
        assert probs.shape == (48, 40, 7, 4)
        np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-4)

    with open(run_dir / "curve.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == [2, 4]
    assert all(np.isfinite(float(r["loss"])) and float(r["cpu_s"]) > 0 for r in rows)

    after = torch.load(final, map_location="cpu", weights_only=True)
    before = start.state_dict()
    assert set(after) == set(before)  # the whole generator, both decoders
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("sr_decoder.") for k in changed)  # encoder and seg decoder frozen

    record = json.loads(final.with_suffix(".json").read_text())
    assert record["trained_on"] == {"cine_sax": ["synthetic_ed", "synthetic_es"]}
    assert record["held_out_subjects"] == {} and record["iterations"] == 4
    assert record["started_from"]["weights"] == str(pretrained)
