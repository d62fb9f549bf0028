"""The real-scan benchmark (``benchmarks/real_scans.py``): its tables hold what the scorer gives directly, bad cases
are skipped with a reason, and (when the real data are present) the bundle's own inference runs on a real stack."""

from __future__ import annotations

import csv
import importlib.util
import math
import sys

import numpy as np
import pytest
from conftest import REPO, real_data_path

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import labels_on_native_grid
from custom_networks.core.label_maps import Annotation, load_label
from custom_networks.core.nifti import load_nifti, save_nifti
from custom_networks.evaluate.native_grid import native_segmentation_scores


def _benchmark():
    spec = importlib.util.spec_from_file_location("real_scans", REPO / "benchmarks" / "real_scans.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["real_scans"] = module
    spec.loader.exec_module(module)
    return module


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def fake_real_set(tmp_path_factory, source_subjects):
    """Generated native stacks laid out as a real labelled set (``<case>_image`` / ``<case>_gt``), predictions equal
    to the manual labels except one shifted case, and three bad cases."""
    root = tmp_path_factory.mktemp("real")
    data, pred = root / "data" / "gen", root / "pred"
    for i, subject in enumerate(source_subjects[:2]):
        for phase, volumes in subject.phases.items():
            name = f"sub{i}_{phase}"
            save_nifti(volumes.lr_image, volumes.lr_affine, data / f"{name}_image.nii.gz")
            save_nifti(volumes.lr_label, volumes.lr_affine, data / f"{name}_gt.nii.gz", label=True)
            seg = np.roll(volumes.lr_label, 2, axis=0) if name == "sub1_ED" else volumes.lr_label
            save_nifti(seg, volumes.lr_affine, pred / f"{name}_seg.nii.gz", label=True)
    first = source_subjects[0].phases["ED"]
    save_nifti(first.lr_image, first.lr_affine, data / "orphan_ED_image.nii.gz")
    save_nifti(np.zeros_like(first.lr_label), first.lr_affine, data / "blank_ED_gt.nii.gz", label=True)
    save_nifti(first.lr_image, first.lr_affine, data / "blank_ED_image.nii.gz")
    save_nifti(first.lr_image, first.lr_affine, data / "nopred_ED_image.nii.gz")
    save_nifti(first.lr_label, first.lr_affine, data / "nopred_ED_gt.nii.gz", label=True)
    return root / "data", pred


def test_tables_hold_the_scorer_values_and_skips(fake_real_set, tmp_path):
    data, pred = fake_real_set
    out = _benchmark().run(data=data, out=tmp_path / "report", pred=pred, cine=None, figures=True)
    rows = {r["case"]: r for r in _rows(out / "cases.csv")}
    assert set(rows) == {"sub0_ED", "sub0_ES", "sub1_ED", "sub1_ES"}
    for name in ("sub0_ED", "sub0_ES", "sub1_ES"):
        assert float(rows[name]["dice_lv"]) == 1.0 and float(rows[name]["slab_dice_rv"]) == 1.0
    # the shifted case: the value the scorer gives directly
    ref, affine = load_label(data / "gen" / "sub1_ED_gt.nii.gz")
    seg, seg_affine = load_label(pred / "sub1_ED_seg.nii.gz")
    direct, _ = native_segmentation_scores(
        labels_on_native_grid(seg, seg_affine, ref.shape, affine), ref, affine, Annotation.full(ref.shape[2])
    )
    for key in ("dice_lv", "dice_myo", "dice_rv", "hd95_lv"):
        assert float(rows["sub1_ED"][key]) == pytest.approx(direct[key], abs=1e-5)
    assert direct["dice_myo"] < 0.9
    clinical = {r["subject"]: r for r in _rows(out / "clinical.csv")}
    assert float(clinical["sub0"]["err_LVEF"]) == 0.0 and float(clinical["sub0"]["err_LVM_g"]) == 0.0
    assert float(clinical["sub1"]["err_LVEDV_ml"]) == pytest.approx(0.0, abs=1e-6)  # a shift keeps the volume
    reasons = {r["case"]: r["reason"] for r in _rows(out / "skipped.csv")}
    assert "no manual label" in reasons["orphan_ED"]
    assert "manual label is empty" in reasons["blank_ED"]
    assert "no prediction" in reasons["nopred_ED"]
    held = _rows(out / "held_out.csv")
    assert {r["method"] for r in held} == {"linear", "bspline"}  # no SR outputs given with --pred
    assert all(math.isfinite(float(r["psnr_heart"])) for r in held)
    summary = (out / "summary.md").read_text()
    mean_lv = np.mean([float(r["dice_lv"]) for r in rows.values()])
    assert mean_lv < 1.0  # the shifted case lowers the mean, and the summary row shows it
    assert f"| gen | 4 | 0 | 0 | {mean_lv:.3f} +- " in summary
    assert (out / "figures" / "failure_view_gen.png").is_file() and (out / "figures" / "bland_altman.png").is_file()


def test_cases_of_trained_subjects_are_reported_apart(fake_real_set, tmp_path):
    """With a training record listing sub1 (directly, or through the weights it started from), sub1's cases are
    the set ``gen (trained on)`` and stay out of the ``all held out`` rows; with ``skip_trained`` they are not run."""
    import json

    data, pred = fake_real_set
    record = tmp_path / "model.json"
    record.write_text(json.dumps({"trained_on": {}, "started_from": {"record": {"trained_on": {"gen": ["sub1"]}}}}))
    bench = _benchmark()
    out = bench.run(data=data, out=tmp_path / "report", pred=pred, cine=None, figures=True, record=record)
    # figure names without spaces, so that the ignore rules for the non-commercial sets' figures match them
    assert sorted(p.name for p in (out / "figures").glob("failure_view_*")) == [
        "failure_view_gen.png",
        "failure_view_gen_trained_on.png",
    ]
    rows = {r["case"]: r["set"] for r in _rows(out / "cases.csv")}
    assert rows == {"sub0_ED": "gen", "sub0_ES": "gen", "sub1_ED": "gen (trained on)", "sub1_ES": "gen (trained on)"}
    summary = (out / "summary.md").read_text()
    assert "| gen | 2 | 0 | 0 | 1.000 +- 0.000 |" in summary  # the held-out cases are the exact ones
    assert "| all held out | 2 | 0 | 0 | 1.000 +- 0.000 |" in summary  # the shifted trained case is not in it
    assert "| gen (trained on) | 2 |" in summary and "gen: 1 subjects" in summary
    out = bench.run(
        data=data, out=tmp_path / "r2", pred=pred, cine=None, figures=False, record=record, skip_trained=True
    )
    assert {r["case"] for r in _rows(out / "cases.csv")} == {"sub0_ED", "sub0_ES"}


def test_refuses_an_existing_report_and_missing_folders(fake_real_set, tmp_path):
    data, pred = fake_real_set
    bench = _benchmark()
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="exists and is not empty"):
        bench.run(data=data, out=tmp_path / "report", pred=pred, cine=None)
    assert (tmp_path / "report" / "keep.txt").read_text() == "mine"
    with pytest.raises(InputError, match="folder not found"):
        bench.run(data=tmp_path / "nowhere", out=tmp_path / "r2", pred=pred)
    with pytest.raises(InputError, match="not a bundle folder"):
        bench.run(data=data, out=tmp_path / "r3", bundle=str(tmp_path), cine=None)


@pytest.mark.slow
@pytest.mark.realdata
def test_bundle_on_a_real_stack(tmp_path):
    """The Gemini-GAN bundle's own inference on one Sunnybrook ED stack: the CSV holds the scorer's values of the
    bundle's output, the RV is undefined, and the held-out test scores the bundle beside the interpolations."""
    data = real_data_path("real_labelled")
    out = _benchmark().run(
        data=data, out=tmp_path / "report", sets="sunnybrook", limit=1, cine=None, work=tmp_path / "work", figures=False
    )
    (row,) = _rows(out / "cases.csv")
    assert row["case"] == "SCD0000101_ED" and row["dice_rv"] == ""
    ref, affine = load_label(data / "sunnybrook" / "SCD0000101_ED_gt.nii.gz")
    seg, seg_affine = load_nifti(tmp_path / "work" / "pred" / "SCD0000101_ED_seg.nii.gz")
    from custom_networks.datalists import find_real_cases, load_real_case

    case = next(c for c in find_real_cases(data, ["sunnybrook"])[0] if c.name == "SCD0000101_ED")
    annotation = load_real_case(case)[3]
    direct, _ = native_segmentation_scores(
        labels_on_native_grid(seg.astype(np.uint8), seg_affine, ref.shape, affine), ref, affine, annotation
    )
    assert float(row["dice_lv"]) == pytest.approx(direct["dice_lv"], abs=1e-5)
    assert float(row["slices_lv"]) == 9
    methods = {r["method"] for r in _rows(out / "held_out.csv")}
    assert methods == {"linear", "bspline", "gemini_gan_bundle"}


def test_oracle_crop_keeps_world_coordinates_and_centres_the_heart(tmp_path):
    from custom_networks.core.geometry import apply_affine, centered_grid_affine, rotation_matrix

    bench = _benchmark()
    shape = (200, 180, 10)
    affine = centered_grid_affine(shape, (1.8, 1.8, 10.0), rotation_matrix((20, -30, 50)), (10, -40, 5))
    image = np.random.default_rng(0).random(shape).astype(np.float32)
    label = np.zeros(shape, np.uint8)
    label[140:160, 30:50, 3:7] = 1  # a heart near a corner
    case = type("Case", (), {"name": "c_ED"})()
    path = bench.oracle_crop((case, image, label, affine, None), 100.0, tmp_path)
    cropped, cropped_affine = load_nifti(path)
    assert cropped.shape[2] == 10 and cropped.shape[0] * 1.8 == pytest.approx(100.0, abs=2 * 1.8)
    # Every cropped voxel is the original voxel at the same world point.
    ijk = np.array([3, 7, 2])
    world = apply_affine(cropped_affine, ijk)
    src = np.rint(apply_affine(np.linalg.inv(affine), world)).astype(int)
    assert cropped[tuple(ijk)] == image[tuple(src)]
    # The heart is in the middle of the crop, clipped to the stack where it runs over its edge.
    centre = apply_affine(np.linalg.inv(cropped_affine), apply_affine(affine, np.argwhere(label > 0).mean(axis=0)))
    assert abs(centre[0] - cropped.shape[0] / 2) < 2 and centre[1] >= 0
