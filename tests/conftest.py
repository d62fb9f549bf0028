"""Shared fixtures: generated subjects (cached per test session) and the location of the real data."""

from __future__ import annotations

import locale
import os
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _keep_locale():
    """ITK's GDCM DICOM writer (used by some tests to make DICOM files) switches the process locale to C, which would
    make later ``subprocess.run(text=True)`` decode as ASCII; restore it after every test."""
    saved = locale.setlocale(locale.LC_ALL)
    yield
    locale.setlocale(locale.LC_ALL, saved)


#: Real cardiac data (never copied into the repo): ``../shared/data`` from the project root, or $CARDIAC_DATA_DIR.
REAL_DATA = Path(os.environ.get("CARDIAC_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def real_data_path(*parts: str) -> Path:
    """Path under the real-data folder; skips the test when it is absent."""
    path = REAL_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available at {path}")
    return path


@pytest.fixture(scope="session")
def source_subjects():
    """Three parametric subjects of the source domain at the default 128 x 128 x 64 grid (seeds 0..2)."""
    from custom_networks.data import generate_subject, get_domain

    return [generate_subject([0, i], get_domain("source")) for i in range(3)]


@pytest.fixture(scope="session")
def aligned_subject():
    """One source subject without breath-hold misalignment."""
    from custom_networks.data import StackProtocol, generate_subject, get_domain

    return generate_subject([1, 0], get_domain("source"), protocol=StackProtocol(1.25, 8.0, 10.0, 0.0))


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two boolean masks."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return 2.0 * (a & b).sum() / max(a.sum() + b.sum(), 1)


#: Root of the repository (bundle config paths are relative to it).
REPO = Path(__file__).resolve().parents[1]
GEMINI_CONFIGS = REPO / "gemini_gan_bundle" / "configs"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A generated source-domain dataset of 3 subjects (train / validation / test: one subject each), from a seed
    that the shipped model never saw (the bundle trains on seed 0)."""
    from custom_networks.data import synthesize_dataset

    return synthesize_dataset(tmp_path_factory.mktemp("tiny") / "dataset", subjects=3, seed=101, progress=False)


def tiny_overrides(dataset: Path, work: Path) -> dict:
    """Bundle overrides for fast CPU runs on ``tiny_dataset``."""
    return {
        "dataset_dir": str(dataset),
        "output_dir": str(work / "runs"),
        "ckpt_dir": str(work / "models"),
        "patch_size": [32, 32, 32],
        "samples_per_volume": 1,
        "val_roi_size": [128, 128, 64],
        "features": [4, 8, 16, 32, 32],
        "num_workers": 0,
    }


def random_pair(shape, seed=0):
    """A seeded (source, target) pair of random images in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g), torch.rand(shape, generator=g)


def checked_translation_step(model, source: torch.Tensor, target: torch.Tensor) -> None:
    """One iteration as the translation trainer runs it, checking where the gradients go."""
    g_opt = torch.optim.Adam(model.generator_parameters(), lr=1e-3, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(model.discriminator_parameters(), lr=1e-3, betas=(0.5, 0.999))
    d_params = list(model.discriminator_parameters())
    d_before = [p.detach().clone() for p in d_params]

    model.zero_grad(set_to_none=True)  # (left-over discriminator gradients of a previous iteration)
    out = model.generator_loss(source, target)
    out["loss"].backward()
    for i, module in enumerate(model.generator_modules()):
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"generator module {i}: {name} got no gradient"
    for p in model.discriminator_parameters():
        assert p.grad is None, "generator_loss must not put gradient into a discriminator"
    g_opt.step()

    g_opt.zero_grad(set_to_none=True)
    d_opt.zero_grad(set_to_none=True)
    d_out = model.discriminator_loss(source, target)
    d_out["loss"].backward()
    for i, module in enumerate(model.discriminator_modules()):
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"discriminator {i}: {name} got no gradient"
    for p in model.generator_parameters():
        assert p.grad is None, "discriminator_loss must use detached fakes"
    d_opt.step()
    for i, (before, p) in enumerate(zip(d_before, d_params, strict=True)):
        assert not torch.equal(before, p.detach()), f"discriminator parameter {i} did not change"
    assert all(torch.isfinite(v).all() for v in (*out.values(), *d_out.values()))


def tiny_pairs(tmp_path_factory) -> Path:
    """3 source + 3 target_a subjects (one per split), aligned pairs; built once per test process (V-AMA tests)."""
    from custom_networks.pairs import ensure_paired_dataset

    return ensure_paired_dataset(tmp_path_factory.getbasetemp() / "vama_tiny_pairs", subjects=3, progress=False)


def reoriented_copy(src, dst):
    """Same voxels in world space, stored with the slice axis first and one in-plane axis flipped."""
    import nibabel as nib

    img = nib.load(src)
    data, aff = np.asarray(img.dataobj), img.affine
    flip = np.eye(4)
    flip[1, 1], flip[1, 3] = -1, data.shape[1] - 1
    data = data[:, ::-1, :]
    aff = aff @ flip
    perm = np.eye(4)[[2, 0, 1, 3]].T  # new index (k, i, j) -> old (i, j, k)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(np.transpose(data, (2, 0, 1))), aff @ perm), str(dst))
    return dst


def write_dicom_slice(path: Path, pixels: np.ndarray, origin, direction: np.ndarray, spacing, tags: dict) -> None:
    """One DICOM file written by ITK: ``pixels`` (rows, columns) as int16, ImagePositionPatient ``origin`` (LPS),
    ImageOrientationPatient the first two columns of ``direction`` (LPS), ``spacing`` (column, row, slice spacing in
    mm) and extra header ``tags`` ({"gggg|eeee": value})."""
    import itk

    image = itk.image_from_array(np.ascontiguousarray(np.asarray(pixels)[None].astype(np.int16)))
    image.SetSpacing([float(s) for s in spacing])
    image.SetOrigin([float(v) for v in origin])
    image.SetDirection(itk.matrix_from_array(np.ascontiguousarray(direction, dtype=float)))
    meta = image.GetMetaDataDictionary()
    for key, value in {"0008|0060": "MR", **tags}.items():
        meta[key] = value
    io = itk.GDCMImageIO.New()
    io.KeepOriginalUIDOn()
    writer = itk.ImageFileWriter[type(image)].New(Input=image, FileName=str(path), ImageIO=io)
    writer.Update()


def write_dicom_cine(folder: Path, array: np.ndarray, affine: np.ndarray, frame_ms: float = 40.0) -> None:
    """A NIfTI-style cine ``(X, Y, Z[, T])`` with its RAS affine written as one DICOM file per slice and phase, with
    file names that do not follow the slice order. The affine's slice axis must follow ``row x column`` (det > 0)."""
    array = np.asarray(array)
    array = array[..., None] if array.ndim == 3 else array
    spacing = np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0))
    to_lps = np.diag([-1.0, -1.0, 1.0])
    direction = to_lps @ (np.asarray(affine)[:3, :3] / spacing)
    if np.linalg.det(direction) <= 0:
        raise ValueError("the slice axis must follow row x column (a right-handed voxel frame)")
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for k in reversed(range(array.shape[2])):
        origin = to_lps @ (np.asarray(affine) @ np.array([0.0, 0.0, k, 1.0]))[:3]
        for t in range(array.shape[3]):
            tags = {"0020|000e": "1.2.826.0.1.3680043.2.1125.7", "0018|1060": f"{t * frame_ms:g}", "0020|0013": str(n)}
            write_dicom_slice(
                folder / f"f{(7919 * n) % 10007:05d}", array[:, :, k, t].T, origin, direction, spacing, tags
            )
            n += 1


@pytest.fixture(scope="session")
def tiny_cines(tmp_path_factory):
    """Three generated 4-frame cines (128 x 128 x 10 stacks over the engine's default 160 mm field of view, 40 ms
    apart; seeds 0..2): ``[(cine, truth_json), ...]``. (The slice segmenter, trained on real fields of view of
    200-450 mm, is not made for 120 mm crops with the heart filling the image.)"""
    from custom_networks.data import synthesize_cine

    folder = tmp_path_factory.mktemp("cines")
    made = []
    for i in range(3):
        cine, _, truth = synthesize_cine(
            folder, name=f"sub-{i:02d}", frames=4, seed=i, hr_shape=(128, 128, 48), progress=False
        )
        made.append((cine, truth))
    return made


#: A ``sitecustomize`` module that makes every gzip write of the process fail as on a full disk (a subprocess gets it
#: through ``PYTHONPATH``; the outputs of the project are ``.nii.gz``).
FULL_DISK_SITECUSTOMIZE = """
import errno, gzip

def _full(self, data):
    raise OSError(errno.ENOSPC, "No space left on device")

gzip.GzipFile.write = _full
"""


@pytest.fixture
def full_disk(monkeypatch):
    """A function that, once called, makes every gzip write fail with ``ENOSPC`` ("No space left on device"), as on
    a full disk (until the test ends): call it after the test's inputs are written."""
    import errno
    import gzip

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    return lambda: monkeypatch.setattr(gzip.GzipFile, "write", full)


#: The handler lists of the bundles' train.json / evaluate.json.
HANDLER_LISTS = ("train#handlers", "train#resume_handlers", "validate#handlers")


def kept_handlers(config_files: list[str], **overrides) -> dict[str, list[tuple[str, bool | None]]]:
    """``{list id: [(_target_, print_lr), ...]}`` of the handlers MONAI keeps once it has resolved their ``_disabled_``
    (a reference or an expression). Each handler is built as a plain dict (its arguments would build the networks and
    the datasets); what ``_disabled_`` and ``print_lr`` refer to is the real config with ``overrides``."""
    from monai.bundle import ConfigParser

    parser = ConfigParser(ConfigParser.load_config_files(config_files))
    for key, value in overrides.items():
        parser[key] = value
    for list_id in HANDLER_LISTS:
        parser[list_id] = [
            {
                "_target_": "builtins.dict",
                "target": h["_target_"],
                **{k: h[k] for k in ("_disabled_", "print_lr") if k in h},
            }
            for h in parser[list_id]
        ]
    return {
        list_id: [(h["target"], h.get("print_lr")) for h in parser.get_parsed_content(list_id)]
        for list_id in HANDLER_LISTS
    }


def write_label_file(path, data, zooms=(1.0, 1.0, 2.0)):
    """A label map saved as float64 NIfTI on an axis-aligned grid of voxel size ``zooms``."""
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.asarray(data, np.float64), np.diag([*zooms, 1.0])), str(path))
    return path


def toy_label_map() -> np.ndarray:
    """A 40 x 40 x 30 box heart in the UK Digital Heart values: 1 LV blood pool, 2 myocardium, 4 RV."""
    lab = np.zeros((40, 40, 30))
    lab[10:30, 10:30, 5:25] = 2.0
    lab[14:26, 14:26, 5:25] = 1.0
    lab[2:10, 10:30, 5:22] = 4.0
    return lab


def check_rank_zero_switches(train, multi_gpu, **ddp_overrides):
    """A bundle's logging / saving handlers refer to the named switch ``rank_zero_only_off``, the generator's
    ``LrScheduleHandler`` to ``print_lr`` (no override addresses a handler by list position), and
    ``multi_gpu_train.json`` sets the switches so that those handlers run on rank 0 only: the handlers MONAI keeps on
    one process, with the switches on, and on ranks 0 and 1 (``ddp_overrides``: items to replace so that the configs
    resolve without a process group). Returns the layered config."""
    import json
    import re

    from monai.bundle import ConfigParser

    config = ConfigParser(ConfigParser.load_config_files([str(train), str(multi_gpu)]))
    rank0_only = {"StatsHandler", "TensorBoardStatsHandler", "CheckpointSaver"}
    seen = set()
    for list_id in HANDLER_LISTS:
        for handler in config[list_id]:
            target = handler["_target_"]
            if target in rank0_only:
                seen.add(target)
                assert handler.get("_disabled_") == "@rank_zero_only_off", f"{list_id}: {target} only on rank 0"
            else:
                assert handler.get("_disabled_") != "@rank_zero_only_off", f"{list_id}: {target} on every rank"
    assert seen == rank0_only
    assert (config["rank_zero_only_off"], config["print_lr"]) == ("$@rank > 0", "$@rank == 0")
    assert not [key for key in json.loads(Path(multi_gpu).read_text()) if re.search(r"#\d", key)]  # no list position
    (generator_lr,) = [h for h in config["train#handlers"] if h.get("lr_scheduler") == "@g_lr_scheduler"]
    assert generator_lr["_target_"] == "LrScheduleHandler" and generator_lr["print_lr"] == "@print_lr"
    every_rank = [("LrScheduleHandler", True), ("LrScheduleHandler", False), ("ValidationHandler", None)]
    logging = [("StatsHandler", None), ("TensorBoardStatsHandler", None)]
    everything = {
        "train#handlers": every_rank + logging,
        "train#resume_handlers": [("CheckpointSaver", None)],  # the CheckpointLoader only with --resume
        "validate#handlers": [*logging, ("CheckpointSaver", None)],
    }
    rank_zero_only = {
        "train#handlers": [("LrScheduleHandler", False), *every_rank[1:]],
        "train#resume_handlers": [],
        "validate#handlers": [],
    }
    assert kept_handlers([str(train)]) == everything  # one process
    assert kept_handlers([str(train)], rank_zero_only_off=True, print_lr=False) == rank_zero_only
    layered = [str(train), str(multi_gpu)]
    assert kept_handlers(layered, rank=0, **ddp_overrides) == everything
    assert kept_handlers(layered, rank=1, **ddp_overrides) == rank_zero_only
    return config


def checksums(root: Path) -> dict[str, str | None]:
    """``{relative path: sha256}`` of everything under ``root``, hidden files included (folders as None): equal
    before and after a command that must not change a user's files."""
    from custom_networks.core.nifti import file_sha256

    return {str(p.relative_to(root)): file_sha256(p) if p.is_file() else None for p in sorted(Path(root).rglob("*"))}


@pytest.fixture
def user_folder(tmp_path):
    """A folder of the user's: ``precious.txt`` and ``sub/x.txt``."""
    folder = tmp_path / "work"
    (folder / "sub").mkdir(parents=True)
    (folder / "precious.txt").write_text("the user's")
    (folder / "sub" / "x.txt").write_text("the user's too")
    return folder
