"""Fine-tuning on one labelled real set, measured on the others with the real-scan yardstick.

Usage::

    python benchmarks/finetune_real.py --data ../shared/data/real_labelled --train_set acdc \\
        --eval_sets mnms,sunnybrook --work DIR --out benchmarks/results/finetune_acdc [--max_epochs 12]

1. Fine-tunes the shipped Gemini-GAN weights on ``<data>/<train_set>`` with ``configs/finetune_real.json`` (layered
   on ``train.json``; its subjects split 80 / 20 for training and validation), through ``monai.bundle``; resumable:
   a second call with the same ``--work`` continues from the newest checkpoint (``--max_epochs`` is the total).
   Command and log: ``<work>/train.log``.
2. Scores the shipped bundle and a copy of it holding the fine-tuned weights (``<work>/bundle``) on ``eval_sets``
   with ``benchmarks/real_scans.py`` (native-grid Dice, clinical indices), and writes ``<out>/summary.md`` with
   both, and the validation Dice of every validation epoch on the training set's held-out subjects.

Weights trained on ACDC or M&Ms (non-commercial) are never committed or shipped: ``--work`` must lie outside the
repository.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

from real_scans import run as real_scans  # sibling module: benchmarks/ is sys.path[0] when this script runs

from custom_networks.core.cli import run_cli
from custom_networks.core.errors import InputError
from custom_networks.core.nifti import atomic_output_dir

#: The Gemini-GAN generator's inference: the bundle's inference.json with its override layered on it.
GENERATOR_CONFIGS = ["inference.json", "inference_gemini.json"]

REPO = Path(__file__).resolve().parents[1]
CLASSES = ("lv", "myo", "rv")


def _train(data: Path, work: Path, max_epochs: int, val_interval: int) -> str:
    configs = REPO / "gemini_gan_bundle" / "configs"
    cmd = [
        sys.executable, "-m", "monai.bundle", "run",
        "--config_file", str([str(configs / "train.json"), str(configs / "finetune_real.json")]),
        "--meta_file", str(configs / "metadata.json"),
        "--real_data", str(data),
        "--output_dir", str(work / "runs"), "--ckpt_dir", str(work / "models"),
        "--max_epochs", str(max_epochs), "--val_interval", str(val_interval), "--resume", "True",
    ]  # fmt: skip
    with open(work / "train.log", "a") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    if code != 0:
        raise RuntimeError(f"fine-tuning failed (exit {code}); see {work / 'train.log'}")
    return " ".join(cmd)


def _generated_test_split(work: Path) -> str:
    """3D Dice of the fine-tuned weights on the bundle's generated test split (``evaluate.json``)."""
    configs = REPO / "gemini_gan_bundle" / "configs"
    cmd = [
        sys.executable, "-m", "monai.bundle", "run",
        "--config_file", str([str(configs / "train.json"), str(configs / "evaluate.json")]),
        "--meta_file", str(configs / "metadata.json"),
        "--ckpt_dir", str(work / "models"), "--eval_dir", str(work / "eval_generated"),
        "--output_dir", str(work / "eval_runs"),
    ]  # fmt: skip
    with open(work / "eval_generated.log", "w") as log:
        if subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO) != 0:
            raise RuntimeError(f"evaluation on the generated test split failed; see {work / 'eval_generated.log'}")
    means = []
    for name in ("val_dice_lv", "val_dice_myo", "val_dice_rv"):
        with open(work / "eval_generated" / f"{name}_raw.csv") as fh:
            values = [float(row[-1]) for row in csv.reader(fh) if row and row[0] != "filename"]
        means.append(f"{sum(values) / len(values):.3f}")
    return " / ".join(means) + f" (mean over {len(values)} cases)"


def _mean_dice(cases_csv: Path) -> dict[str, dict[str, float]]:
    sums: dict[str, dict[str, list[float]]] = {}
    with open(cases_csv) as fh:
        for row in csv.DictReader(fh):
            per = sums.setdefault(row["set"], {c: [] for c in (*CLASSES, "missed")})
            for c in CLASSES:
                if row[f"dice_{c}"] not in ("", "nan"):
                    per[c].append(float(row[f"dice_{c}"]))
            per["missed"].append(float(row["heart_missed"] == "True"))
    return {s: {k: (sum(v) / len(v) if v else float("nan")) for k, v in per.items()} | {"n": len(per["missed"])}
            for s, per in sums.items()}  # fmt: skip


def run(
    data: str = "../shared/data/real_labelled",
    train_set: str = "acdc",
    eval_sets: str = "mnms,sunnybrook",
    work: str = "/tmp/finetune_real",
    out: str = "benchmarks/results/finetune_real",
    max_epochs: int = 12,
    val_interval: int = 3,
    overwrite: bool = False,
) -> Path:
    """Fine-tune on ``train_set``, score shipped and fine-tuned weights on ``eval_sets``; see the module docstring."""
    eval_sets = ",".join(eval_sets) if isinstance(eval_sets, list | tuple) else str(eval_sets)
    data_path, work_path = Path(data), Path(work).resolve()
    if not (data_path / train_set).is_dir():
        raise InputError(f"{data_path / train_set}: training set not found")
    if work_path.is_relative_to(REPO):
        raise InputError(f"--work {work_path}: must lie outside the repository (weights of non-commercial data)")
    work_path.mkdir(parents=True, exist_ok=True)
    command = _train((data_path / train_set).resolve(), work_path, max_epochs, val_interval)
    bundle = work_path / "bundle"
    shutil.rmtree(bundle, ignore_errors=True)
    shutil.copytree(REPO / "gemini_gan_bundle" / "configs", bundle / "configs")
    (bundle / "models").mkdir()
    shutil.copy(work_path / "models" / "gemini_synthetic.pt", bundle / "models" / "gemini_synthetic.pt")
    scores = {}
    for name, folder in (("shipped", REPO / "gemini_gan_bundle"), (f"fine-tuned on {train_set}", bundle)):
        report = work_path / f"yardstick_{'shipped' if name == 'shipped' else 'finetuned'}"
        real_scans(data=data, out=report, bundle=folder, sets=eval_sets, held_out=False, figures=False,
                   configs=GENERATOR_CONFIGS, work=report.with_name(report.name + "_work"), overwrite=True)  # fmt: skip
        scores[name] = _mean_dice(report / "cases.csv")
    generated = _generated_test_split(work_path)
    log = (work_path / "train.log").read_text(errors="replace")
    epoch_times = re.findall(r"FineTuneTrainer - INFO - Epoch\[\d+\] Complete. Time taken: (\d+):(\d+):([\d.]+)", log)
    train_s = sum(int(h) * 3600 + int(m) * 60 + float(sec) for h, m, sec in epoch_times)
    curve = re.findall(
        r"Epoch\[(\d+)\] Metrics -- val_dice_lv: ([\d.]+) val_dice_myo: ([\d.]+) val_dice_rv: ([\d.]+)", log
    )
    lines = [
        f"# Fine-tuning on {train_set}, measured on {eval_sets}",
        "",
        "Made by: `.venv/bin/python benchmarks/finetune_real.py --data ../shared/data/real_labelled "
        f"--train_set {train_set} --eval_sets {eval_sets} --work WORK --out {out} --max_epochs {max_epochs}` "
        f"(training {train_s / 60:.0f} min over {len(epoch_times)} epochs on 2 shared CPU cores, from the epoch "
        "times in WORK/train.log; the weights stay in WORK, never shipped).",
        "",
        f"Training command: `{command.replace(str(REPO) + '/', '').replace(str(data_path.resolve()), data)}`",
        "",
        "Native-grid Dice (mean over stacks; labelled slices and classes only) by `benchmarks/real_scans.py`:",
        "",
        "| weights | set | stacks | heart missed | Dice LV blood pool | Dice LV myocardium | Dice RV |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, per_set in scores.items():
        for s, v in sorted(per_set.items()):
            dice = " | ".join("n/a" if v[c] != v[c] else f"{v[c]:.3f}" for c in CLASSES)
            lines.append(f"| {name} | {s} | {v['n']} | {round(v['missed'] * v['n'])} | {dice} |")
    lines += ["", "The fine-tuned weights on the generated test split (the bundle's `evaluate.json`; shipped weights: "
              "0.912 / 0.826 / 0.863), 3D Dice LV blood pool / LV myocardium / RV:", "", generated]  # fmt: skip
    lines += ["", f"Validation Dice on the held-out {train_set} subjects (20 %), by epoch:", "",
              "| epoch | LV | myocardium | RV |", "| --- | --- | --- | --- |",
              *[f"| {e} | {lv} | {myo} | {rv} |" for e, lv, myo, rv in curve]]  # fmt: skip
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        (tmp / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return Path(out)


if __name__ == "__main__":
    sys.exit(
        run_cli(run, name="benchmarks/finetune_real.py", path_options=("data", "work", "out", "train_set", "eval_sets"))
    )
