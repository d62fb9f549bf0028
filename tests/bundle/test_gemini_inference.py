"""Inference of gemini_gan_bundle on real-world-like inputs: geometry, 4D frames, bad inputs, outputs.

The bundle's default inference is stage 1 (the slice segmenter, ``models/model.pt``); the image-only Gemini-GAN
generator with its synthetic-only weights is ``inference_gemini.json`` layered on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from conftest import GEMINI_CONFIGS, REPO, dice, reoriented_copy
from monai.bundle import ConfigWorkflow

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import apply_affine, resample_to_grid, spacing_from_affine
from custom_networks.nets import SliceSegmenter

INFER = str(GEMINI_CONFIGS / "inference.json")
GEMINI = [INFER, str(GEMINI_CONFIGS / "inference_gemini.json")]
META = str(GEMINI_CONFIGS / "metadata.json")
SHIPPED = REPO / "gemini_gan_bundle" / "models" / "model.pt"
SHIPPED_GEMINI = REPO / "gemini_gan_bundle" / "models" / "gemini_synthetic.pt"
TINY = {"channels": [4, 8, 16], "num_res_units": 0}


def _infer(input_path, out, ckpt, configs=INFER, **overrides):
    wf = ConfigWorkflow(
        config_file=configs,
        meta_file=META,
        logging_file=False,
        workflow_type=None,
        input_path=None if input_path is None else str(input_path),
        output_dir=str(out),
        ckpt_path=str(ckpt),
        **overrides,
    )
    wf.initialize()
    wf.run()
    wf.finalize()


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    torch.save(SliceSegmenter(**TINY).state_dict(), path)
    return path


def test_outputs_cover_the_input_in_world_coordinates(tiny_dataset, tiny_ckpt, tmp_path):
    src = tiny_dataset / "sub-0000" / "ED" / "lr_image.nii.gz"  # native stack, oblique, 1.25 x 1.25 x 10 mm
    moved = reoriented_copy(src, tmp_path / "case.nii.gz")
    _infer(moved, tmp_path / "out", tiny_ckpt, **TINY, seg_on_input_grid=True)
    inp = nib.load(moved)
    seg = nib.load(tmp_path / "out" / "case_seg.nii.gz")
    sr = nib.load(tmp_path / "out" / "case_sr.nii.gz")
    back = nib.load(tmp_path / "out" / "case_seg_input_grid.nii.gz")
    np.testing.assert_allclose(seg.affine, sr.affine)
    np.testing.assert_allclose(spacing_from_affine(seg.affine), [1.25, 1.25, 2.0], atol=1e-5)
    # Slice axis last on the HR grid, along the input's slice axis (its axis 0 here).
    in_sp = spacing_from_affine(inp.affine)
    assert int(np.argmax(in_sp)) == 0
    n_in = inp.affine[:3, 0] / in_sp[0]
    np.testing.assert_allclose(seg.affine[:3, 2] / 2.0, n_in, atol=1e-6)
    # Same field of view: same centre in world space, extent at least the input's and less than one voxel more.
    centre_in = apply_affine(inp.affine, (np.asarray(inp.shape) - 1) / 2)
    centre_out = apply_affine(seg.affine, (np.asarray(seg.shape) - 1) / 2)
    np.testing.assert_allclose(centre_out, centre_in, atol=1e-4)
    extent_in = np.asarray(inp.shape)[[1, 2, 0]] * in_sp[[1, 2, 0]]
    extent_out = np.asarray(seg.shape) * [1.25, 1.25, 2.0]
    # the HR grid covers the stack's field of view (up to the rounding of float32 headers)
    assert np.all(extent_out >= extent_in - 1e-2) and np.all(extent_out < extent_in + [1.25, 1.25, 2.0])
    # Labels, types and the optional copy on the input's own grid.
    assert seg.get_data_dtype() == np.uint8 and set(np.unique(np.asarray(seg.dataobj))) <= {0, 1, 2, 3}
    assert back.shape == inp.shape
    np.testing.assert_allclose(back.affine, inp.affine, atol=1e-6)


def test_cine_frame_selection_and_bad_inputs_leave_no_output(tiny_dataset, tiny_ckpt, tmp_path):
    img = nib.load(tiny_dataset / "sub-0000" / "ED" / "lr_image.nii.gz")
    data = np.asarray(img.dataobj)
    cine = tmp_path / "cine.nii.gz"
    nib.save(nib.Nifti1Image(np.stack([data, data * 0.5], axis=-1), img.affine), str(cine))
    with pytest.raises(RuntimeError) as err:
        _infer(cine, tmp_path / "none", tiny_ckpt, **TINY)
    assert "cine.nii.gz: 4D cine with 2 frames" in repr(err.value.__cause__) + str(err.getrepr())
    assert not (tmp_path / "none").exists() or not any((tmp_path / "none").iterdir())
    _infer(cine, tmp_path / "f1", tiny_ckpt, **TINY, frame=1, sr_output=False)
    written = sorted(p.name for p in (tmp_path / "f1").iterdir())
    # the frame in the name; the barely trained test network may miss classes, which warnings.csv then says
    assert [n for n in written if n != "warnings.csv"] == ["cine_frame1_seg.nii.gz"]
    if "warnings.csv" in written:
        assert "cine.nii.gz" in (tmp_path / "f1" / "warnings.csv").read_text()


@pytest.mark.parametrize(("configs", "weights"), [(INFER, SHIPPED), (GEMINI, SHIPPED_GEMINI)], ids=["slices", "gemini"])
def test_shipped_model_segments_a_reoriented_stack(tiny_dataset, tmp_path, configs, weights):
    """End-to-end geometry check with the shipped weights (the slice segmenter, and the Gemini-GAN generator): a test
    stack stored with another axis order and a flipped axis is segmented where the heart is, in world coordinates
    (scored against the HR reference)."""
    case = tiny_dataset / "sub-0002" / "ES"
    moved = reoriented_copy(case / "lr_image.nii.gz", tmp_path / "stack.nii.gz")
    _infer(moved, tmp_path / "out", weights, configs=configs)
    seg = nib.load(tmp_path / "out" / "stack_seg.nii.gz")
    ref = nib.load(case / "hr_label.nii.gz")
    ref_on_seg = resample_to_grid(np.asarray(ref.dataobj), ref.affine, seg.shape, seg.affine, order=0)
    pred = np.asarray(seg.dataobj)
    assert dice(pred == 1, ref_on_seg == 1) > 0.8
    assert dice(pred == 3, ref_on_seg == 3) > 0.7


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "file not found"),
        (lambda p: (p.write_bytes(b"\x1f\x8bnot really gzip"), p)[1], "not a readable NIfTI"),
        (lambda p: _save(p, np.ones((20, 20))), "expected a 3D or 4D image"),
        (lambda p: _save(p, np.ones((20, 20, 1, 1)) * np.arange(20)[:, None, None, None]), "2D image"),
        (lambda p: _save(p, np.where(np.eye(20)[..., None] > 0, np.nan, 1.0) * np.ones((20, 20, 5))), "NaN"),
        (lambda p: _save(p, np.zeros((20, 20, 5))), "constant volume"),
        (lambda p: _save(p, np.random.default_rng(0).random((20, 20, 5)), zooms=(1, 1, 400)), "absurd voxel size"),
    ],
)
def test_bad_inputs_are_named(tmp_path, make, message):
    from custom_networks.transforms import LoadStackd

    path = make(tmp_path / "bad.nii.gz")
    with pytest.raises(InputError, match=message) as err:
        LoadStackd("image")({"image": str(path)})
    assert "bad.nii.gz" in str(err.value)


def _save(path, data, zooms=(1.25, 1.25, 10.0)):
    nib.save(nib.Nifti1Image(np.asarray(data, np.float32), np.diag([*zooms, 1.0])), str(path))
    return path


def test_generated_test_cases_get_one_output_pair_each(tiny_dataset, tiny_ckpt, tmp_path):
    """Without an input path, inference runs on the generated test split; its stacks all share one file name, so
    outputs are named by case (``<subject>_<phase>``), one pair per case, none overwritten."""
    import json

    test = json.loads((tiny_dataset / "dataset.json").read_text())["test"]
    _infer(None, tmp_path / "out", tiny_ckpt, **TINY, dataset_dir=str(tiny_dataset))
    expected = sorted(f"{item['subject']}_{item['phase']}_{kind}.nii.gz" for item in test for kind in ("seg", "sr"))
    written = sorted(p.name for p in (tmp_path / "out").iterdir() if p.name != "warnings.csv")  # tiny network
    assert len(test) == 2 and written == expected
    for item in test:  # each output lies on the HR grid of its own case's stack
        seg = nib.load(tmp_path / "out" / f"{item['subject']}_{item['phase']}_seg.nii.gz")
        stack = nib.load(tiny_dataset / item["lr_image"])
        centre = apply_affine(stack.affine, (np.asarray(stack.shape) - 1) / 2)
        np.testing.assert_allclose(apply_affine(seg.affine, (np.asarray(seg.shape) - 1) / 2), centre, atol=1e-3)


@pytest.mark.parametrize("gemini_3d", [False, True])
def test_monai_label_contract(tiny_dataset, gemini_3d):
    """What MONAI Label's BundleInferTask relies on (it reads only ``preprocessing`` / ``postprocessing`` and restores
    the prediction to the image's ``spatial_shape`` / ``original_affine`` before writing it itself): after
    ``postprocessing`` the image's metadata is the HR grid, the label map lies on it, and no file is written. With the
    3D step too (it loads its own weights: MONAI Label loads only ``network_def``'s)."""
    from monai.bundle import ConfigParser
    from monai.data import MetaTensor

    from custom_networks.core.geometry import hr_grid_for
    from custom_networks.transforms import SaveNiftid

    parser = ConfigParser()
    parser.read_config(INFER)
    parser["gemini_3d"] = gemini_3d
    stack = tiny_dataset / "sub-0000" / "ED" / "lr_image.nii.gz"
    image = parser.get_parsed_content("preprocessing")({"image": str(stack)})["image"]
    src = nib.load(stack)
    hr_shape, hr_affine, _ = hr_grid_for(src.shape, src.affine)
    post = parser.get_parsed_content("postprocessing")
    assert not any(isinstance(t, SaveNiftid) for t in post.transforms)
    probs = torch.zeros((4, *image.shape[1:]))
    probs[0] = 1.0
    cx, cy = image.shape[1] // 2, image.shape[2] // 2
    probs[:, cx - 10 : cx + 10, cy - 10 : cy + 10, 2:5] = torch.tensor([0.0, 1.0, 0.0, 0.0])[:, None, None, None]
    probs[:, 3:5, 3:5, 2:4] = torch.tensor([0.0, 1.0, 0.0, 0.0])[:, None, None, None]  # a stray island
    pred = MetaTensor(probs, meta=image.meta, applied_operations=image.applied_operations)
    out = post({"image": image, "pred": pred})
    np.testing.assert_allclose(np.asarray(out["image"].meta["original_affine"]), hr_affine, atol=1e-5)
    assert tuple(int(s) for s in out["image"].meta["spatial_shape"]) == tuple(hr_shape)
    label = np.asarray(out["pred"])
    assert label.shape == (1, *hr_shape)
    from scipy import ndimage

    if gemini_3d:  # the 3D step may add the classes a heart has around a blood pool; the island is gone all the same
        assert set(np.unique(label)) <= {0, 1, 2, 3} and ndimage.label(label[0] == 1)[1] == 1
        assert out["image"].meta["heart_box"] is not None
        return
    assert set(np.unique(label)) == {0, 1}
    # one blob: the island was removed by the largest-component step; 20 x 20 pixels of 1.25 x 1.25 mm on
    # 3 slices of 10 mm -> about 3 x 10 / 2 HR slices of 25 x 25 voxels (linear between slices: a little more)
    assert ndimage.label(label[0] == 1)[1] == 1
    assert 0.7 < (label == 1).sum() / (25 * 25 * 15) < 1.4


def test_dicom_series_gives_the_segmentation_of_its_nifti(tiny_dataset, tmp_path):
    """A stack given as a DICOM series folder (two phases, shuffled file names) is processed exactly as the same stack
    given as NIfTI: same HR grid in world coordinates, same labels and super-resolved image; the output is named after
    the folder."""
    from conftest import write_dicom_cine

    src = nib.load(tiny_dataset / "sub-0000" / "ED" / "lr_image.nii.gz")
    data, affine = np.rint(np.asarray(src.dataobj) * 10), src.affine  # int16 levels, as scanners store them
    if np.linalg.det(affine[:3, :3]) < 0:  # DICOM slices follow row x column: flip the slice axis if needed
        data = data[..., ::-1]
        affine = affine @ np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, -1, data.shape[2] - 1], [0, 0, 0, 1.0]])
    nifti = tmp_path / "stack.nii.gz"
    nib.save(nib.Nifti1Image(data.astype(np.int16), affine), nifti)
    write_dicom_cine(tmp_path / "dicom" / "subjectA", np.stack([data, data[::-1]], axis=-1), affine)
    _infer(nifti, tmp_path / "out_nifti", SHIPPED)
    _infer(tmp_path / "dicom", tmp_path / "out_dicom", SHIPPED, frame=0)
    ref = nib.load(tmp_path / "out_nifti" / "stack_seg.nii.gz")
    seg = nib.load(tmp_path / "out_dicom" / "subjectA_frame0_seg.nii.gz")  # a 2-phase series: the frame is named
    np.testing.assert_allclose(seg.affine, ref.affine, atol=1e-3)
    np.testing.assert_array_equal(np.asarray(seg.dataobj), np.asarray(ref.dataobj))
    sr = np.asarray(nib.load(tmp_path / "out_dicom" / "subjectA_frame0_sr.nii.gz").dataobj)
    sr_ref = np.asarray(nib.load(tmp_path / "out_nifti" / "stack_sr.nii.gz").dataobj)
    assert len(np.unique(np.asarray(ref.dataobj))) == 4 and sr_ref.std() > 0.05  # non-trivial outputs, reproduced
    np.testing.assert_allclose(sr, sr_ref, atol=1e-5)


@pytest.mark.parametrize(
    ("dtype", "inplane", "spacing", "slices", "fov"),
    [(np.uint8, 0.7, 5.0, 20, 200.0), (np.int16, 2.0, 12.0, 6, 400.0), (np.float64, 1.4, 8.0, 12, 300.0)],
)
def test_real_layout_extremes_run(tmp_path, tiny_ckpt, dtype, inplane, spacing, slices, fov):
    """The supported range of real stacks (model card): uint8 / int16 / float, 0.7-2 mm in-plane, 5-12 mm slices,
    6-20 slices, 200-400 mm field of view, oblique with the slice axis first: the outputs cover the stack in world
    coordinates on the 1.25 x 1.25 x 2 mm grid."""
    n = int(round(fov / inplane))
    shape = (slices, n, n)
    rng = np.random.default_rng(0)
    data = (rng.random(shape) * 200).astype(dtype)
    from custom_networks.core.geometry import centered_grid_affine, rotation_matrix

    affine = centered_grid_affine(shape, (spacing, inplane, inplane), rotation_matrix((30, -20, 60)), (40, -60, 25))
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "real.nii.gz")
    _infer(tmp_path / "real.nii.gz", tmp_path / "out", tiny_ckpt, **TINY, sr_output=False)
    seg = nib.load(tmp_path / "out" / "real_seg.nii.gz")
    np.testing.assert_allclose(spacing_from_affine(seg.affine), [1.25, 1.25, 2.0], atol=1e-4)
    centre_in = apply_affine(affine, (np.asarray(shape) - 1) / 2)
    np.testing.assert_allclose(apply_affine(seg.affine, (np.asarray(seg.shape) - 1) / 2), centre_in, atol=1e-3)
    assert seg.shape[2] == int(np.ceil(slices * spacing / 2.0 - 1e-3))
    # An acquisition outside the shipped weights' trained range (inference.json's trained_range) is said.
    warnings = (tmp_path / "out" / "warnings.csv").read_text() if (tmp_path / "out" / "warnings.csv").exists() else ""
    trained = json.loads(Path(INFER).read_text())["trained_range"]
    low, high = trained["inplane_spacing_mm"]
    assert (f"in-plane voxel size {inplane:.2f} mm is outside" in warnings) == (not low <= inplane <= high)
    low, high = trained["slice_spacing_mm"]
    assert (f"slice spacing {spacing:.2f} mm is outside" in warnings) == (not low <= spacing <= high)


def _same_world_copy(src, dst, transform: str):
    """The stack stored another way, same voxels in world space: slice order reversed, in-plane 90-degree turn, or
    an in-plane axis mirrored in the array (and back in the affine)."""
    img = nib.load(src)
    data, aff = np.asarray(img.dataobj), img.affine.copy()
    n = data.shape
    if transform == "reversed":
        m = np.eye(4)
        m[2, 2], m[2, 3] = -1, n[2] - 1
        data = data[:, :, ::-1]
    elif transform == "turned":  # np.rot90: new[i, j] = old[j, n1 - 1 - i]
        m = np.array([[0, 1, 0, 0], [-1, 0, 0, n[1] - 1], [0, 0, 1, 0], [0, 0, 0, 1.0]])
        data = np.rot90(data, k=1, axes=(0, 1))
    else:  # mirrored
        m = np.eye(4)
        m[0, 0], m[0, 3] = -1, n[0] - 1
        data = data[::-1]
    nib.save(nib.Nifti1Image(np.ascontiguousarray(data), aff @ m), str(dst))
    return dst


@pytest.mark.parametrize("transform", ["reversed", "turned", "mirrored"])
def test_a_stack_stored_another_way_gets_the_same_segmentation(tiny_dataset, tmp_path, transform):
    """The shipped slice segmenter on a generated stack and on the same stack with its slice order reversed, turned
    90 degrees in-plane or mirrored in the array: the label maps on the input's grid agree in world coordinates."""
    src = tiny_dataset / "sub-0001" / "ED" / "lr_image.nii.gz"
    _infer(src, tmp_path / "a", SHIPPED, seg_on_input_grid=True, sr_output=False)
    other = _same_world_copy(src, tmp_path / "other.nii.gz", transform)
    _infer(other, tmp_path / "b", SHIPPED, seg_on_input_grid=True, sr_output=False)
    a = nib.load(tmp_path / "a" / "lr_image_seg_input_grid.nii.gz")
    b = nib.load(tmp_path / "b" / "other_seg_input_grid.nii.gz")
    # b's grid is a's, stored another way: bring it back voxel for voxel through the affines
    b_on_a = resample_to_grid(np.asarray(b.dataobj), b.affine, a.shape, a.affine, order=0)
    labels_a = np.asarray(a.dataobj)
    for c in (1, 2, 3):
        assert dice(labels_a == c, b_on_a == c) > 0.98, (transform, c)


@pytest.mark.parametrize("slices", [2, 30])
def test_two_and_thirty_slice_stacks_run(tmp_path, tiny_ckpt, slices):
    rng = np.random.default_rng(1)
    data = (rng.random((96, 96, slices)) * 300).astype(np.int16)
    nib.save(nib.Nifti1Image(data, np.diag([1.4, 1.4, 8.0, 1.0])), tmp_path / "stack.nii.gz")
    _infer(tmp_path / "stack.nii.gz", tmp_path / "out", tiny_ckpt, **TINY, seg_on_input_grid=True)
    back = nib.load(tmp_path / "out" / "stack_seg_input_grid.nii.gz")
    assert back.shape == data.shape
    np.testing.assert_allclose(back.affine, np.diag([1.4, 1.4, 8.0, 1.0]), atol=1e-5)
    seg = nib.load(tmp_path / "out" / "stack_seg.nii.gz")
    assert seg.shape[2] == int(np.ceil(slices * 8.0 / 2.0 - 1e-3))
    # the HR grid is centred on the stack, in world coordinates
    centre_in = apply_affine(back.affine, (np.asarray(data.shape) - 1) / 2)
    np.testing.assert_allclose(apply_affine(seg.affine, (np.asarray(seg.shape) - 1) / 2), centre_in, atol=1e-3)
