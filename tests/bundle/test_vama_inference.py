"""Inference of vama_bundle: target-domain stacks in any orientation -> adapted volumes on the HR grid in world
coordinates, 4D frames, bad inputs, the chained Gemini-GAN segmentation."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from conftest import REPO, reoriented_copy, tiny_pairs
from monai.bundle import ConfigWorkflow

from custom_networks.core.geometry import apply_affine, spacing_from_affine
from custom_networks.nets import VAMA, GeminiGenerator
from custom_networks.pairs import load_pairs

CONFIGS = REPO / "vama_bundle" / "configs"
INFER = str(CONFIGS / "inference.json")
META = str(CONFIGS / "metadata.json")
TINY_FEATURES = [4, 8, 16, 32]
TINY_GEMINI = [4, 8, 16, 32, 32]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    """The tiny paired dataset, a tiny random V-AMA checkpoint and a tiny random Gemini-GAN checkpoint."""
    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    torch.save(VAMA(features=TINY_FEATURES, disc_channels=8).state_dict(), folder / "vama.pt")
    torch.save(GeminiGenerator(features=TINY_GEMINI, output="seg").state_dict(), folder / "gemini.pt")
    return {
        "dataset": tiny_pairs(tmp_path_factory),
        "overrides": {"ckpt_path": str(folder / "vama.pt"), "features": TINY_FEATURES, "disc_channels": 8},
        "gemini": {"ckpt_path": str(folder / "gemini.pt"), "features": TINY_GEMINI},
    }


def _infer(input_path, out, setup, **overrides):
    wf = ConfigWorkflow(
        config_file=INFER,
        meta_file=META,
        logging_file=False,
        workflow_type=None,
        input_path=None if input_path is None else str(input_path),
        output_dir=str(out),
        dataset_dir=str(setup["dataset"]),
        **{**setup["overrides"], **overrides},
    )
    wf.initialize()
    wf.run()
    wf.finalize()


def _target_stack(setup) -> Path:
    return Path(load_pairs(setup["dataset"], "test")[0]["target_lr_image"])  # native target_a stack, oblique


def test_adapted_volume_covers_the_input_in_world_coordinates_and_chains_gemini(setup, tmp_path):
    moved = reoriented_copy(_target_stack(setup), tmp_path / "case.nii.gz")
    out = tmp_path / "out"
    _infer(moved, out, setup, chain_gemini=True, gemini_overrides={**setup["gemini"], "sr_output": False})
    inp = nib.load(moved)
    adapted = nib.load(out / "case_adapted.nii.gz")
    np.testing.assert_allclose(spacing_from_affine(adapted.affine), [1.25, 1.25, 2.0], atol=1e-5)
    # slice axis last on the HR grid, along the input's slice axis (its axis 0 here)
    in_sp = spacing_from_affine(inp.affine)
    assert int(np.argmax(in_sp)) == 0
    np.testing.assert_allclose(adapted.affine[:3, 2] / 2.0, inp.affine[:3, 0] / in_sp[0], atol=1e-6)
    # same field of view: same centre in world space, extent at least the input's and less than one voxel more
    centre_in = apply_affine(inp.affine, (np.asarray(inp.shape) - 1) / 2)
    np.testing.assert_allclose(apply_affine(adapted.affine, (np.asarray(adapted.shape) - 1) / 2), centre_in, atol=1e-4)
    extent_in = np.asarray(inp.shape)[[1, 2, 0]] * in_sp[[1, 2, 0]]
    extent_out = np.asarray(adapted.shape) * [1.25, 1.25, 2.0]
    assert np.all(extent_out >= extent_in - 1e-6) and np.all(extent_out < extent_in + [1.25, 1.25, 2.0])
    # a grey volume on the network's [0, 1] scale
    data = np.asarray(adapted.dataobj)
    assert adapted.get_data_dtype() == np.float32 and data.min() >= 0.0 and data.max() <= 1.0 and data.std() > 0
    # the chained Gemini-GAN segmentation lies on the adapted volume's grid
    seg = nib.load(out / "case_adapted_seg.nii.gz")
    assert seg.shape == adapted.shape and seg.get_data_dtype() == np.uint8
    np.testing.assert_allclose(seg.affine, adapted.affine, atol=1e-5)
    # outputs written atomically: no temporary file left
    written = sorted(p.name for p in out.iterdir() if p.name != "warnings.csv")  # (the tiny Gemini may miss classes)
    assert written == ["case_adapted.nii.gz", "case_adapted_seg.nii.gz"]


def test_generated_target_test_cases_are_named_by_case(setup, tmp_path):
    _infer(None, tmp_path / "out", setup)
    cases = [item["case"] for item in load_pairs(setup["dataset"], "test", include_rejected=True)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{c}_adapted.nii.gz" for c in cases)


def test_cine_frame_selection(setup, tmp_path):
    img = nib.load(_target_stack(setup))
    data = np.asarray(img.dataobj)
    cine = tmp_path / "cine.nii.gz"
    nib.save(nib.Nifti1Image(np.stack([data, data * 0.5], axis=-1), img.affine), str(cine))
    with pytest.raises(RuntimeError) as err:
        _infer(cine, tmp_path / "none", setup)
    assert "cine.nii.gz: 4D cine with 2 frames" in repr(err.value.__cause__) + str(err.getrepr())
    assert not (tmp_path / "none").exists() or not any((tmp_path / "none").iterdir())
    _infer(cine, tmp_path / "f1", setup, frame=1)
    assert sorted(p.name for p in (tmp_path / "f1").iterdir()) == [
        "cine_frame1_adapted.nii.gz"
    ]  # the frame in the name


def _save(path, data, zooms=(1.8, 1.8, 10.0)):
    nib.save(nib.Nifti1Image(np.asarray(data, np.float32), np.diag([*zooms, 1.0])), str(path))
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "not found"),
        (lambda p: _save(p, np.ones((20, 20, 1, 1)) * np.arange(20)[:, None, None, None]), "2D image"),
        (lambda p: _save(p, np.where(np.eye(20)[..., None] > 0, np.nan, 1.0) * np.ones((20, 20, 5))), "NaN"),
    ],
    ids=["missing", "2d", "nan"],
)
def test_bad_inputs_stop_with_the_file_name_and_leave_no_output(setup, tmp_path, make, message):
    path = make(tmp_path / "bad.nii.gz")
    with pytest.raises(RuntimeError) as err:
        _infer(path, tmp_path / "out", setup)
    text = repr(err.value.__cause__) + str(err.getrepr())
    assert message in text and "bad.nii.gz" in text
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_calibration_maps_the_translation_onto_the_source_histogram(setup, tmp_path):
    from custom_networks.baselines import load_calibration

    stack = _target_stack(setup)
    _infer(stack, tmp_path / "raw", setup, calibrate=False)
    ckpt = REPO / "vama_bundle" / "models" / "histogram_matching" / "model.pt"  # the shipped calibration
    _infer(stack, tmp_path / "cal", setup, calibration_ckpt=str(ckpt))  # calibrate: on by default
    name = f"{stack.name.split('.')[0]}_adapted.nii.gz"
    raw = np.asarray(nib.load(tmp_path / "raw" / name).dataobj)
    cal = np.asarray(nib.load(tmp_path / "cal" / name).dataobj)
    reference = load_calibration(ckpt)
    levels = reference.levels.numpy()
    fg = cal > 0
    assert np.array_equal(fg, raw > 0)  # the calibration leaves the background (0) alone
    got = np.quantile(cal[fg], levels[5:-5])
    np.testing.assert_allclose(got, reference.reference.numpy()[5:-5], atol=0.02)
    assert np.abs(np.quantile(raw[fg], levels[5:-5]) - got).max() > 0.05  # the raw translation was elsewhere
    # a missing calibration stops with the file name (and how to make it)
    with pytest.raises(RuntimeError) as err:
        _infer(stack, tmp_path / "none", setup, calibration_ckpt=str(tmp_path / "absent.pt"))
    text = repr(err.value.__cause__) + str(err.getrepr())
    assert "absent.pt" in text and "run fit" in text
