"""Speed and memory of Gemini-GAN on this machine: generator forward pass of both layouts, whole bundle
inference (read, resample, infer, write) of a SAX stack, and training iterations per second.

Each measurement runs in its own process so that peak memory (max RSS) belongs to it alone.

Usage: ``.venv/bin/python benchmarks/bench_gemini.py [--threads 2] [--out benchmarks/results/gemini_cpu.json]``
(on the GPU machine the same command measures CUDA too).
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import fire

REPO = Path(__file__).resolve().parents[1]

LAYOUTS = {
    "3d (default, features 8-16-32-64-64)": {"layout": "3d", "features": [8, 16, 32, 64, 64]},
    "2d original (slices as channels, 64-128-256-512-512)": {"layout": "2d", "features": None},
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _forward(layout: dict, shape: list[int], device: str, repeats: int) -> dict:
    import torch

    from custom_networks.nets import GeminiGenerator

    kwargs = dict(layout)
    if kwargs["layout"] == "2d":
        kwargs["num_slices"] = shape[2]
    net = GeminiGenerator(**kwargs, output="both").to(device).eval()
    x = torch.rand(1, 1, *shape, device=device)
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            net(x)
            if device == "cuda":
                torch.cuda.synchronize()
            if i:
                times.append(time.perf_counter() - start)
    out = {"seconds": round(min(times), 3), "params_M": round(sum(p.numel() for p in net.parameters()) / 1e6, 2)}
    out["peak_MB"] = round(torch.cuda.max_memory_allocated() / 2**20, 1) if device == "cuda" else round(_peak_mb(), 1)
    return out


def _train_step(layout: dict, device: str, repeats: int) -> dict:
    import torch

    from custom_networks.losses import JointSRSegLoss, LeastSquaresDiscriminatorLoss
    from custom_networks.nets import (
        ConditionalPatchDiscriminator,
        GeminiGenerator,
        SRGANDiscriminator,
        conditioned_pair,
    )

    if layout["layout"] == "2d":
        patch, g = [96, 96, 64], GeminiGenerator(layout="2d", num_slices=64)
        d = SRGANDiscriminator(layout="2d", num_slices=64)
    else:
        patch, g = [64, 64, 32], GeminiGenerator(**layout)
        d = ConditionalPatchDiscriminator(channels=16)
    g, d = g.to(device), d.to(device)
    og, od = torch.optim.Adam(g.parameters(), 1e-3), torch.optim.Adam(d.parameters(), 1e-3)
    g_loss, d_loss = JointSRSegLoss(), LeastSquaresDiscriminatorLoss()
    batch = 2 if layout["layout"] == "3d" else 1  # train.json: 2 patches per volume (3D); whole-depth slabs (2D)
    x = torch.rand(batch, 1, *patch, device=device)
    y = torch.randint(0, 4, (batch, 1, *patch), device=device)
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        sr, seg = g(x)
        loss = g_loss(sr=sr, hr_image=x, seg_logits=seg, hr_label=y, fake_scores=d(conditioned_pair(sr, seg)))["loss"]
        og.zero_grad()
        loss.backward()
        og.step()
        real, fake = d(conditioned_pair(x, y)), d(conditioned_pair(sr.detach(), seg.detach()))
        dl = d_loss(real, fake)["loss"]
        od.zero_grad()
        dl.backward()
        od.step()
        if device == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - start)
    return {"patch": patch, "batch": batch, "iterations_per_second": round(1.0 / min(times), 3)}


def _inference(stack: str, ckpt: str | None) -> dict:
    from custom_networks.bundle import load_workflow

    out = Path("/tmp") / f"bench_gemini_{int(time.time() * 1000)}"
    wf = load_workflow(
        ["inference.json"], input_path=stack, output_dir=str(out), **({"ckpt_path": ckpt} if ckpt else {})
    )
    evaluator = wf.parser.get_parsed_content("evaluator")
    start = time.perf_counter()
    evaluator.run()
    seconds = time.perf_counter() - start
    return {"input": stack, "seconds_per_case": round(seconds, 2), "peak_MB": round(_peak_mb(), 1)}


def _child(kind: str, arg: str, threads: int) -> dict:
    here = str(Path(__file__).parent)
    code = (
        f"import json, sys, torch; torch.set_num_threads({threads}); sys.path.insert(0, {here!r}); "
        f"import bench_gemini as b; print('RESULT' + json.dumps(b.{kind}(*json.loads(sys.argv[1]))))"
    )
    proc = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True, cwd=REPO)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[6:])
    return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}


def main(
    threads: int = 2, out: str | None = None, stack: str | None = None, repeats: int = 3, devices: str | None = None
) -> None:
    """Run every measurement and print (and optionally write) a JSON report.

    Args:
        threads: torch CPU threads.
        out: JSON file to write.
        stack: SAX stack for the whole-inference timing (default: a generated native stack).
        repeats: timed repetitions per measurement (the minimum is reported).
        devices: comma-separated devices to measure (default: ``cpu`` and, when available, ``cuda``).
    """
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if devices is None else devices.split(",")
    if stack is None:
        from custom_networks.data import synthesize_dataset

        ds = synthesize_dataset(Path("/tmp") / "bench_gemini_case", subjects=1, seed=7, overwrite=True, progress=False)
        stack = str(ds / "sub-0000" / "ED" / "lr_image.nii.gz")
    report = {"machine": platform.processor() or platform.machine(), "threads": threads, "forward": {}, "train": {}}
    for device in devices:
        for name, layout in LAYOUTS.items():
            for shape in ([128, 128, 64], [160, 160, 80], [400, 400, 100]):
                if layout["layout"] == "3d" and shape[0] == 400 and device == "cpu":
                    continue  # minutes per pass on 2 cores; reported by the GPU run
                key = f"{device} {name} {'x'.join(map(str, shape))}"
                report["forward"][key] = _child("_forward", json.dumps([layout, shape, device, repeats]), threads)
            report["train"][f"{device} {name}"] = _child("_train_step", json.dumps([layout, device, 2]), threads)
    report["inference"] = _child("_inference", json.dumps([stack, None]), threads)
    text = json.dumps(report, indent=1)
    print(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")


if __name__ == "__main__":
    fire.Fire(main)
