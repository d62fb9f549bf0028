"""Every available method on the same test split, scored by one evaluation report.

Methods:

- classic interpolation of the native stack onto the HR grid with ITK, in world coordinates
  (``nearest``, ``linear``, ``bspline``); their label maps are the stack's own LR label maps up-sampled
  (nearest neighbour / one-hot linear): the "oracle label up-sampling" floor;
- the networks of ``gemini_gan_bundle`` through its own ``inference.json``: the slice segmenter (the bundle's
  default inference, shipped ``models/model.pt``), Gemini-GAN (``inference_gemini.json`` layered, synthetic-only
  weights) and the baselines (single-task U-Nets, joint U-Net, SegSR-GAN) when their weights exist (``--models``);
  a baseline without weights is listed as not run, with the command that trains it.

Each method runs in its own process (so that its peak memory is its own) and writes ``<case>_seg.nii.gz`` /
``<case>_sr.nii.gz`` plus ``timing.json``; then ``custom_networks.evaluate`` writes the report.

Usage::

    .venv/bin/python benchmarks/compare_methods.py --out benchmarks/results/comparison \
        [--dataset gemini_gan_bundle/data/synthetic_source] [--split test] [--threads 2] \
        [--models "{'joint_unet': 'runs/baselines/joint_unet/model.pt'}"]
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fire

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "gemini_gan_bundle" / "configs"

#: Classic methods: name -> (image interpolation, label up-sampling of the LR label map).
CLASSIC = {
    "classic_nearest": ("nearest", "nearest"),
    "classic_linear": ("linear", "onehot_linear"),
    "classic_bspline": ("bspline", "onehot_linear"),
}

#: The methods that run inference.json alone (stage 1, with or without the 3D step).
STAGED = ("slice_segmenter", "staged")

#: The HR generators (Gemini-GAN and the baselines) run through inference.json with this override layered on it.
GENERATOR_CONFIGS = ["inference.json", "inference_gemini.json"]

#: Network methods: name -> (default weights, inference.json overrides, train.json override file). ``staged`` is the
#: bundle's default inference (inference.json alone: the slice segmenter, then the conditioned Gemini-GAN on the
#: heart's box), ``slice_segmenter`` the same without the 3D step; the others are generators on the HR grid.
NETWORKS: dict[str, tuple[str, dict, str | None]] = {
    "slice_segmenter": ("gemini_gan_bundle/models/model.pt", {"gemini_3d": False}, None),
    "staged": ("gemini_gan_bundle/models/model.pt", {}, None),
    "gemini_gan": ("gemini_gan_bundle/models/gemini_synthetic.pt", {}, None),
    "joint_unet": ("runs/baselines/joint_unet/model.pt", {}, "baselines/joint_unet.json"),
    "segsr_gan": (
        "runs/baselines/segsr_gan/model.pt",
        {
            "network_def": {
                "_target_": "custom_networks.nets.SegSRGenerator",
                "num_classes": "@num_classes",
                "features": 16,
                "num_res_blocks": 8,
                "output": "seg",
            }
        },
        "baselines/segsr_gan.json",
    ),
    "unet_seg": (
        "runs/baselines/unet_seg/model.pt",
        {"network_def#tasks": ["seg"], "sr_output": False},
        "baselines/unet_seg.json",
    ),
    "unet_sr": (
        "runs/baselines/unet_sr/model.pt",
        {
            "network_def#tasks": ["sr"],
            "initialize": ["$setattr(@network_def, 'output', 'sr')"],
            "keep_largest_component": False,
        },
        "baselines/unet_sr.json",
    ),
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_method(method: str, dataset: str, pred_dir: str, split: str = "test", ckpt: str | None = None) -> None:
    """Run one method on the split and write its predictions and ``timing.json`` (called in a subprocess)."""
    out = Path(pred_dir)
    out.mkdir(parents=True, exist_ok=True)
    cases = len(json.loads((Path(dataset) / "dataset.json").read_text())[split])
    if method in CLASSIC:
        import numpy as np

        from custom_networks.baselines import interpolate_dataset, resample_image

        resample_image(np.zeros((4, 4, 4), np.float32), np.eye(4), (4, 4, 4), np.eye(4))  # ITK's lazy import: untimed
        image_method, label_method = CLASSIC[method]
        start = time.perf_counter()
        interpolate_dataset(
            dataset, out, method=image_method, label_method=label_method, split=split, progress=False, overwrite=True
        )
        seconds = time.perf_counter() - start
    else:
        if split != "test":
            raise ValueError("network inference runs on the test split (inference.json's embedded default)")
        from monai.bundle import ConfigWorkflow

        default, overrides, _ = NETWORKS[method]
        configs = ["inference.json"] if method in STAGED else GENERATOR_CONFIGS
        workflow = ConfigWorkflow(
            config_file=[str(CONFIGS / name) for name in configs],
            meta_file=str(CONFIGS / "metadata.json"),
            logging_file=False,
            workflow_type=None,
            input_path=None,
            dataset_dir=str(dataset),
            output_dir=str(out),
            ckpt_path=str(REPO / (ckpt or default)),
            **overrides,
        )
        workflow.initialize()
        start = time.perf_counter()
        workflow.run()
        seconds = time.perf_counter() - start
        workflow.finalize()
    import torch

    timing = {
        "seconds_per_volume": seconds / cases,
        "peak_memory_mb": _peak_mb(),
        "device": "cuda" if torch.cuda.is_available() and method not in CLASSIC else "cpu",
        "threads": torch.get_num_threads(),
    }
    (out / "timing.json").write_text(json.dumps(timing, indent=2))


def main(
    out: str = "benchmarks/results/comparison",
    dataset: str = "gemini_gan_bundle/data/synthetic_source",
    split: str = "test",
    threads: int = 2,
    models: dict | None = None,
    methods: str | list | None = None,
    overwrite: bool = True,
) -> None:
    """Run every available method on the split of ``dataset`` and write one evaluation report to ``out``.

    Args:
        out: report folder.
        dataset: generated dataset (made with the bundle defaults when absent).
        split: dataset split to score.
        threads: CPU threads per method.
        models: weights of network methods, ``{name: path}`` (defaults in ``NETWORKS``).
        methods: subset of methods to run (default: all).
        overwrite: replace an existing report.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from custom_networks.data import ensure_dataset
    from custom_networks.evaluate import evaluate

    ensure_dataset(dataset, subjects=30, domain="source", seed=0)
    models = dict(models or {})
    wanted = list(CLASSIC) + list(NETWORKS)
    if methods:
        wanted = [m for m in (methods.split(",") if isinstance(methods, str) else methods)]
    not_run = []
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory(prefix="compare_methods_") as work:
        for method in wanted:
            ckpt = models.get(method) or (NETWORKS[method][0] if method in NETWORKS else None)
            if method in NETWORKS and not (REPO / ckpt).is_file():
                train = NETWORKS[method][2]
                not_run.append(
                    f"{method}: no weights at {ckpt}; train them with `python -m monai.bundle run --config_file "
                    f"\"['gemini_gan_bundle/configs/train.json','gemini_gan_bundle/configs/{train}']\" "
                    f"--ckpt_dir {Path(ckpt).parent} --output_dir {Path(ckpt).parent / 'logs'}`"
                )
                logging.warning(not_run[-1])
                continue
            logging.info("running %s", method)
            cmd = [sys.executable, __file__, "run_method", "--method", method, "--dataset", dataset]
            cmd += ["--pred_dir", str(Path(work) / method), "--split", split]
            if method in NETWORKS:
                cmd += ["--ckpt", str(ckpt)]
            subprocess.run(cmd, check=True, env=env, cwd=REPO)
        command = " ".join(["python benchmarks/compare_methods.py", *sys.argv[1:]])
        evaluate(Path(work), dataset, out, split=split, overwrite=overwrite, command=command)
    summary = Path(out) / "summary.md"
    text = summary.read_text().replace(
        "# Evaluation report\n",
        "# Method comparison\n\nClassic methods' label maps are the LR label maps up-sampled (oracle label floor).\n",
        1,
    )
    if not_run:
        text += "\n## Not run\n\n" + "\n".join(f"- {line}" for line in not_run) + "\n"
    summary.write_text(text)
    print(text)


if __name__ == "__main__":
    fire.Fire({"main": main, "run_method": run_method} if len(sys.argv) > 1 and sys.argv[1] == "run_method" else main)
