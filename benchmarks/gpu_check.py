"""Both bundles on a CUDA GPU: short trainings, multi-GPU (torchrun) training, inference, and agreement with the CPU.

Every step runs the same command a user runs (``python -m monai.bundle run ...``, ``torchrun ...``), in its own
process, on small generated data; the report records each step's exit status, wall time and the checks below, and
the log keeps every step's output. Checks:

* Gemini-GAN: training (``train.json``, 2 epochs, validation each epoch), DDP training through
  ``multi_gpu_train.json`` with torchrun (NCCL, one process per GPU), inference on a generated stack on the GPU and on
  the CPU: the segmentations must agree (Dice per class) and lie on the same world grid (affine), and the GPU one must
  match the HR reference labels;
* V-AMA: training (``train.json``, 2 epochs) and one epoch of each comparator (``configs/comparators``), DDP training
  through ``multi_gpu_train.json``, inference with the calibration and ``--chain_gemini`` on the GPU and on the CPU
  (same agreement checks on the adapted image and the chained segmentation).

The V-AMA data here is paired without registration (``--align False --deformable False``: the same generated grids,
not aligned) so that the check also runs where ITK is not installed; it tests the GPU code paths, not the adaptation.

Usage (on a machine with CUDA; without it the GPU steps are reported as skipped)::

    python benchmarks/gpu_check.py --out /tmp/gpu_check [--work /tmp/gpu_check_work]

Writes ``gpu_check.json`` (steps, seconds, checks) and ``gpu_check.log`` (every command and its output) in ``out``.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import fire

REPO = Path(__file__).resolve().parents[1]
GEMINI = ["gemini_gan_bundle/configs/train.json"]
VAMA = ["vama_bundle/configs/train.json"]
COMPARATORS = ("cyclegan", "munit", "bicyclegan")


class _Runner:
    """Runs the steps one after the other, logging each command, its output, exit status and wall time."""

    def __init__(self, log: Path, report: dict, report_path: Path) -> None:
        self.log, self.report, self.report_path = log, report, report_path
        self.steps: list[dict] = report.setdefault("steps", [])

    def save(self) -> None:
        """Write the report as it stands (a run cut short still leaves the steps done so far)."""
        self.report["failed"] = [s["step"] for s in self.steps if s["rc"] != 0]
        self.report_path.write_text(json.dumps(self.report, indent=1) + "\n")

    def __call__(self, name: str, cmd: list[str], timeout: int = 300, env: dict | None = None) -> bool:
        start = time.perf_counter()
        with self.log.open("a") as f:
            f.write(f"\n===== {name}: {shlex.join(cmd)}\n")
            f.flush()
            try:
                rc = subprocess.run(
                    cmd,
                    cwd=REPO,
                    stdout=f,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    env={**os.environ, **(env or {})},
                ).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        seconds = round(time.perf_counter() - start, 1)
        self.steps.append({"step": name, "rc": rc, "seconds": seconds})
        print(f"{name}: rc={rc} in {seconds} s", flush=True)
        self.save()
        return rc == 0


def _bundle(configs: list[str], **overrides) -> list[str]:
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", repr(configs)]
    for key, value in overrides.items():
        cmd += [f"--{key}", value if isinstance(value, str) else repr(value)]
    return cmd


def _torchrun(configs: list[str], **overrides) -> list[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1", "-m", "monai.bundle"]
    return cmd + _bundle(configs, **overrides)[3:]


def _infer_on_both(run: _Runner, name: str, configs: list[str], out_prefix: Path, **overrides) -> None:
    """Run one inference command on the GPU, then with CUDA hidden (CPU), into ``<out_prefix>_gpu`` / ``_cpu``."""
    for device, env in (("gpu", None), ("cpu", {"CUDA_VISIBLE_DEVICES": ""})):
        run(f"{name} ({device})", _bundle(configs, **overrides, output_dir=f"{out_prefix}_{device}"), env=env)


def _compare_segs(a: Path, b: Path) -> dict:
    """Dice per class (1-3) between two label maps, ``a`` resampled (nearest) onto ``b``'s grid in world coordinates,
    and the largest difference between their affines."""
    import nibabel as nib
    import numpy as np

    from custom_networks.core.geometry import resample_to_grid
    from custom_networks.evaluate import dice_per_class

    ia, ib = nib.load(str(a)), nib.load(str(b))
    db = np.asarray(ib.dataobj).astype(int)
    da = resample_to_grid(np.asarray(ia.dataobj).astype(np.float32), ia.affine, db.shape, ib.affine, order=0)
    dice = dice_per_class(np.rint(da).astype(int), db)
    return {
        "dice": {name: round(value, 4) for name, value in dice.items()},
        "affine_max_abs_diff": float(np.abs(ia.affine - ib.affine).max()),
        "shapes": [ia.shape, db.shape],
    }


def _compare_images(a: Path, b: Path) -> dict:
    import nibabel as nib
    import numpy as np

    ia, ib = nib.load(str(a)), nib.load(str(b))
    da, db = np.asarray(ia.dataobj, dtype=np.float32), np.asarray(ib.dataobj, dtype=np.float32)
    return {
        "mean_abs_diff": round(float(np.abs(da - db).mean()), 5),
        "max_abs_diff": round(float(np.abs(da - db).max()), 4),
        "affine_max_abs_diff": float(np.abs(ia.affine - ib.affine).max()),
    }


def _check(report: dict, name: str, fn, *args) -> None:
    """Record ``fn(*args)`` under ``report["checks"][name]``, or the error it raised (the remaining steps still run)."""
    try:
        report["checks"][name] = fn(*args)
    except Exception as e:  # noqa: BLE001 - a failed check is a finding of the report, not the end of the run
        report["checks"][name] = {"error": f"{type(e).__name__}: {e}"}


def main(out: str = "/tmp/gpu_check", work: str = "/tmp/gpu_check_work") -> None:
    """Run the checks and write the report.

    Args:
        out: folder receiving ``gpu_check.json`` and ``gpu_check.log``.
        work: scratch folder (generated data, runs, outputs); reused if it exists.
    """
    import torch

    out_dir, work_dir = Path(out), Path(work)
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "gpu_check.log"
    log.write_text("")
    report: dict = {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "checks": {},
    }
    run = _Runner(log, report, out_dir / "gpu_check.json")
    if not torch.cuda.is_available():
        report["skipped"] = "no CUDA device: nothing to check"
        run.save()
        print(report["skipped"])
        return

    # ---- Gemini-GAN -------------------------------------------------------------------------------------------
    g_data = work_dir / "gemini_data"
    g_args = {"dataset_dir": str(g_data), "synthetic_subjects": 6, "val_interval": 1}
    run(
        "gemini train (2 epochs)",
        _bundle(
            GEMINI, **g_args, max_epochs=2, output_dir=str(work_dir / "g_runs"), ckpt_dir=str(work_dir / "g_models")
        ),
    )
    run(
        "gemini torchrun DDP (1 epoch)",
        _torchrun(
            GEMINI + ["gemini_gan_bundle/configs/multi_gpu_train.json"],
            **g_args,
            max_epochs=1,
            output_dir=str(work_dir / "g_ddp_runs"),
            ckpt_dir=str(work_dir / "g_ddp_models"),
        ),
    )
    case = g_data / "sub-0005" / "ED"
    stack = case / "lr_image.nii.gz"
    _infer_on_both(
        run, "gemini inference", ["gemini_gan_bundle/configs/inference.json"], work_dir / "g_inf", input_path=str(stack)
    )
    seg_gpu, seg_cpu = (work_dir / f"g_inf_{d}" / "lr_image_seg.nii.gz" for d in ("gpu", "cpu"))
    if seg_gpu.is_file() and seg_cpu.is_file():
        _check(report, "gemini gpu vs cpu segmentation", _compare_segs, seg_gpu, seg_cpu)
        _check(report, "gemini gpu vs hr reference", _compare_segs, seg_gpu, case / "hr_label.nii.gz")
        _check(
            report,
            "gemini sr gpu vs cpu",
            _compare_images,
            work_dir / "g_inf_gpu" / "lr_image_sr.nii.gz",
            work_dir / "g_inf_cpu" / "lr_image_sr.nii.gz",
        )

    # ---- V-AMA ------------------------------------------------------------------------------------------------
    v_data = work_dir / "vama_pairs"
    v_args = {"dataset_dir": str(v_data), "synthetic_subjects": 3, "align": False, "deformable": False}
    run(
        "vama train (2 epochs)",
        _bundle(
            VAMA,
            **v_args,
            max_epochs=2,
            val_interval=1,
            output_dir=str(work_dir / "v_runs"),
            ckpt_dir=str(work_dir / "v_models"),
        ),
    )
    for name in COMPARATORS:
        run(
            f"{name} train (1 epoch)",
            _bundle(
                VAMA + [f"vama_bundle/configs/comparators/{name}.json"],
                **v_args,
                max_epochs=1,
                val_interval=1,
                output_dir=str(work_dir / f"{name}_runs"),
                ckpt_dir=str(work_dir / f"{name}_models"),
            ),
        )
    run(
        "vama torchrun DDP (1 epoch)",
        _torchrun(
            VAMA + ["vama_bundle/configs/multi_gpu_train.json"],
            **v_args,
            max_epochs=1,
            val_interval=1,
            output_dir=str(work_dir / "v_ddp_runs"),
            ckpt_dir=str(work_dir / "v_ddp_models"),
        ),
    )
    target = v_data / "target_a" / "sub-0002" / "ED" / "lr_image.nii.gz"
    _infer_on_both(
        run,
        "vama inference + calibration + gemini",
        ["vama_bundle/configs/inference.json"],
        work_dir / "v_inf",
        input_path=str(target),
        chain_gemini=True,
    )
    adapted = {d: work_dir / f"v_inf_{d}" / "lr_image_adapted.nii.gz" for d in ("gpu", "cpu")}
    if all(p.is_file() for p in adapted.values()):
        _check(report, "vama adapted gpu vs cpu", _compare_images, adapted["gpu"], adapted["cpu"])
        segs = [work_dir / f"v_inf_{d}" / "lr_image_adapted_seg.nii.gz" for d in ("gpu", "cpu")]
        if all(p.is_file() for p in segs):
            _check(report, "vama chained segmentation gpu vs cpu", _compare_segs, *segs)
            _check(
                report,
                "vama chained segmentation gpu vs hr reference",
                _compare_segs,
                segs[0],
                target.parent / "hr_label.nii.gz",
            )

    run.save()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    fire.Fire(main)
