"""finetune_real.json: fine-tuning gemini_gan_bundle on labelled stacks (own grids, world coordinates) through the
``monai.bundle`` API, mixed with synthetic batches; and the labelled-stack lists it reads."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from conftest import GEMINI_CONFIGS, tiny_overrides
from ignite.engine import Events
from monai.bundle import ConfigWorkflow

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import file_sha256
from custom_networks.datalists import labelled_stacks

CONFIGS = [str(GEMINI_CONFIGS / "train.json"), str(GEMINI_CONFIGS / "finetune_real.json")]
META = str(GEMINI_CONFIGS / "metadata.json")
SHIPPED = GEMINI_CONFIGS.parent / "models" / "gemini_synthetic.pt"


def _real_datalist(dataset, path):
    """The generated stacks with their stack-grid labels, as a decathlon datalist of 'real' labelled stacks."""
    data = json.loads((dataset / "dataset.json").read_text())
    real = {
        split: [{"image": str(dataset / i["lr_image"]), "label": str(dataset / i["lr_label"])} for i in data[split]]
        for split in ("training", "validation")
    }
    path.write_text(json.dumps(real))
    return path


@pytest.mark.slow
def test_fine_tuning_runs_validates_on_the_stack_grid_and_keeps_the_shipped_weights(tiny_dataset, tmp_path):
    over = tiny_overrides(tiny_dataset, tmp_path)
    over.pop("features")  # the shipped network: fine-tuning starts from its weights
    before = file_sha256(SHIPPED)
    wf = ConfigWorkflow(
        config_file=CONFIGS,
        meta_file=META,
        logging_file=False,
        run_id="training",
        workflow_type=None,
        real_data=str(_real_datalist(tiny_dataset, tmp_path / "real.json")),
        real_patch_size=[48, 48, 32],
        max_epochs=1,
        ckpt_dir=str(tmp_path / "finetuned"),
        **{k: v for k, v in over.items() if k != "ckpt_dir"},
    )
    wf.initialize()
    trainer = wf.parser.get_parsed_content("train#trainer")
    real = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: real.append(float(e.state.output["g_real"])))
    wf.run()
    wf.finalize()
    assert len(real) == 2 and all(0.0 < v < 2.0 for v in real)  # one iteration per training stack (ED, ES)
    metrics = wf.parser.get_parsed_content("validate#evaluator").state.metrics
    # the shipped weights, scored on the stacks' own grids: as good as on the HR grid of the generated test split
    assert metrics["val_dice_lv"] > 0.85 and metrics["val_dice_rv"] > 0.8 and metrics["val_dice_myo"] > 0.7, metrics
    assert (tmp_path / "finetuned" / "gemini_synthetic.pt").is_file()
    assert file_sha256(SHIPPED) == before


def _flat_set(folder, subjects=3):
    folder.mkdir()
    affine = np.diag([1.5, 1.5, 8.0, 1.0])
    for s in range(subjects):
        for phase in ("ED", "ES"):
            image = np.random.default_rng(s).random((12, 12, 4)).astype(np.float32) * 100
            label = np.zeros((12, 12, 4), np.uint8)
            label[3:8, 3:8, 1:3] = 1
            nib.save(nib.Nifti1Image(image, affine), folder / f"p{s}_{phase}_image.nii.gz")
            nib.save(nib.Nifti1Image(label, affine), folder / f"p{s}_{phase}_gt.nii.gz")
    return folder


def test_a_folder_is_split_by_subject(tmp_path):
    folder = _flat_set(tmp_path / "set", subjects=5)
    train = labelled_stacks(folder, "training", val_fraction=0.2, seed=0)
    val = labelled_stacks(folder, "validation", val_fraction=0.2, seed=0)
    assert len(train) == 8 and len(val) == 2
    subjects = {i["subject"] for i in train}
    assert not subjects & {i["subject"] for i in val}
    assert all(i["label"].endswith("_gt.nii.gz") and i["image"].endswith("_image.nii.gz") for i in train + val)


def test_one_subject_validates_on_its_training_stacks(tmp_path, caplog):
    folder = _flat_set(tmp_path / "set", subjects=1)
    assert labelled_stacks(folder, "validation") == labelled_stacks(folder, "training")
    assert "validating on the training stacks" in caplog.text


def test_a_datalist_file_keeps_its_splits_and_paths_relative_to_it(tmp_path):
    folder = _flat_set(tmp_path / "set", subjects=2)
    (tmp_path / "list.json").write_text(
        json.dumps(
            {
                "training": [{"image": "set/p0_ED_image.nii.gz", "label": "set/p0_ED_gt.nii.gz"}],
                "validation": [{"image": "set/p1_ED_image.nii.gz", "label": "set/p1_ED_gt.nii.gz"}],
            }
        )
    )
    (val,) = labelled_stacks(tmp_path / "list.json", "validation")
    assert val["image"] == str(folder / "p1_ED_image.nii.gz")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "give the labelled stacks"),
        ("missing", "labelled stacks not found"),
        ("bad.json", "must be a list of items"),
    ],
)
def test_bad_sources_are_named(tmp_path, source, message):
    (tmp_path / "bad.json").write_text(json.dumps({"training": [{"image": "x"}]}))
    with pytest.raises(InputError, match=message):
        labelled_stacks(None if source is None else tmp_path / source, "training")


def test_fine_tuning_without_labelled_stacks_says_so():
    wf = ConfigWorkflow(config_file=CONFIGS, meta_file=META, logging_file=False, workflow_type=None)
    with pytest.raises(RuntimeError) as err:  # MONAI's wrapper; the CLI's error handler prints the cause's line
        wf.parser.get_parsed_content("train#dataset#data")
    assert isinstance(err.value.__cause__, InputError) and "--real_data" in str(err.value.__cause__)
