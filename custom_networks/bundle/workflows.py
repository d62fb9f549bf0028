"""Running a bundle config programmatically (demo, benchmarks, tests): the same code path as
``python -m monai.bundle run``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from monai.bundle import ConfigWorkflow

from custom_networks.core.errors import InputError

__all__ = ["BUNDLES", "GEMINI_BUNDLE", "bundle_folder", "load_workflow", "parse_device", "parse_roi_size"]

#: The bundles of this repository, by name.
BUNDLES = {name: Path(__file__).resolve().parents[2] / name for name in ("gemini_gan_bundle", "vama_bundle")}
#: The Gemini-GAN bundle folder of this repository.
GEMINI_BUNDLE = BUNDLES["gemini_gan_bundle"]


def bundle_folder(bundle: str | Path) -> Path:
    """A bundle folder from its name (one of :data:`BUNDLES`) or path.

    Raises:
        InputError: not a bundle (no ``configs/inference.json``).
    """
    folder = BUNDLES.get(str(bundle), Path(str(bundle)))
    if not (folder / "configs" / "inference.json").is_file():
        raise InputError(f"{bundle}: not a bundle (use {' or '.join(BUNDLES)}, or a bundle folder with configs/)")
    return folder.resolve()


def parse_device(device: str) -> torch.device:
    """A torch device from ``cpu`` / ``cuda`` / ``cuda:N``.

    Raises:
        InputError: not a device, or CUDA asked for where there is none.
    """
    try:
        torch_device = torch.device(str(device))
    except RuntimeError as err:
        raise InputError(f"--device {device!r}: not a device (use cpu or cuda)") from err
    if torch_device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is available here (use --device cpu)")
    index = torch_device.index
    if torch_device.type == "cuda" and index is not None and index >= torch.cuda.device_count():
        raise InputError(f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s) (cuda:0 ...)")
    return torch_device


def parse_roi_size(roi_size: Any) -> list[int]:
    """The sliding-window size of ``--roi_size``: three voxel counts on the HR grid, or one for a cube (a size of 0
    or less takes the whole axis, as in MONAI).

    Raises:
        InputError: not one or three whole numbers.
    """
    sizes = [roi_size] if isinstance(roi_size, int) else roi_size
    if (
        isinstance(roi_size, (str, bool))
        or not isinstance(sizes, (list, tuple))
        or len(sizes) not in (1, 3)
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in sizes)
    ):
        raise InputError(f"--roi_size {roi_size!r}: one or three whole numbers of voxels, e.g. 96 or [128,128,64]")
    return [int(s) for s in sizes] * (3 if len(sizes) == 1 else 1)


def load_workflow(
    configs: Sequence[str], bundle: str | Path = GEMINI_BUNDLE, run_id: str = "run", **overrides: Any
) -> ConfigWorkflow:
    """Parse and initialise a bundle workflow (``run()`` / ``finalize()`` are left to the caller).

    Args:
        configs: config file names inside ``<bundle>/configs`` (layered in order), e.g. ``["inference.json"]``.
        bundle: bundle folder.
        run_id: id of the program to run (``run``, ``training``, ``evaluating``, ...).
        overrides: config overrides (``bundle_root`` defaults to ``bundle``).
    """
    bundle = Path(bundle)
    workflow = ConfigWorkflow(
        config_file=[str(bundle / "configs" / c) for c in configs],
        meta_file=str(bundle / "configs" / "metadata.json"),
        logging_file=False,
        workflow_type=None,
        run_id=run_id,
        **{"bundle_root": str(bundle), **overrides},
    )
    workflow.initialize()
    return workflow
