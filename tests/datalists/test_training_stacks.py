"""The stacks a training run reads: real stacks split by subject (validation on real stacks whenever there are any),
generated stacks mixed into training at the asked rate, and the record of what the run trained on."""

from __future__ import annotations

import pytest
from layout_files import nii

from custom_networks.core.errors import InputError
from custom_networks.datalists.training_stacks import (
    GENERATED_SET,
    labelled_stacks,
    mixing_weights,
    slice_training_stacks,
    trained_on,
)


@pytest.fixture
def real(tmp_path):
    root = tmp_path / "real"
    for subject in ("r0", "r1", "r2"):
        for phase in ("ED", "ES"):
            nii(root / f"{subject}_{phase}_image.nii.gz")
            nii(root / f"{subject}_{phase}_gt.nii.gz", label=True)
    return root


GENERATED = [
    {
        "image": f"/g/{s}/lr_image.nii.gz",
        "label": f"/g/{s}/lr_label.nii.gz",
        "subject": s,
        "case": s,
        "set": "generated",
    }
    for s in ("sub-0000_ED", "sub-0000_ES")
]


def test_real_and_generated_are_mixed_at_the_asked_rate(real):
    train = slice_training_stacks([str(real)], GENERATED, "training", val_fraction=0.34, seed=0)
    val = slice_training_stacks([str(real)], [], "validation", val_fraction=0.34, seed=0)
    assert sum(i.get("set") == GENERATED_SET for i in train) == 2 and len(train) == 6  # 2 real subjects x 2 + 2
    assert len(val) == 2 and not any(i.get("set") == GENERATED_SET for i in val)
    assert slice_training_stacks([str(real)], GENERATED, "validation", 0.34, 0) == val  # real ones whenever there
    assert slice_training_stacks(None, GENERATED, "validation") == GENERATED
    weights = mixing_weights(train, 0.3)
    generated = sum(w for w, i in zip(weights, train, strict=True) if i.get("set") == GENERATED_SET)
    assert generated == pytest.approx(0.3) and sum(weights) == pytest.approx(1.0)
    assert mixing_weights(train[:4], 0.3) == [1.0] * 4  # one kind only: uniform
    assert trained_on(train) == {
        "generated": ["sub-0000_ED", "sub-0000_ES"],
        "real": sorted({i["subject"] for i in train[:4]}),
    }
    with pytest.raises(InputError, match="generated_fraction 1.2"):
        mixing_weights(train, 1.2)
    with pytest.raises(InputError, match="no training data"):
        slice_training_stacks([], None, "training")


def test_real_stacks_split_by_subject(real):
    train = labelled_stacks(real, "training", val_fraction=0.34, seed=0)
    val = labelled_stacks(real, "validation", val_fraction=0.34, seed=0)
    assert len(train) == 4 and len(val) == 2
    assert {i["subject"] for i in train}.isdisjoint({i["subject"] for i in val})
    assert labelled_stacks([real, real], "validation", 0.34, 0) == val + val
    with pytest.raises(InputError, match="split 'test'"):
        labelled_stacks(real, "test")
    with pytest.raises(InputError, match="real_data: give the labelled stacks"):
        labelled_stacks(None, "training")
