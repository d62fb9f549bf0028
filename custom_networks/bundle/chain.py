"""V-AMA followed by the frozen Gemini-GAN: the validation network of the V-AMA bundle and the chained inference.

* the V-AMA bundle's evaluator runs :class:`~custom_networks.nets.AdaptThenSegment` (the translation, then the
  frozen Gemini-GAN built and loaded by :func:`frozen_network`).
* :func:`frozen_network`: a network with its weights loaded from a flat state dict, in eval mode, without gradients.
* :func:`run_gemini_inference`: runs the Gemini-GAN bundle's own ``inference.json`` on adapted volumes (the
  ``chain_gemini`` option of the V-AMA bundle's inference).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from custom_networks.bundle.workflows import GEMINI_BUNDLE, load_workflow
from custom_networks.core.errors import InputError
from custom_networks.transforms.save import output_stem

__all__ = ["adapted_paths", "frozen_network", "gemini_bundle_root", "run_gemini_inference"]

logger = logging.getLogger(__name__)


def frozen_network(network: nn.Module, ckpt_path: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """Load a flat state dict into ``network`` and freeze it (eval mode, no gradients).

    Args:
        network: the network (built with the hyper-parameters the checkpoint was trained with).
        ckpt_path: ``models/model.pt``-style checkpoint (a flat state dict).
        device: device to move the network to.

    Raises:
        InputError: the checkpoint is missing or does not fit the network.
    """
    path = Path(ckpt_path)
    if not path.is_file():
        raise InputError(
            f"{path}: checkpoint not found; train the Gemini-GAN bundle first (or pass --gemini_ckpt / "
            "--gemini_bundle_root)"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        network.load_state_dict(state)
    except RuntimeError as err:
        raise InputError(f"{path}: does not fit the network (different hyper-parameters?): {err}") from err
    network = network.to(device).eval()
    network.requires_grad_(False)
    return network


def gemini_bundle_root(bundle_root: str | os.PathLike) -> str:
    """The Gemini-GAN bundle beside a V-AMA bundle root (``<parent>/gemini_gan_bundle``), or this repository's.

    Args:
        bundle_root: the V-AMA bundle folder.
    """
    sibling = Path(bundle_root).absolute().parent / "gemini_gan_bundle"
    return str(sibling if sibling.is_dir() else GEMINI_BUNDLE)


def adapted_paths(datalist: Sequence[dict], output_dir: str | os.PathLike, postfix: str = "adapted") -> list[str]:
    """Output files of the V-AMA inference for ``datalist``: ``<output_dir>/<name>_<postfix>.nii.gz``.

    ``<name>`` is the item's ``"case"`` when present (generated cases), else the input file name without extension,
    as :class:`custom_networks.transforms.SaveNiftid` names them.

    Args:
        datalist: inference items (``{"image": path[, "case": name]}``).
        output_dir: inference output folder.
        postfix: postfix of the adapted volumes.
    """
    out = []
    for item in datalist:
        name = item.get("case")
        if not isinstance(name, str):
            name = output_stem(item["image"])
        out.append(str(Path(output_dir) / f"{name}_{postfix}.nii.gz"))
    return out


def run_gemini_inference(
    inputs: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    bundle: str | os.PathLike = GEMINI_BUNDLE,
    **overrides: Any,
) -> list[str]:
    """Run the Gemini-GAN generator (``inference.json`` + ``inference_gemini.json``) on the given volumes (e.g. V-AMA
    adapted volumes, which aim at its synthetic domain).

    Each input ``<name>.nii.gz`` gives ``<name>_seg.nii.gz`` (and ``<name>_sr.nii.gz`` unless
    ``sr_output=False``) in ``output_dir``; for an adapted volume ``<case>_adapted.nii.gz`` that is
    ``<case>_adapted_seg.nii.gz``. An adapted volume already lies on the HR grid (slice axis last), so the Gemini
    pipeline's resampling onto the HR grid (``ResampleToHRGridd``) is skipped: the outputs lie exactly on the adapted
    volume's grid (re-deriving the grid from a float32 NIfTI affine can add a voxel along an axis).

    Args:
        inputs: NIfTI volumes.
        output_dir: output folder.
        bundle: the Gemini-GAN bundle folder.
        overrides: overrides of the Gemini-GAN inference config (``ckpt_path``, ``features``, ``sr_output``...).

    Returns:
        The segmentation files written.

    Raises:
        InputError: an input is missing.
    """
    missing = [str(p) for p in inputs if not Path(p).is_file()]
    if missing:
        raise InputError(f"{missing[0]}: adapted volume not found (did the V-AMA inference run?)")
    if not inputs:
        return []
    datalist = [{"image": str(p)} for p in inputs]
    logger.info("Gemini-GAN (%s) on %d adapted volume(s)", bundle, len(datalist))
    overrides = {"resample_to_hr_grid": False, **overrides}  # the translations are on the HR grid already
    workflow = load_workflow(
        ["inference.json", "inference_gemini.json"],
        bundle=bundle,
        datalist=datalist,
        output_dir=str(output_dir),
        **overrides,
    )
    workflow.run()
    workflow.finalize()
    return [p[: -len(".nii.gz")] + "_seg.nii.gz" for p in (str(Path(output_dir) / Path(i).name) for i in inputs)]
