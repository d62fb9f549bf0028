"""What the training configs call besides the real stacks: a generated dataset's native stacks (mixed into the slice
segmenter's training as train_slices.json does it), and the record of the weights a run starts from."""

from __future__ import annotations

import json
import shutil

import pytest

from custom_networks.bundle.training import generated_stacks, weights_record
from custom_networks.datalists import mixing_weights, slice_training_stacks, trained_on


def test_generated_stacks_are_native_stacks_with_their_own_labels(tiny_dataset):
    items = generated_stacks(tiny_dataset, "training")
    assert len(items) == 2 and all(i["set"] == "generated" for i in items)
    assert items[0]["image"].endswith("lr_image.nii.gz") and items[0]["label"].endswith("lr_label.nii.gz")
    assert generated_stacks(None) == []


def test_generated_stacks_mix_with_real_ones_as_the_config_does(tiny_dataset, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    for subject in ("sub-0000", "sub-0001", "sub-0002"):
        for phase in ("ED", "ES"):
            case = tiny_dataset / subject / phase
            shutil.copy(case / "lr_image.nii.gz", real / f"r{subject[-1]}_{phase}_image.nii.gz")
            shutil.copy(case / "lr_label.nii.gz", real / f"r{subject[-1]}_{phase}_gt.nii.gz")
    generated = generated_stacks(str(tiny_dataset), "training")
    train = slice_training_stacks([str(real)], generated, "training", val_fraction=0.34, seed=0)
    val = slice_training_stacks([str(real)], [], "validation", val_fraction=0.34, seed=0)
    assert sum(i.get("set") == "generated" for i in train) == 2 and len(train) == 6  # 2 real subjects x 2 + 2
    assert len(val) == 2 and not any(i.get("set") == "generated" for i in val)  # validation on real stacks only
    weights = mixing_weights(train, 0.3)
    assert sum(w for w, i in zip(weights, train, strict=True) if i.get("set") == "generated") == pytest.approx(0.3)
    generated_subjects = sorted({i["subject"] for i in train if i.get("set") == "generated"})
    assert generated_subjects[0].startswith("sub-") and len(generated_subjects) == 1
    assert trained_on(train) == {"generated": generated_subjects, "real": sorted({i["subject"] for i in train[:4]})}


def test_weights_record_carries_the_record_beside_the_weights(tmp_path):
    assert weights_record(None) is None
    (tmp_path / "model.pt").write_bytes(b"")
    assert weights_record(tmp_path / "model.pt") == {"weights": str(tmp_path / "model.pt")}
    (tmp_path / "model.json").write_text(json.dumps({"trained_on": {"acdc": ["patient001"]}}))
    assert weights_record(tmp_path / "model.pt")["record"]["trained_on"] == {"acdc": ["patient001"]}
