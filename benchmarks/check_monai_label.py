"""Load the Gemini-GAN bundle the way MONAI Label does and segment a stack with it.

MONAI Label's bundle apps (e.g. the ``monaibundle`` sample app) wrap each bundle in
``monailabel.tasks.infer.bundle.BundleInferTask``, which reads only ``configs/inference.json`` (its
``network_def``, ``preprocessing``, ``inferer`` and ``postprocessing``), ``configs/metadata.json`` and
``models/model.pt``, runs them, restores the prediction to the image's reference space and writes it. This script
does exactly that on a generated stack, then checks what a viewer would get: a label map with the bundle's classes,
on the HR grid over the stack (world coordinates), agreeing with the generated ground truth.

Needs the separate MONAI Label environment (``make monailabel-check`` creates it and runs this script).

Usage: ``.venv-monailabel/bin/python benchmarks/check_monai_label.py --out benchmarks/results/monai_label.md``
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import fire
import nibabel as nib
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main(out: str = "benchmarks/results/monai_label.md", seed: int = 2027) -> None:
    """Run the check and write a markdown record; exits non-zero when a check fails."""
    import monailabel
    import torch
    from monailabel.tasks.infer.bundle import BundleInferTask

    from custom_networks.core import dice_per_class
    from custom_networks.core.geometry import hr_grid_for, resample_to_grid
    from custom_networks.data import synthesize_dataset

    with tempfile.TemporaryDirectory() as tmp:
        dataset = synthesize_dataset(Path(tmp) / "data", subjects=1, seed=seed, progress=False)
        stack = dataset / "sub-0000" / "ED" / "lr_image.nii.gz"
        start = time.perf_counter()
        task = BundleInferTask(str(REPO / "gemini_gan_bundle"), conf={})
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        result, info = task({"image": str(stack), "device": "cpu"})
        seconds = time.perf_counter() - start
        seg = nib.load(result)
        labels = np.rint(np.asarray(seg.dataobj)).astype(np.uint8)
        src = nib.load(stack)
        hr_shape, hr_affine, _ = hr_grid_for(src.shape, src.affine)
        ref = nib.load(dataset / "sub-0000" / "ED" / "hr_label.nii.gz")
        ref_on = resample_to_grid(
            np.asarray(ref.dataobj).astype(np.uint8), ref.affine, labels.shape, seg.affine, order=0, mode="constant"
        )
        dice = dice_per_class(labels, ref_on)
    checks = {
        "task valid (inference.json, metadata.json, models/model.pt found)": task.is_valid(),
        "input key `image`, output key `pred`": (task.key_image, task.key_pred) == ("image", "pred"),
        "labels from metadata: 1 LV blood pool, 2 LV myocardium, 3 RV": task.labels
        == {"lv blood pool": 1, "lv myocardium": 2, "rv": 3},
        "result is a 3D label map with values in 0-3": labels.ndim == 3 and set(np.unique(labels)) <= {0, 1, 2, 3},
        "result on the HR grid over the stack (shape, affine < 1e-3 mm)": tuple(labels.shape) == tuple(hr_shape)
        and float(np.abs(seg.affine - hr_affine).max()) < 1e-3,
        "Dice vs ground truth > 0.8 (LV blood pool) and > 0.7 (RV)": dice[1] > 0.8 and dice[3] > 0.7,
    }
    lines = [
        "# MONAI Label loading check",
        "",
        f"Made by: `make monailabel-check` (`.venv-monailabel/bin/python benchmarks/check_monai_label.py --out {out}`)",
        "",
        f"MONAI Label {monailabel.__version__}, torch {torch.__version__}; `BundleInferTask` on `gemini_gan_bundle/`, "
        f"one generated stack (seed {seed}, 128 x 128 x 13 at 1.25 x 1.25 x 10 mm).",
        "",
        "| check | result |",
        "| --- | --- |",
        *[f"| {name} | {'pass' if ok else 'FAIL'} |" for name, ok in checks.items()],
        "",
        f"Dice LV blood pool / myocardium / RV: {dice[1]:.3f} / {dice[2]:.3f} / {dice[3]:.3f}. "
        f"Task load {loaded:.1f} s, inference {seconds:.1f} s on CPU. MONAI Label latencies: "
        f"`{json.dumps(info.get('latencies', {}).get('total'))}` s total.",
        "",
    ]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines))
    print("\n".join(lines))
    if not all(checks.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    fire.Fire(main)
