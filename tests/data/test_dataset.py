from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from monai.data import load_decathlon_datalist

from custom_networks.core.errors import InputError
from custom_networks.data import dataset as dataset_module
from custom_networks.data import ensure_dataset, split_subjects, synthesize_dataset


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "dataset"
    synthesize_dataset(out, subjects=3, domain="target_a", seed=4, progress=False)
    return out


def test_dataset_layout_and_datalist(small_dataset):
    meta = json.loads((small_dataset / "dataset.json").read_text())
    assert meta["labels"] == {"0": "background", "1": "LV blood pool", "2": "LV myocardium", "3": "RV"}
    items = meta["training"] + meta["validation"] + meta["test"]
    assert len(items) == 6 and {i["phase"] for i in items} == {"ED", "ES"}
    # Grouped by subject: both phases of a subject are in the same split.
    for split in ("training", "validation", "test"):
        subjects = [i["subject"] for i in meta[split]]
        assert all(subjects.count(s) == 2 for s in subjects)
    # MONAI reads the datalist; every referenced file exists.
    for split in ("training", "validation", "test"):
        for item in load_decathlon_datalist(
            small_dataset / "dataset.json", data_list_key=split, base_dir=small_dataset
        ):
            for key in ("image", "label", "hr_image", "lr_image", "lr_label", "tissue"):
                assert nib.load(item[key]).shape[:3]


def test_tissue_map_holds_the_thorax_and_gives_the_labels(small_dataset):
    from custom_networks.data.tissues import Tissue, tissue_to_label

    case = small_dataset / "sub-0000" / "ED"
    tissue, label = nib.load(case / "hr_tissue.nii.gz"), nib.load(case / "hr_label.nii.gz")
    np.testing.assert_allclose(tissue.affine, label.affine)
    assert tissue.get_data_dtype() == np.uint8
    values = np.asarray(tissue.dataobj)
    np.testing.assert_array_equal(tissue_to_label(values), np.asarray(label.dataobj))
    assert {Tissue.LUNG, Tissue.FAT, Tissue.MUSCLE, Tissue.OTHER_BLOOD} <= set(np.unique(values).tolist())


def test_nifti_geometry_and_types(small_dataset):
    case = small_dataset / "sub-0000" / "ED"
    hr = nib.load(case / "hr_image.nii.gz")
    lab = nib.load(case / "hr_label.nii.gz")
    lr = nib.load(case / "lr_image.nii.gz")
    lr_on_hr = nib.load(case / "lr_on_hr.nii.gz")
    np.testing.assert_allclose(lr_on_hr.affine, hr.affine)
    np.testing.assert_allclose(lab.affine, hr.affine)
    np.testing.assert_allclose(lr.header.get_zooms(), (1.8, 1.8, 10.0), atol=1e-4)  # target_a stack
    np.testing.assert_allclose(hr.header.get_zooms(), (1.25, 1.25, 2.0), atol=1e-5)
    assert lab.get_data_dtype() == np.uint8 and lab.header["intent_code"] == 1002
    assert int(hr.header["sform_code"]) == 1 and int(hr.header["qform_code"]) == 1
    # Stack slice normal = HR slice axis (same orientation).
    n_hr = hr.affine[:3, 2] / np.linalg.norm(hr.affine[:3, 2])
    n_lr = lr.affine[:3, 2] / np.linalg.norm(lr.affine[:3, 2])
    np.testing.assert_allclose(n_hr, n_lr, atol=1e-6)


def test_manifest_records_every_draw(small_dataset):
    manifest = json.loads((small_dataset / "manifest.json").read_text())
    assert manifest["arguments"]["seed"] == 4 and manifest["domain"]["name"] == "target_a"
    sub = manifest["subjects"]["sub-0001"]
    assert sub["seed"] == [4, 1]
    assert len(sub["slice_shifts_mm"]["ED"]) == nib.load(small_dataset / "sub-0001/ED/lr_image.nii.gz").shape[2]
    assert {"heart", "thorax"} <= set(sub["anatomy"]) and "lv_blood" in sub["intensities"]


def test_subject_reproducible_from_manifest_seed(small_dataset, tmp_path):
    """Subject i depends only on (seed, i): a dataset of 2 subjects reproduces sub-0001 bit for bit."""
    out = synthesize_dataset(tmp_path / "again", subjects=2, domain="target_a", seed=4, progress=False)
    a = nib.load(small_dataset / "sub-0001/ES/lr_image.nii.gz").get_fdata()
    b = nib.load(out / "sub-0001/ES/lr_image.nii.gz").get_fdata()
    np.testing.assert_array_equal(a, b)


def test_splits_are_seeded_and_disjoint():
    a, b = split_subjects(40, 0), split_subjects(40, 0)
    assert a == b and split_subjects(40, 1) != a
    all_idx = a["training"] + a["validation"] + a["test"]
    assert sorted(all_idx) == list(range(40))
    assert len(a["validation"]) == 6 and len(a["test"]) == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subjects": 0}, "positive integer"),
        ({"subjects": -3}, "positive integer"),
        ({"domain": "mars"}, "unknown domain"),
        ({"slice_thickness": 12.0, "slice_spacing": 10.0}, "overlap"),
        ({"inplane_spacing": -1.0}, "positive"),
        ({"hr_shape": (8, 8, 8)}, "hr_shape"),
        ({"labelmaps": "/nonexistent/folder"}, "not found"),
    ],
)
def test_bad_arguments_leave_nothing_behind(tmp_path, kwargs, message):
    out = tmp_path / "ds"
    with pytest.raises(InputError, match=message):
        synthesize_dataset(out, **{"subjects": 1, **kwargs}, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write"):
        synthesize_dataset(blocker / "ds", subjects=1, progress=False)


def test_existing_dataset_needs_overwrite(small_dataset):
    with pytest.raises(InputError, match="--overwrite"):
        synthesize_dataset(small_dataset, subjects=1, progress=False)


def test_failure_midway_leaves_no_partial_dataset(tmp_path, monkeypatch):
    real = dataset_module.generate_subject
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(dataset_module, "generate_subject", flaky)
    with pytest.raises(RuntimeError, match="simulated"):
        synthesize_dataset(tmp_path / "ds", subjects=3, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_ensure_dataset_generates_once(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        dataset_module,
        "synthesize_dataset",
        lambda out, **kw: calls.append(kw) or out.mkdir() or (out / "dataset.json").write_text("{}") or out,
    )
    ensure_dataset(tmp_path / "d", subjects=2)
    ensure_dataset(tmp_path / "d", subjects=2)
    assert len(calls) == 1 and calls[0]["subjects"] == 2
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.txt").write_text("x")
    with pytest.raises(InputError, match="no dataset.json"):
        ensure_dataset(tmp_path / "junk")
