"""Rigid registration (alignment block): recovery of a known rigid motion, RAS/LPS, convergence, files and CLI."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from conftest import checksums

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import apply_affine, resample_to_grid, rotation_matrix
from custom_networks.core.nifti import save_nifti
from custom_networks.data import generate_subject, get_domain
from custom_networks.registration import (
    RegistrationError,
    align_pair,
    euler_angles_deg,
    fit_rigid_points,
    register_rigid,
    resample_moving,
    transform_json_path,
)
from custom_networks.registration.__main__ import main

# SWIG (ITK's Python wrapping) types trip a Python 3.12+ deprecation check on every lazy module load.
pytestmark = pytest.mark.filterwarnings("ignore:builtin type .* has no __module__ attribute:DeprecationWarning")

#: The known motion: rotation (deg, about x, y, z) about the heart centre, then translation (mm, RAS).
ANGLES = (6.0, -4.0, 8.0)
SHIFT = (7.0, -5.0, 3.0)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / max(float(a.sum() + b.sum()), 1.0)


@pytest.fixture(scope="module")
def pair():
    """A generated subject (oblique short-axis grid) cropped around the heart, and the same anatomy moved by the
    known rigid motion ``truth`` (fixed world point -> moving world point), resampled on a different grid."""
    subject = generate_subject([7, 3], get_domain("source"))
    phase = subject.phases["ED"]
    idx = np.argwhere(phase.hr_label > 0)
    lo = np.maximum(idx.min(axis=0) - (8, 8, 4), 0)
    hi = np.minimum(idx.max(axis=0) + (9, 9, 5), phase.hr_label.shape)
    crop = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    image, label = phase.hr_image[crop], phase.hr_label[crop]
    affine = subject.hr_affine.copy()
    affine[:3, 3] = apply_affine(subject.hr_affine, lo)
    hidx = np.argwhere(label > 0)
    box = np.array([[x, y, z] for x in hidx[:, 0][[0, -1]] for y in (hidx[:, 1].min(), hidx[:, 1].max())
                    for z in (hidx[:, 2].min(), hidx[:, 2].max())], dtype=float)  # fmt: skip
    corners = apply_affine(affine, box)
    centre = corners.mean(axis=0)
    truth = np.eye(4)
    truth[:3, :3] = rotation_matrix(ANGLES)
    truth[:3, 3] = centre + np.asarray(SHIFT) - truth[:3, :3] @ centre
    # Moving grid: the fixed grid moved by the truth, shifted by a fraction of a voxel (no voxel coincides), with
    # the content of the fixed image at truth^-1 of each moving world point.
    moving_affine = truth @ affine
    moving_affine[:3, 3] += moving_affine[:3, :3] @ np.array([0.45, -0.3, 0.4])
    moving = resample_to_grid(image, truth @ affine, image.shape, moving_affine, order=1, mode="constant")
    moving_label = resample_to_grid(label, truth @ affine, image.shape, moving_affine, order=0, mode="constant")
    return {
        "image": image,
        "label": label,
        "affine": affine,
        "moving": moving,
        "moving_label": moving_label,
        "moving_affine": moving_affine,
        "truth": truth,
        "corners": corners,
    }


def _errors(matrix: np.ndarray, pair: dict) -> tuple[float, float]:
    """Max displacement error (mm) over the heart bounding-box corners and rotation error (deg)."""
    dist = np.linalg.norm(apply_affine(matrix, pair["corners"]) - apply_affine(pair["truth"], pair["corners"]), axis=1)
    delta = matrix[:3, :3].T @ pair["truth"][:3, :3]
    angle = np.degrees(np.arccos(np.clip((np.trace(delta) - 1.0) / 2.0, -1.0, 1.0)))
    return float(dist.max()), float(angle)


def test_rigid_point_fit_and_angles():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(6, 3)) * 30
    truth = np.eye(4)
    truth[:3, :3] = rotation_matrix((10, -20, 35))
    truth[:3, 3] = (3, -2, 9)
    np.testing.assert_allclose(fit_rigid_points(points, apply_affine(truth, points)), truth, atol=1e-9)
    np.testing.assert_allclose(euler_angles_deg(truth[:3, :3]), (10, -20, 35), atol=1e-9)
    with pytest.raises(InputError, match="line"):
        fit_rigid_points(np.outer(np.arange(4), (1, 2, 3)), np.outer(np.arange(4), (1, 2, 3)))


def test_itk_image_is_in_lps_with_the_same_voxels(pair):
    from custom_networks.core.itk_bridge import image_from_array

    image = image_from_array(pair["image"], pair["affine"])
    for index in [(0, 0, 0), (5, 17, 3), tuple(int(n) - 1 for n in pair["image"].shape)]:
        ras = apply_affine(pair["affine"], np.asarray(index, dtype=float))
        lps = np.asarray(image.TransformIndexToPhysicalPoint(index))
        np.testing.assert_allclose(lps, ras * (-1, -1, 1), atol=1e-4)
        assert image.GetPixel(index) == pytest.approx(float(pair["image"][index]))


def test_resample_moving_pulls_back_through_the_matrix(pair):
    moved = pair["truth"] @ pair["affine"]  # same voxels, moved affine: an exact copy after pull-back
    back = resample_moving(pair["image"], moved, pair["truth"], pair["image"].shape, pair["affine"])
    inner = (slice(1, -1),) * 3  # border voxels sit on the edge of the field of view (round-off: outside -> 0)
    np.testing.assert_allclose(back[inner], pair["image"][inner], rtol=1e-4, atol=1e-2)
    labels = resample_moving(pair["label"], moved, pair["truth"], pair["label"].shape, pair["affine"], label=True)
    assert labels.dtype == np.uint8 and np.array_equal(labels[inner], pair["label"][inner])


def test_landmark_pairing_follows_the_world_slice_direction(pair):
    """A copy indexed the other way along the slice axis (same world content) registers to the identity."""
    flip = np.eye(4)
    flip[2, 2], flip[2, 3] = -1.0, pair["label"].shape[2] - 1.0
    flipped_affine = pair["affine"] @ flip
    result = register_rigid(
        pair["image"], pair["affine"], pair["image"][:, :, ::-1], flipped_affine,
        pair["label"], pair["label"][:, :, ::-1], refine=False,
    )  # fmt: skip
    np.testing.assert_allclose(result.matrix, np.eye(4), atol=1e-6)
    assert result.landmark_rms_mm < 1e-6


def test_recovers_known_motion_with_labels(pair):
    args = (pair["image"], pair["affine"], pair["moving"], pair["moving_affine"], pair["label"], pair["moving_label"])
    initial = register_rigid(*args, refine=False)
    assert initial.method == "landmarks" and initial.converged and initial.iterations == 0
    assert _errors(initial.matrix, pair)[0] < 3.0  # landmarks alone: within a few mm (labels are resampled)
    result = register_rigid(*args)
    dist, angle = _errors(result.matrix, pair)
    assert result.method == "landmarks+intensity" and result.converged, result.stop_reason
    assert dist < 1.0 and angle < 1.0, (dist, angle)
    assert result.metric <= result.metric_initial
    # the reported parameters describe the same map: x_moving = R (x - c) + c + t
    np.testing.assert_allclose(rotation_matrix(result.rotation_deg), result.matrix[:3, :3], atol=1e-9)
    c = result.center_mm
    np.testing.assert_allclose(result.map_points(c), c + result.translation_mm, atol=1e-9)
    np.testing.assert_allclose(result.rotation_deg, ANGLES, atol=1.0)


def test_refinement_that_pulls_the_hearts_apart_is_not_converged(pair, monkeypatch):
    """The intensity metric can improve while the hearts drift apart (two different subjects): with labels, a
    refinement that lowers the label overlap below the landmark fit's is reported, not used."""
    import custom_networks.registration.rigid as rigid

    real_refine = rigid._itk_refine

    def drifting_refine(*args, **kwargs):  # the optimiser "succeeds", 25 mm off the heart
        matrix, stats = real_refine(*args, **kwargs)
        drifted = matrix.copy()
        drifted[:3, 3] += [25.0, 0.0, 0.0]
        return drifted, stats

    monkeypatch.setattr(rigid, "_itk_refine", drifting_refine)
    args = (pair["image"], pair["affine"], pair["moving"], pair["moving_affine"], pair["label"], pair["moving_label"])
    result = register_rigid(*args)
    assert not result.converged and "lowered the mean label Dice" in result.stop_reason
    with pytest.raises(RegistrationError, match="lowered the mean label Dice"):
        register_rigid(*args, strict=True)


def test_recovers_known_motion_from_intensity_only(pair):
    result = register_rigid(pair["image"], pair["affine"], pair["moving"], pair["moving_affine"])
    dist, angle = _errors(result.matrix, pair)
    assert result.method == "intensity" and result.converged, result.stop_reason
    assert result.landmarks is None and result.iterations > 0
    assert dist < 1.0 and angle < 1.0, (dist, angle)


def test_noise_does_not_register_and_strict_raises(pair):
    noise = np.random.default_rng(0).random(pair["image"].shape).astype(np.float32)
    args = (pair["image"], pair["affine"], noise, pair["affine"])
    result = register_rigid(*args, iterations=2)
    assert not result.converged and "iteration limit" in result.stop_reason
    with pytest.raises(RegistrationError, match="did not converge") as err:
        register_rigid(*args, iterations=2, strict=True)
    assert err.value.result is not None and not err.value.result.converged
    # with a full budget the optimiser does stop on its tolerance, but on no shared information
    result = register_rigid(*args)
    assert not result.converged and "mutual information" in result.stop_reason, result.stop_reason


@pytest.fixture()
def files(pair, tmp_path):
    inputs = tmp_path / "in"
    paths = {
        "fixed": save_nifti(pair["image"], pair["affine"], inputs / "target.nii.gz"),
        "fixed_label": save_nifti(pair["label"], pair["affine"], inputs / "target_label.nii.gz", label=True),
        "moving": save_nifti(pair["moving"], pair["moving_affine"], inputs / "source.nii.gz"),
        "moving_label": save_nifti(pair["moving_label"], pair["moving_affine"], inputs / "source_label.nii.gz", True),
    }
    return {k: str(v) for k, v in paths.items()}


def test_cli_writes_overlaying_outputs(pair, files, tmp_path):
    out, label_out = tmp_path / "out" / "source_on_target.nii.gz", tmp_path / "out" / "source_label_on_target.nii.gz"
    argv = ["align", "--fixed", files["fixed"], "--moving", files["moving"], "--out", str(out)]
    argv += ["--fixed_label", files["fixed_label"], "--moving_label", files["moving_label"]]
    assert main([*argv, "--moving_label_out", str(label_out)]) == 0
    image, label = nib.load(str(out)), nib.load(str(label_out))
    np.testing.assert_allclose(image.affine, pair["affine"], atol=1e-5)
    assert image.shape == pair["image"].shape and label.shape == pair["label"].shape
    on_fixed = np.asarray(label.dataobj)
    for k in (1, 2, 3):
        assert _dice(on_fixed == k, pair["label"] == k) > 0.9, k
    inside = pair["label"] > 0
    assert np.corrcoef(np.asarray(image.dataobj)[inside], pair["image"][inside])[0, 1] > 0.95
    record = json.loads(transform_json_path(out).read_text())
    assert record["method"] == "landmarks+intensity" and record["converged"]
    assert _errors(np.asarray(record["matrix"]), pair)[0] < 1.0
    assert "fixed (target) world RAS mm to moving (source)" in record["convention"]
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        [out.name, label_out.name, transform_json_path(out).name]
    )


def test_bad_inputs_name_the_file_and_write_nothing(pair, files, tmp_path, capsys):
    out_dir = tmp_path / "out"
    out = out_dir / "aligned.nii.gz"
    missing = str(tmp_path / "nope.nii.gz")
    with pytest.raises(InputError, match="nope.nii.gz: file not found"):
        align_pair(files["fixed"], missing, out)
    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(b"\x1f\x8b not a nifti")
    with pytest.raises(InputError, match="corrupt.nii.gz"):
        align_pair(corrupt, files["moving"], out)
    no_rv = np.where(pair["moving_label"] == 3, 0, pair["moving_label"])
    no_rv_path = save_nifti(no_rv, pair["moving_affine"], tmp_path / "no_rv.nii.gz", label=True)
    with pytest.raises(InputError, match=r"no_rv\.nii\.gz.*landmarks are undefined"):
        align_pair(files["fixed"], files["moving"], out, files["fixed_label"], no_rv_path)
    with pytest.raises(InputError, match="needs --moving_label"):
        align_pair(files["fixed"], files["moving"], out, moving_label_out=out_dir / "l.nii.gz")
    with pytest.raises(InputError, match=r"\.nii\.gz or \.nii"):
        align_pair(files["fixed"], files["moving"], out_dir / "aligned.png")
    with pytest.raises(InputError, match="overwrite an input"):
        align_pair(files["fixed"], files["moving"], files["moving"])
    assert main(["align", "--fixed", files["fixed"], "--moving", missing, "--out", str(out)]) == 2
    assert "nope.nii.gz: file not found" in capsys.readouterr().err
    # strict failure (noise, tiny budget): exit 3 and still nothing written
    noise = np.random.default_rng(1).random(pair["image"].shape).astype(np.float32)
    noise_path = save_nifti(noise, pair["affine"], tmp_path / "noise.nii.gz")
    argv = ["align", "--fixed", files["fixed"], "--moving", str(noise_path), "--out", str(out), "--iterations", "2"]
    assert main(argv) == 3
    assert "did not converge" in capsys.readouterr().err
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_existing_outputs_are_refused_up_front_unless_overwrite(files, tmp_path, capsys, monkeypatch):
    """``align`` refuses an existing output (image, its transform JSON, or the label output) with one line naming
    it, before reading or registering anything, and changes no file; ``--overwrite True`` replaces them."""
    import custom_networks.registration.rigid as rigid

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out, label_out = out_dir / "al.nii.gz", out_dir / "al_label.nii.gz"
    argv = ["align", files["fixed"], files["moving"], str(out), "--fixed_label", files["fixed_label"]]
    argv += ["--moving_label", files["moving_label"], "--moving_label_out", str(label_out), "--norefine"]
    calls = []
    real = rigid.register_rigid
    monkeypatch.setattr(rigid, "register_rigid", lambda *a, **k: calls.append(1) or real(*a, **k))
    for existing in (out, transform_json_path(out), label_out):
        for old in out_dir.iterdir():
            old.unlink()
        existing.write_bytes(b"the user's own file")
        before = checksums(out_dir)
        capsys.readouterr()
        assert main(argv) == 2
        assert capsys.readouterr().err.strip().splitlines() == [
            f"error: {existing}: exists (pass --overwrite True to replace it)"
        ]
        assert checksums(out_dir) == before and calls == []
    assert main([*argv, "--overwrite", "True"]) == 0
    assert calls
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([out.name, label_out.name, "al_transform.json"])
    assert nib.load(str(out)).shape == nib.load(str(label_out)).shape
    assert json.loads(transform_json_path(out).read_text())["output"] == str(out)


def test_constant_image_is_named_by_its_file(pair, files, tmp_path, capsys):
    """An all-zero moving (or fixed) image: one line naming its file, exit 2, nothing written."""
    zero = save_nifti(np.zeros_like(pair["moving"]), pair["moving_affine"], tmp_path / "in" / "zero.nii.gz")
    out_dir = tmp_path / "out"
    for fixed, moving in ((files["fixed"], str(zero)), (str(zero), files["moving"])):
        assert main(["align", fixed, moving, str(out_dir / "al.nii.gz")]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [
            f"error: {zero}: constant image (every voxel 0); nothing to register by intensity"
        ]
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_full_disk_names_the_output_and_leaves_nothing(files, tmp_path, capsys, monkeypatch):
    """ENOSPC while writing the second output: one line naming it, exit 2, no output or temporary file left."""
    import errno

    out_dir = tmp_path / "out"
    out, label_out = out_dir / "al.nii.gz", out_dir / "al_label.nii.gz"
    real_save, calls = nib.save, []

    def fill_disk_on_second(img, filename):
        calls.append(filename)
        if len(calls) == 2:
            with open(filename, "wb") as f:
                f.write(b"\x00" * 100)  # half-written
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(img, filename)

    monkeypatch.setattr(nib, "save", fill_disk_on_second)
    argv = ["align", files["fixed"], files["moving"], str(out), "--fixed_label", files["fixed_label"]]
    argv += ["--moving_label", files["moving_label"], "--moving_label_out", str(label_out), "--norefine"]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {label_out}: no space left on the device"]
    assert len(calls) == 2 and list(out_dir.iterdir()) == []
