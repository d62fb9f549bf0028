"""Speed and memory of the 4D cine pipeline and cohort throughput (generated cines, shipped weights).

- ``python -m custom_networks.cine`` on a generated cine of T = 10 and T = 50 frames (same subject, same grid): wall
  time, seconds per frame (also the marginal cost of the 40 extra frames) and peak resident memory of the process
  (it must not grow with T: frames are streamed).
- ``python -m custom_networks.cohort`` on 4 generated subjects with 1 process and with 2 processes (torchrun, gloo):
  subjects per minute.

Usage::

    python benchmarks/cine_speed.py --out benchmarks/results/cine_speed [--work DIR] [--hr_shape 128,128,64]

Every run is a fresh process (``resource.getrusage`` of the child gives its peak RSS). Writes ``cine_speed.json`` and
``summary.md``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from custom_networks.core.nifti import write_text_atomic
from custom_networks.data import synthesize_cine

REPO = Path(__file__).resolve().parents[1]

_MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "rc = subprocess.run(sys.argv[1:]).returncode; "
    "print(rc, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _measure(cmd: list[str], env: dict) -> tuple[float, float]:
    """``(seconds, peak RSS in MB)`` of a command run in a fresh process (the largest process it started)."""
    result = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, env=env, cwd=REPO)
    line = result.stdout.strip().splitlines()[-1]
    rc, seconds, maxrss_kb = line.split()
    if int(rc) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
    return float(seconds), float(maxrss_kb) / 1024.0


def main(
    out: str,
    work: str = "/tmp/cine_speed_work",
    hr_shape: str | tuple = "128,128,64",
    frames: str | int | tuple = "10,50",
    cohort: bool = True,
) -> None:
    """Run the benchmark (see the module docstring).

    Args:
        out: report folder.
        work: folder for the generated cines and the outputs.
        hr_shape: HR grid of the generated subject.
        frames: cine lengths to time (comma-separated); the marginal cost of a frame needs two.
        cohort: also time the cohort runs.
    """
    out_dir, work_dir = Path(out), Path(work)
    if isinstance(frames, tuple | list):
        lengths = [int(f) for f in frames]
    else:
        lengths = [int(f) for f in str(frames).split(",")]
    shape = [int(s) for s in (hr_shape.split(",") if isinstance(hr_shape, str) else hr_shape)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    results: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, CPU only",
        "hr_shape_generated": shape,
    }
    cines = {}
    for frames in lengths:
        folder = work_dir / f"T{frames}"
        if not (folder / "sub_cine.nii.gz").is_file():
            synthesize_cine(folder, name="sub", frames=frames, seed=3, hr_shape=shape, overwrite=True)
        cines[frames] = folder / "sub_cine.nii.gz"
    import nibabel as nib

    results["input_shape"] = list(nib.load(cines[lengths[0]]).shape[:3])
    for frames, cine in cines.items():
        target = work_dir / f"out_T{frames}"
        cmd = [sys.executable, "-m", "custom_networks.cine", "--input", str(cine), "--out", str(target)]
        seconds, peak = _measure([*cmd, "--overwrite", "True"], env)
        results[f"T{frames}"] = {"seconds": round(seconds, 1), "s_per_frame": round(seconds / frames, 2),
                                 "peak_rss_mb": round(peak)}  # fmt: skip
        print(f"T = {frames}: {seconds:.1f} s, {seconds / frames:.2f} s/frame, peak {peak:.0f} MB", flush=True)
    if len(lengths) >= 2:
        a, b = lengths[0], lengths[-1]
        extra = results[f"T{b}"]["seconds"] - results[f"T{a}"]["seconds"]
        results["marginal_s_per_frame"] = round(extra / (b - a), 2)
    cohort_in = work_dir / "cohort"
    if cohort and not cohort_in.is_dir():
        for i in range(4):
            synthesize_cine(cohort_in, name=f"s{i}", frames=10, seed=10 + i, hr_shape=shape, overwrite=True)
        for p in cohort_in.glob("*_hr_label_cine.nii.gz"):
            p.unlink()
        for p in cohort_in.glob("*_truth.json"):
            p.unlink()
    for workers in (1, 2) if cohort else ():
        target = work_dir / f"cohort_out_{workers}"
        if target.exists():
            shutil.rmtree(target)
        base = ["-m", "custom_networks.cohort", "--inputs", str(cohort_in), "--out", str(target)]
        if workers == 1:
            cmd = [sys.executable, *base]
        else:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={workers}", *base]
        seconds, peak = _measure(cmd, {**env, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // workers))})
        subjects = 4
        results[f"cohort_{workers}_workers"] = {"seconds": round(seconds, 1),
                                                "subjects_per_minute": round(60 * subjects / seconds, 2),
                                                "peak_rss_mb_largest_process": round(peak)}  # fmt: skip
        print(f"cohort, {workers} worker(s): {seconds:.1f} s", flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "cine_speed.json", json.dumps(results, indent=1))
    r = results
    lines = [
        "# 4D cine pipeline: speed and memory (generated cines, shipped weights)",
        "",
        f"Command: `python benchmarks/cine_speed.py {' '.join(sys.argv[1:])}`; {r['machine']}; input stacks "
        f"{'x'.join(map(str, r['input_shape']))} voxels per frame.",
        "",
        "| run | seconds | s per frame | peak memory (MB) |",
        "| --- | --- | --- | --- |",
        *[
            f"| cine, T = {t} | {r[f'T{t}']['seconds']} | {r[f'T{t}']['s_per_frame']} | {r[f'T{t}']['peak_rss_mb']} |"
            for t in lengths
        ],
        "",
    ]
    if "marginal_s_per_frame" in r:
        lines += [
            f"Marginal cost of a frame: {r['marginal_s_per_frame']} s (the rest is start-up: imports, weights, "
            "analysis).",
            "",
        ]
    if cohort:
        lines += [
            "| cohort, 4 subjects x 10 frames | seconds | subjects per minute | peak memory, largest process (MB) |",
            "| --- | --- | --- | --- |",
        ]
    for workers in (1, 2) if cohort else ():
        c = r[f"cohort_{workers}_workers"]
        peak = c["peak_rss_mb_largest_process"]
        lines.append(f"| {workers} worker(s) | {c['seconds']} | {c['subjects_per_minute']} | {peak} |")
    write_text_atomic(out_dir / "summary.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    import fire

    fire.Fire(main)
