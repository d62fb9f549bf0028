"""Speed of the data engine: seconds per subject (ED + ES, all outputs, no disk I/O) at the default grid.

Usage: ``.venv/bin/python benchmarks/bench_data_engine.py [--subjects 5] [--domain source] [--out report.json]``
"""

from __future__ import annotations

import json
import platform
import time

import fire
import numpy as np
import torch

from custom_networks.data import generate_subject, get_domain


def main(subjects: int = 5, domain: str = "source", hr_shape: tuple = (128, 128, 64), out: str | None = None) -> None:
    """Time ``subjects`` generations (after one warm-up) and print the figures."""
    preset = get_domain(domain)
    generate_subject([99, 0], preset, hr_shape)
    times = []
    for i in range(subjects):
        start = time.perf_counter()
        generate_subject([99, i + 1], preset, hr_shape)
        times.append(time.perf_counter() - start)
    report = {
        "what": "data engine, one subject (ED + ES), in memory",
        "domain": domain,
        "hr_shape": list(hr_shape),
        "seconds_per_subject_mean": round(float(np.mean(times)), 3),
        "seconds_per_subject_max": round(float(np.max(times)), 3),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(report, indent=1))
    if out:
        with open(out, "w") as fh:
            json.dump(report, fh, indent=1)


if __name__ == "__main__":
    fire.Fire(main)
