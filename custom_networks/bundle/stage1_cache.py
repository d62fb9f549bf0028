"""Stage-1 class probabilities of real stacks, computed once and cached: the inputs of the self-supervised
super-resolution fine-tuning on real stacks (``configs/train_sr_real.json``).

The shipped slice segmenter runs on each stack exactly as ``configs/inference.json`` runs it (its preprocessing,
network, weights and :class:`~custom_networks.inferers.SliceStackInferer`), and its probabilities are brought back
onto the stack's own grid (``Invertd``). Per stack, the work folder gets ``<name>_image.nii.gz`` (the stack on
inference's [0, 1] percentile scale, its own grid) and ``<name>_probs.nii.gz`` (``(X, Y, Z, C)``, background first),
and ``stacks.json`` lists them with their set and subject: the record of what the fine-tuned weights were trained on
and of the subjects held out of it.

Which stacks: the training split of labelled real sets (split by subject as every training config of the bundle
splits them, :func:`custom_networks.datalists.labelled_stacks`: the validation subjects stay out, for the
held-out-slice test on subjects never trained on; their labels are not read) and unlabelled stacks (a ``cine_sax``
folder: every ``sax_*`` stack; 4D cines: ``frames`` of each).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import file_sha256, save_nifti, write_text_atomic

__all__ = ["cache_stage1_stacks", "held_out_subjects", "stage1_runner"]

logger = logging.getLogger(__name__)

#: The record the work folder keeps of its stacks.
RECORD = "stacks.json"


def stage1_runner(bundle_root: str | os.PathLike, device: str | torch.device = "cpu", tta: str | None = None):
    """A function ``path, frame -> (image, probs, affine)`` running stage 1 as ``inference.json`` does.

    Args:
        bundle_root: the Gemini-GAN bundle (its ``configs/inference.json`` and shipped ``models/model.pt``).
        device: where the network runs.
        tta: test-time augmentation of the slice segmenter (None: ``inference.json``'s).

    Returns:
        The function; ``image`` ``(X, Y, Z)`` is the stack on the [0, 1] scale of inference's preprocessing and
        ``probs`` ``(C, X, Y, Z)`` its class probabilities, both on the stack's grid with ``affine``.
    """
    from monai.bundle import ConfigParser
    from monai.transforms import Compose, Invertd

    from custom_networks.bundle.training import load_pretrained
    from custom_networks.transforms import LoadStackd, ResampleInPlaned

    parser = ConfigParser()
    parser.read_config(str(Path(bundle_root) / "configs" / "inference.json"))
    parser["bundle_root"] = str(bundle_root)
    parser["device"] = f"$torch.device('{torch.device(device)}')"
    if tta is not None:
        parser["tta"] = tta
    network = parser.get_parsed_content("network")
    load_pretrained(network, parser.get_parsed_content("ckpt_path"), device)
    network.eval()
    inferer = parser.get_parsed_content("inferer")
    steps = list(parser.get_parsed_content("preprocessing").transforms)
    if not isinstance(steps[0], LoadStackd):
        raise InputError(f"{bundle_root}: inference.json's preprocessing does not start with LoadStackd")
    first_resample = next((i for i, s in enumerate(steps) if isinstance(s, ResampleInPlaned)), len(steps))

    def run(path: str | os.PathLike, frame: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        load = LoadStackd("image", frame=frame)
        scaled = Compose([load, *steps[1:first_resample]])({"image": str(path)})["image"]
        preprocessing = Compose([load, *steps[1:]])
        data = preprocessing({"image": str(path)})
        image = data["image"]
        with torch.no_grad():
            probs = inferer(image[None].to(device), network)[0].cpu()
        data["pred"] = type(image)(probs, meta=image.meta, applied_operations=image.applied_operations)
        data = Invertd("pred", transform=preprocessing, orig_keys="image", nearest_interp=False)(data)
        pred = np.asarray(data["pred"], dtype=np.float32)
        if pred.shape[1:] != tuple(scaled.shape[1:]):
            raise InputError(f"{path}: stage-1 probabilities {pred.shape} not on the stack's grid {scaled.shape}")
        return np.asarray(scaled[0], np.float32), pred, np.asarray(scaled.affine, dtype=float)

    return run


def _as_list(paths: str | os.PathLike | Sequence[str | os.PathLike] | None) -> list[str | os.PathLike]:
    """None, empty or ``"none"`` (a command line's) -> ``[]``; one path -> ``[path]``; a list as it is."""
    if paths is None or str(paths).lower() in ("", "none", "null") or (isinstance(paths, list | tuple) and not paths):
        return []
    return [paths] if isinstance(paths, str | os.PathLike) else list(paths)


def _frames_of(path: Path, frames: Sequence[int] | None) -> list[int | None]:
    """``[None]`` for a 3D file; ``frames`` (default: the first and the middle one) of a 4D cine."""
    import nibabel as nib

    shape = nib.load(str(path)).shape
    if len(shape) < 4 or shape[3] == 1:
        return [None]
    n = int(shape[3])
    chosen = sorted({int(f) % n for f in (frames if frames is not None else (0, n // 2))})
    return list(chosen)


def cache_stage1_stacks(
    work_dir: str | os.PathLike,
    real_data: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    cine_data: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    frames: Sequence[int] | None = None,
    bundle_root: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    tta: str | None = None,
) -> list[dict[str, Any]]:
    """Run stage 1 once on every training stack and cache the results; stacks already cached are not run again.

    Args:
        work_dir: the cache folder (e.g. ``<bundle>/runs/sr_real/stage1``; outside the repository's tracked files).
        real_data: labelled real sets (folders or datalist files, :func:`custom_networks.datalists.labelled_stacks`);
            only their training split is used.
        cine_data: unlabelled stacks: ``cine_sax``-like folders (``<source>/sax_*.nii.gz``) or NIfTI files
            (3D stacks or 4D cines).
        val_fraction: fraction of the labelled subjects held out (the split of the bundle's other training runs).
        split_seed: seed of that split.
        frames: frames taken from a 4D cine (default: the first and the middle one).
        bundle_root: the bundle whose slice segmenter runs (default: the installed Gemini-GAN bundle).
        device: where stage 1 runs.
        tta: stage 1's test-time augmentation (None: ``inference.json``'s).

    Returns:
        Items ``{"image", "probs", "set", "subject", "case"}``; ``<work_dir>/stacks.json`` lists them (with the file
        and frame each came from), the held-out subjects and the slice segmenter's weights.

    Raises:
        InputError: no stack given, or a stack that cannot be read.
    """
    from custom_networks.bundle.helpers import default_bundle_root
    from custom_networks.datalists import cine_stacks, labelled_stacks

    bundle_root = Path(bundle_root) if bundle_root else Path(default_bundle_root("gemini_gan_bundle"))
    work = Path(work_dir)
    sources: list[tuple[str, str, str, Path, int | None]] = []  # (set, subject, name, path, frame)
    held_out: dict[str, list[str]] = {}
    for folder in _as_list(real_data):
        items = labelled_stacks(folder, "training", val_fraction, split_seed)
        set_name = Path(str(items[0]["image"])).parent.name
        for item in items:
            subject = str(item.get("subject") or item["case"])
            sources.append((set_name, subject, f"{set_name}_{item['case']}", Path(item["image"]), None))
        validation = labelled_stacks(folder, "validation", val_fraction, split_seed)
        held_out[set_name] = sorted({str(i.get("subject") or i["case"]) for i in validation})
    for cine in _as_list(cine_data):
        cine = Path(cine)
        stacks = [(n, p) for n, p, _ in cine_stacks(cine)] if cine.is_dir() else [(cine.name.split(".nii")[0], cine)]
        for name, path in stacks:
            for frame in _frames_of(path, frames):
                case = name if frame is None else f"{name}_frame{frame}"
                sources.append((cine.name, name, f"{cine.name}_{case}", path, frame))
    if not sources:
        raise InputError("no real stack given: --real_data FOLDERS and/or --cine_data FOLDERS")

    work.mkdir(parents=True, exist_ok=True)
    runner = None
    items: list[dict[str, Any]] = []
    recorded: list[dict[str, Any]] = []
    for set_name, subject, name, path, frame in sources:
        image_path, probs_path = work / f"{name}_image.nii.gz", work / f"{name}_probs.nii.gz"
        if not (image_path.is_file() and probs_path.is_file()):
            if runner is None:
                runner = stage1_runner(bundle_root, device, tta)
            logger.info("stage 1 on %s%s", path, "" if frame is None else f" (frame {frame})")
            image, probs, affine = runner(path, frame)
            save_nifti(np.moveaxis(probs, 0, -1), affine, probs_path, dtype=np.float32)
            save_nifti(image, affine, image_path, dtype=np.float32)
        items.append(
            {
                "image": str(image_path),
                "probs": str(probs_path),
                "set": set_name,
                "subject": subject,
                "case": name,
            }
        )
        recorded.append({**items[-1], "source": str(path), "frame": frame})
    weights = bundle_root / "models" / "model.pt"
    record = {
        "what": "stacks of the self-supervised SR fine-tuning on real stacks (stage-1 probabilities cached)",
        "stacks": recorded,
        "held_out_subjects": held_out,
        "val_fraction": float(val_fraction),
        "split_seed": int(split_seed),
        "stage1_weights": str(weights),
        "stage1_weights_sha256": file_sha256(weights) if weights.is_file() else None,
    }
    write_text_atomic(work / RECORD, json.dumps(record, indent=1, default=str) + "\n")
    logger.info("%d real stacks cached in %s", len(items), work)
    return items


def held_out_subjects(work_dir: str | os.PathLike, items: Sequence[dict] | None = None) -> dict[str, list[str]]:
    """Set -> the labelled subjects held out of the cached stacks (from ``<work_dir>/stacks.json``).

    Args:
        work_dir: the cache folder of :func:`cache_stage1_stacks`.
        items: its return value (unused: passing it makes a config evaluate the cache first).
    """
    path = Path(work_dir) / RECORD
    try:
        return dict(json.loads(path.read_text())["held_out_subjects"])
    except (OSError, ValueError, KeyError) as err:
        raise InputError(f"{path}: no record of the cached stacks ({err})") from err


if __name__ == "__main__":
    import fire

    fire.Fire(cache_stage1_stacks)
