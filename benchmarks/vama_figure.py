"""Picture of the domain adaptation on one generated target test case: the target image, each translation (histogram
matching, V-AMA and the comparators with weights under ``vama_bundle/models``) and the case's source twin (the same
subject rendered in the source domain: what an ideal translation outputs), each with the frozen Gemini-GAN's
segmentation, beside the HR reference labels.

Usage::

    python benchmarks/vama_figure.py --case sub-0010_ED --out vama_bundle/docs/images/translations.png

Uses the bundle's own configs (``train.json`` + a comparator override + ``evaluate.json``) for the preprocessing, the
networks and the inferer, so the picture shows what ``evaluate.json`` scores.
"""

from __future__ import annotations

from pathlib import Path

import fire
import numpy as np
import torch
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from monai.bundle import ConfigParser

from custom_networks.bundle.translation_methods import (
    METHOD_NAMES,
    TRANSLATION_METHODS,
    VAMA_BUNDLE,
    method_configs,
)
from custom_networks.core.errors import InputError
from custom_networks.core.labels import LABEL_COLORS
from custom_networks.core.nifti import save_figure
from custom_networks.evaluate import dice_per_class
from custom_networks.pairs import load_pairs

CONFIGS = VAMA_BUNDLE / "configs"


def _parser(method: str) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / c) for c in [*method_configs(method, "train.json"), "evaluate.json"]])
    return parser


def _overlay(ax, image: np.ndarray, label: np.ndarray | None, title: str) -> None:
    """Grey image, labels as translucent fills with their outlines (LV blood pool drawn last, so that the outlines
    shared by neighbouring labels show every class)."""
    ax.imshow(image.T, cmap="gray", origin="lower", vmin=0, vmax=1)
    if label is not None:
        fill = np.zeros((*label.T.shape, 4))
        for value, color in sorted(LABEL_COLORS.items(), reverse=True):
            if value and (label == value).any():
                fill[(label == value).T] = (*to_rgb(color), 0.25)
                ax.contour((label == value).T, levels=[0.5], colors=[color], linewidths=0.9)
        ax.imshow(fill, origin="lower")
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def _dice(seg: np.ndarray, label: np.ndarray) -> str:
    """3D Dice per class of the whole volume, formatted for a panel title."""
    return "Dice " + " / ".join(f"{v:.2f}" for v in dice_per_class(seg, label).values())


def main(case: str = "sub-0010_ED", out: str = "vama_bundle/docs/images/translations.png") -> None:
    """Draw the figure.

    Args:
        case: target test case (``<subject>_<phase>``).
        out: PNG path.
    """
    base = _parser("vama")
    items = [
        i
        for i in load_pairs(base.get_parsed_content("dataset_dir"), "test", include_rejected=True, source_twins=True)
        if i["case"] == case
    ]
    if not items:
        raise InputError(f"{case}: not a target test case of the paired dataset")
    data = base.get_parsed_content("validate#preprocessing")(items[0])
    target, label, twin = data["target"][None], data["target_label"][0].numpy(), data["target_twin"][None]
    gemini, inferer = base.get_parsed_content("gemini"), base.get_parsed_content("validate#inferer")
    z = int(np.argmax((label > 0).sum(axis=(0, 1))))
    panels = [("target (no adaptation)", target)]
    with torch.no_grad():
        for method in TRANSLATION_METHODS:
            parser = base if method == "vama" else _parser(method)
            ckpt = Path(parser.get_parsed_content("ckpt_dir")) / "model.pt"
            if not ckpt.is_file():
                continue
            network = parser.get_parsed_content("network")
            network.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=True))
            network.eval()
            translator = parser.get_parsed_content("validate#network#translator")  # calibrated where deployed so
            name = METHOD_NAMES[method] + (" + calibration" if parser.get_parsed_content("calibrate") else "")
            panels.append((name, inferer(target, translator)))
        panels.append(("source twin (ideal)", twin))
        segs = [inferer(image, gemini).argmax(1)[0].numpy() for _, image in panels]
    fig = Figure(figsize=(2.6 * (len(panels) + 1), 6.0))
    axes = fig.subplots(2, len(panels) + 1)
    for k, ((name, image), seg) in enumerate(zip(panels, segs, strict=True)):
        _overlay(axes[0, k], image[0, 0].numpy()[:, :, z], None, name)
        _overlay(axes[1, k], image[0, 0].numpy()[:, :, z], seg[:, :, z], _dice(seg, label))
    _overlay(axes[0, -1], target[0, 0].numpy()[:, :, z], label[:, :, z], "reference labels")
    axes[1, -1].axis("off")
    fig.suptitle(
        f"{case}, target_a domain, mid-heart short-axis slice (HR grid); labels: LV blood pool (red), LV myocardium"
        " (green), RV (blue); bottom: the frozen Gemini-GAN's labels and its 3D Dice (whole volume) LV / myo / RV",
        fontsize=10,
    )
    fig.tight_layout()
    save_figure(fig, out)
    print(out)


if __name__ == "__main__":
    fire.Fire(main)
