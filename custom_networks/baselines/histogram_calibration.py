"""Fitting the histogram-matching baseline of the V-AMA bundle (``configs/comparators/histogram_matching.json``).

The baseline (:class:`custom_networks.baselines.HistogramMatching`) has no trainable weights: its "training" is the
mean foreground quantiles of the source cohort's training images, saved like any comparator's weights
(``models/histogram_matching/model.pt``, a flat state dict) so that the bundle's evaluation and inference load it
the same way.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from monai.data import load_decathlon_datalist
from tqdm import tqdm

from custom_networks.baselines.histogram_matching import HistogramMatching
from custom_networks.core.errors import InputError

__all__ = ["fit_histogram_matching", "load_calibration", "source_training_items"]

logger = logging.getLogger(__name__)


def source_training_items(dataset_dir: str | os.PathLike) -> list[dict]:
    """The source cohort's own training images of a paired dataset (not the aligned copies, which are zero outside
    the source field of view): what the histogram matching is fitted on.

    Args:
        dataset_dir: paired dataset folder (``pairs.json`` names the source dataset).

    Returns:
        Datalist items of the source dataset's ``training`` split (absolute paths; the stack on the HR grid under
        ``image``).

    Raises:
        InputError: no ``pairs.json`` or a source dataset without ``dataset.json``.
    """
    pairs_path = Path(dataset_dir) / "pairs.json"
    if not pairs_path.is_file():
        raise InputError(f"{pairs_path}: no paired dataset here")
    source = Path(dataset_dir) / json.loads(pairs_path.read_text())["source_dataset"]
    if not (source / "dataset.json").is_file():
        raise InputError(f"{source}/dataset.json: missing; the paired dataset's source cohort is not there")
    return load_decathlon_datalist(source / "dataset.json", data_list_key="training", base_dir=source)


def fit_histogram_matching(
    network: HistogramMatching,
    items: Sequence[dict],
    transform: Callable[[dict], dict],
    ckpt_dir: str | os.PathLike,
    key: str = "image",
    progress: bool = True,
) -> Path:
    """Fit ``network`` on the source images of ``items`` and save its state dict as ``ckpt_dir/model.pt``.

    Args:
        network: the histogram-matching module to fit.
        items: datalist items holding a source-domain image path under ``key`` (the source cohort's training images,
            :func:`source_training_items`).
        transform: the loading and intensity scaling of the network inputs, applied to each item.
        ckpt_dir: folder of the checkpoint (created if needed).
        key: key of the source-domain image.
        progress: show a progress bar.

    Returns:
        The checkpoint path.

    Raises:
        InputError: when ``items`` is empty, an item lacks ``key`` or an image has no foreground.
    """
    if not items:
        raise InputError("no training items to fit the histogram matching on")
    images = []
    for item in tqdm(items, desc="source histograms", disable=not progress):
        if key not in item:
            raise InputError(f"training item {item.get('case', item)} has no '{key}' image")
        images.append(torch.as_tensor(transform(dict(item))[key]))
    try:
        network.fit(images)
    except ValueError as err:
        raise InputError(f"histogram matching: {err}") from err
    path = Path(ckpt_dir) / "model.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({k: v.cpu() for k, v in network.state_dict().items()}, tmp)
    os.replace(tmp, path)
    ref = network.reference
    logger.info(
        "histogram matching fitted on %d source images (reference quantiles 5/50/95 %%: %.3f / %.3f / %.3f): %s",
        len(images),
        float(ref[len(ref) * 5 // 100]),
        float(ref[len(ref) // 2]),
        float(ref[len(ref) * 95 // 100]),
        path,
    )
    return path


def load_calibration(path: str | os.PathLike, device: str | torch.device = "cpu") -> HistogramMatching:
    """The fitted histogram matching saved by :func:`fit_histogram_matching` (the V-AMA bundle's calibration).

    Args:
        path: its checkpoint (``models/histogram_matching/model.pt``).
        device: where to put it.

    Returns:
        The module in evaluation mode.

    Raises:
        InputError: a missing or unreadable checkpoint, or one that is not a fitted histogram matching.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{path}: calibration not found; fit it with python -m monai.bundle run fit --config_file "
            "\"['vama_bundle/configs/train.json','vama_bundle/configs/comparators/histogram_matching.json']\""
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        levels = state["levels"]
        network = HistogramMatching(num_quantiles=len(levels))
        network.load_state_dict(state)
    except Exception as err:  # unreadable file, another network's weights
        raise InputError(f"{path}: not a histogram-matching checkpoint ({err})") from err
    if not bool(network.fitted):
        raise InputError(f"{path}: the histogram matching was never fitted")
    return network.to(device).eval()
