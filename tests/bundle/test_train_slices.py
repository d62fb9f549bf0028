"""Training the slice segmenter through ``monai.bundle``: it learns, resumes, and its augmentation keeps image and
label aligned."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch
from conftest import GEMINI_CONFIGS, dice
from monai.bundle import ConfigParser, ConfigWorkflow

from custom_networks.core.cli import find_input_error
from custom_networks.core.errors import InputError
from custom_networks.nets import SliceSegmenter

TRAIN = str(GEMINI_CONFIGS / "train_slices.json")
META = str(GEMINI_CONFIGS / "metadata.json")


@pytest.fixture(scope="module")
def labelled_folder(tiny_dataset, tmp_path_factory):
    """The tiny generated stacks with their LR label maps, in the ``<case>_image`` / ``<case>_gt`` layout."""
    folder = tmp_path_factory.mktemp("labelled") / "stacks"
    folder.mkdir()
    for case in sorted(tiny_dataset.glob("sub-*/E?")):
        name = f"{case.parent.name}_{case.name}"
        shutil.copy(case / "lr_image.nii.gz", folder / f"{name}_image.nii.gz")
        shutil.copy(case / "lr_label.nii.gz", folder / f"{name}_gt.nii.gz")
    return folder


def _train(folder, run_dir, **overrides):
    settings = {
        "real_data": [str(folder)],
        "val_fraction": 0.0,
        "run_dir": str(run_dir),
        "channels": [8, 16, 32],
        "num_res_units": 0,
        "batch_size": 4,
        "crop_size": [64, 64],
        "pre_crop_size": [96, 96],
        "learning_rate": 0.01,
        "warmup_iterations": 2,
        "val_interval": 100,
        **overrides,
    }
    wf = ConfigWorkflow(config_file=TRAIN, meta_file=META, logging_file=False, workflow_type=None, **settings)
    wf.initialize()
    wf.run()
    wf.finalize()


def _curve(run_dir):
    with open(run_dir / "curve.csv") as f:
        return list(csv.DictReader(f))


def test_a_short_run_lowers_its_loss_and_resumes(labelled_folder, tmp_path):
    torch.manual_seed(0)
    _train(labelled_folder, tmp_path / "run", iterations=60, epoch_length=20)
    rows = _curve(tmp_path / "run")
    assert [int(r["iteration"]) for r in rows] == [20, 40, 60]
    assert float(rows[-1]["loss"]) < 0.8 * float(rows[0]["loss"])
    assert float(rows[-1]["cpu_s"]) > float(rows[0]["cpu_s"]) > 0
    final = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert set(final) == set(SliceSegmenter(channels=(8, 16, 32), num_res_units=0).state_dict())
    record = json.loads((tmp_path / "run" / "model.json").read_text())
    assert record["trained_on"] == {"stacks": ["sub-0000", "sub-0001", "sub-0002"]}
    assert record["iterations"] == 60 and record["cpu_hours"] > 0
    # started again with more iterations: goes on from iteration 60, CPU time carried over
    _train(labelled_folder, tmp_path / "run", iterations=80, epoch_length=20)
    rows = _curve(tmp_path / "run")
    assert [int(r["iteration"]) for r in rows] == [20, 40, 60, 80]
    assert float(rows[-1]["cpu_s"]) > float(rows[2]["cpu_s"])
    with pytest.raises(RuntimeError) as caught:  # MONAI wraps the error of a config expression
        _train(labelled_folder, tmp_path / "run", iterations=120, epoch_length=30)
    found = find_input_error(caught.value)
    assert isinstance(found, InputError) and "epoch_length 20, not 30" in str(found)


def test_augmentation_keeps_image_and_label_aligned():
    parser = ConfigParser()
    parser.read_config(TRAIN)
    parser["crop_size"] = [64, 64]
    parser["pre_crop_size"] = [96, 96]
    augment = parser.get_parsed_content("train#augmentation", instantiate=True)
    from monai.transforms import Compose

    pipeline = Compose(augment)
    pipeline.set_random_state(0)
    label = np.zeros((1, 120, 100, 3), np.int64)
    yy, xx = np.mgrid[:120, :100]
    label[0, ((yy - 50) ** 2 + (xx - 40) ** 2) < 15**2, :] = 1
    label[0, ((yy - 50) ** 2 + (xx - 40) ** 2 < 20**2) & (label[0, ..., 0] == 0), :] = 2
    label[0, 60:80, 60:90, :] = 3
    image = (label > 0).astype(np.float32) * 0.8 + 0.1  # the label drawn on the image
    item = {
        "image": torch.as_tensor(image),
        "label": torch.as_tensor(label),
        "labelled_slices": np.ones(3, bool),
        "slice_axis": 2,
        "labelled_classes": torch.ones(4, dtype=torch.bool),
    }
    scores = []
    for _ in range(12):
        out = pipeline(item)[0]
        assert out["image"].shape == (1, 64, 64) and out["label"].shape == (4, 64, 64)
        foreground = out["label"][1:].sum(0) > 0
        if foreground.sum() < 50:
            continue  # a crop away from the heart
        # intensity changes keep the order of the two levels: the brighter voxels are the drawn label
        img = out["image"][0]
        threshold = (img[foreground].mean() + img[~foreground].mean()) / 2 if (~foreground).any() else img.min()
        bright = img > threshold
        scores.append(dice(bright.numpy(), foreground.numpy()))
    assert len(scores) >= 4 and min(scores) > 0.85, scores


def test_the_config_reads_real_stacks_through_datalists_and_mixes_generated_ones(labelled_folder, tiny_dataset):
    """Generated stacks join training only; validation is on the real stacks whenever there are any, on the generated
    dataset's validation split otherwise; neither source is one line."""

    def datalists(**overrides):
        parser = ConfigParser()
        parser.read_config(TRAIN)
        parser.update({"val_fraction": 0.34, **overrides})
        return parser.get_parsed_content("train#datalist"), parser.get_parsed_content("validate#datalist")

    train, val = datalists(real_data=[str(labelled_folder)], generated_data=str(tiny_dataset))
    assert sum(i.get("set") == "generated" for i in train) == 2 and len(train) == 6
    assert len(val) == 2 and all(i["image"].startswith(str(labelled_folder)) for i in val)
    train, val = datalists(generated_data=str(tiny_dataset))
    assert len(train) == 2 and [i["set"] for i in val] == ["generated", "generated"]
    assert {i["subject"] for i in train}.isdisjoint({i["subject"] for i in val})
    with pytest.raises(RuntimeError) as err:  # the config's evaluation wraps the one-line error
        datalists()
    assert "no training data: give --real_data" in str(find_input_error(err.value))
