"""Speed and memory of the slice segmenter (stage 1) and of the bundle's default inference on this machine.

Each measurement runs in its own process so that peak memory (max RSS) belongs to it alone:

- stage 1 alone on a stack (loading, normalisation, in-plane resampling to 1.5 mm, every slice through the network),
  with each test-time augmentation (none, flips, dihedral), the minimum of ``repeats`` runs;
- the whole ``custom_networks.predict`` on a stack (read, stage 1, the 3D step on the heart's box and the image onto
  the HR grid, write both outputs), model loading included, as a user runs it; and the same inference without the 3D
  step (``gemini_3d`` false: stage 1's probabilities interpolated onto the HR grid);
- training iterations per second (12 slices of 128 x 128, forward + backward + AdamW step; data loading excluded).

The stack: ``--stack`` (default: a real 320 x 320 x 20 M&Ms stack when ``../shared/data`` is there, else a
generated stack of the same size and voxel size).

Usage::

    .venv/bin/python benchmarks/bench_slice_segmenter.py [--threads 2] \\
        [--out benchmarks/results/slice_segmenter_cpu.json]
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fire

from custom_networks.inferers.slice_stack_inferer import TTA_GROUPS

REPO = Path(__file__).resolve().parents[1]
REAL_STACK = REPO.parent / "shared" / "data" / "real_labelled" / "mnms" / "L8N7Z0_ED_image.nii.gz"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _stage1(stack: str, tta: str, repeats: int) -> dict:
    import torch
    from monai.transforms import ScaleIntensityRangePercentilesd

    from custom_networks.inferers import SliceStackInferer
    from custom_networks.nets import SliceSegmenter
    from custom_networks.transforms import LoadStackd, ResampleInPlaned

    net = SliceSegmenter().eval()
    net.load_state_dict(torch.load(REPO / "gemini_gan_bundle" / "models" / "model.pt", weights_only=True))
    inferer = SliceStackInferer(tta=tta)
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        d = LoadStackd("image")({"image": stack})
        d = ScaleIntensityRangePercentilesd("image", 0.5, 99.5, 0.0, 1.0, clip=True)(d)
        d = ResampleInPlaned("image", 1.5)(d)
        inferer(d["image"][None], net)
        if i:
            times.append(time.perf_counter() - start)
    return {"seconds": round(min(times), 3), "tta": tta, "peak_MB": round(_peak_mb(), 1)}


def _predict(stack: str) -> dict:
    from custom_networks.predict import predict

    with tempfile.TemporaryDirectory(prefix="bench_slices_") as out:
        start = time.perf_counter()
        predict(stack, out)
        seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 2), "peak_MB": round(_peak_mb(), 1)}


def _stage1_only(stack: str) -> dict:
    """The bundle's inference without the 3D step (stage 1's probabilities interpolated onto the HR grid)."""
    from custom_networks.bundle.workflows import load_workflow

    with tempfile.TemporaryDirectory(prefix="bench_slices_") as out:
        start = time.perf_counter()
        wf = load_workflow(["inference.json"], input_path=stack, output_dir=out, gemini_3d=False)
        wf.run()
        wf.finalize()
        seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 2), "peak_MB": round(_peak_mb(), 1)}


def _train_step(repeats: int) -> dict:
    import torch

    from custom_networks.losses import PartialLabelDiceCELoss
    from custom_networks.nets import SliceSegmenter

    net = SliceSegmenter()
    opt = torch.optim.AdamW(net.parameters(), 2e-3)
    loss_fn = PartialLabelDiceCELoss()
    x = torch.rand(12, 1, 128, 128)
    y = torch.nn.functional.one_hot(torch.randint(0, 4, (12, 128, 128)), 4).permute(0, 3, 1, 2).float()
    times = []
    for i in range(repeats + 3):
        start = time.perf_counter()
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - start)
    return {"batch": "12 x 128 x 128", "seconds_per_iteration": round(min(times), 3)}


def _child(kind: str, args: list, threads: int) -> dict:
    here = str(Path(__file__).parent)
    code = (
        f"import json, sys, torch; torch.set_num_threads({threads}); sys.path.insert(0, {here!r}); "
        f"import bench_slice_segmenter as b; print('RESULT' + json.dumps(b.{kind}(*json.loads(sys.argv[1]))))"
    )
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, cwd=REPO)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[6:])
    return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}


def _generated_stack(folder: Path) -> str:
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(0)
    data = (rng.random((320, 320, 20)) * 400).astype(np.int16)
    path = folder / "stack_320x320x20.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([1.406, 1.406, 6.0, 1.0])), str(path))
    return str(path)


def main(threads: int = 2, out: str | None = None, stack: str | None = None, repeats: int = 3) -> None:
    """Run every measurement and print (and optionally write) a JSON report.

    Args:
        threads: torch CPU threads.
        out: JSON file to write.
        stack: the stack to time (default: the real 320 x 320 x 20 M&Ms stack, or a generated one like it).
        repeats: timed repetitions (the minimum is reported).
    """
    with tempfile.TemporaryDirectory(prefix="bench_slices_") as tmp:
        stack = stack or (str(REAL_STACK) if REAL_STACK.is_file() else _generated_stack(Path(tmp)))
        report = {
            "machine": f"{platform.processor() or platform.machine()}, {threads} threads",
            "stack": stack,
            **{f"stage1_tta_{tta}": _child("_stage1", [stack, tta, repeats], threads) for tta in TTA_GROUPS},
            "predict_whole": _child("_predict", [stack], threads),
            "inference_without_3d_step": _child("_stage1_only", [stack], threads),
            "training_step": _child("_train_step", [repeats], threads),
            "date": time.strftime("%Y-%m-%d"),
        }
    text = json.dumps(report, indent=1)
    print(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")


if __name__ == "__main__":
    fire.Fire(main)
