"""``python -m custom_networks.cohort --inputs DIR --out DIR``: the 4D cine pipeline and cardiac function over a cohort,
resumable, on one or several processes.

Every subject of ``DIR`` (a cine file, a DICOM cine folder, or a folder holding the subject's cine; see
:func:`find_subjects`) goes through :func:`custom_networks.cine.run_cine`. Several workers::

    torchrun --standalone --nproc_per_node 2 -m custom_networks.cohort --inputs DIR --out DIR   # 2 CPU processes (gloo)
    torchrun --standalone --nproc_per_node 4 -m custom_networks.cohort --inputs DIR --out DIR   # 4 GPUs (nccl)

torchrun starts the processes; MONAI's :class:`~monai.data.DistributedSampler` gives each its share of the subjects
(in order, not shuffled); one process per GPU, or CPU processes that share the cores.

Outputs in ``OUT``:

- ``subjects/<subject>/``: the cine outputs (``<subject>_seg.nii.gz``, ``_sr.nii.gz``, ``_function.json``,
  ``_function.csv``, ``_volume_curves.png``) and ``done.json`` (input, weights checksum, version, seconds, worker).
  A subject's folder appears only when it is complete (written under a hidden temporary name, then renamed), so a
  run killed at any point loses nothing that was finished and leaves nothing half-written under a final name.
- ``failed/<subject>.json``: why a subject failed (one bad subject never stops the cohort); retried on the next run.
- ``cohort.csv`` (one row per finished subject: indices, ED / ES frames, QC), ``manifest.json`` (what ran, with
  which weights and versions, what failed and why), ``report.md`` with ``distributions.png`` (each index against
  adult reference ranges) and ``qc/<subject>.png`` thumbnails of the subjects that fail quality control. These are
  merged by the first process from the per-subject files, after every process has finished.

Re-running the same command skips finished subjects and redoes interrupted and failed ones; the table is then the
one an uninterrupted run gives.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from custom_networks.utils.cli import format_exception_line, run_cli
from custom_networks.utils.dicom import is_dicom_folder
from custom_networks.utils.nifti import InputError, atomic_output_dir, write_text_atomic

__all__ = ["CohortResult", "Subject", "find_subjects", "main", "run_cohort"]

logger = logging.getLogger(__name__)

_SUFFIXES = (".nii.gz", ".nii")
#: File names taken for a subject folder's cine, in this order (UK Biobank style first).
_CINE_NAMES = ("sa.nii.gz", "sa.nii", "cine.nii.gz")


@dataclass(frozen=True)
class Subject:
    """One subject of a cohort: its name (output folder) and its cine (file or folder)."""

    name: str
    cine: Path


@dataclass
class CohortResult:
    """What a cohort run did (in the process that merged the table: everything; in the others: their share).

    Args:
        processed: subjects processed by this process in this run.
        skipped: subjects already finished by an earlier run (this process's share).
        failed: ``{subject: reason}`` of this process's share.
        table: path of ``cohort.csv`` (first process only, else None).
    """

    processed: list[str]
    skipped: list[str]
    failed: dict[str, str]
    table: Path | None


def _subject_cine(folder: Path) -> Path:
    if is_dicom_folder(folder):
        return folder
    for name in _CINE_NAMES:
        if (folder / name).is_file():
            return folder / name
    files = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".") and p.name.endswith(_SUFFIXES)]
    if len(files) == 1:
        return files[0]
    if len(files) > 1:
        return folder  # a folder of per-frame files (open_cine checks the numbering)
    series = [p for p in sorted(folder.iterdir()) if p.is_dir() and is_dicom_folder(p)]
    if len(series) == 1:
        return series[0]
    raise InputError(
        f"{folder}: no cine found (expected sa.nii.gz, one .nii/.nii.gz file, numbered frame files or one DICOM "
        f"series{'; found ' + str(len(series)) + ' DICOM series' if series else ''})"
    )


def find_subjects(inputs: str | os.PathLike) -> tuple[list[Subject], dict[str, str]]:
    """The subjects of a cohort folder, sorted by name.

    A subject is a cine file directly in ``inputs`` (named after the file without extension), or a sub-folder
    (named after the folder) that is a DICOM cine series or holds ``sa.nii.gz``, a single NIfTI cine, numbered
    per-frame files, or one DICOM series folder. Hidden entries are ignored.

    Args:
        inputs: cohort folder.

    Returns:
        ``(subjects, unusable)``: ``unusable`` maps the name of an entry in which no cine was found to the reason.

    Raises:
        InputError: ``inputs`` is not a folder, holds no subject, or two entries give one subject name.
    """
    inputs = Path(str(inputs))
    if not inputs.is_dir():
        raise InputError(f"{inputs}: cohort folder not found (a folder of subjects is expected)")
    subjects: dict[str, Subject] = {}
    unusable: dict[str, str] = {}
    for entry in sorted(inputs.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            if not entry.name.endswith(_SUFFIXES):
                continue
            name = entry.name[: -len(next(s for s in _SUFFIXES if entry.name.endswith(s)))]
            subject = Subject(name, entry)
        else:
            try:
                subject = Subject(entry.name, _subject_cine(entry))
            except InputError as err:
                unusable[entry.name] = str(err)
                continue
        if subject.name in subjects:
            raise InputError(f"{entry}: subject name {subject.name!r} given twice ({subjects[subject.name].cine})")
        subjects[subject.name] = subject
    if not subjects and not unusable:
        raise InputError(f"{inputs}: no subject found (cine files, DICOM folders or subject folders)")
    return [subjects[k] for k in sorted(subjects)], unusable


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _distributed():
    """``(rank, world size, created)``: joins the process group torchrun set up (gloo on CPU, nccl on GPUs)."""
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, False
    created = False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(hours=48))
        created = True
    return dist.get_rank(), dist.get_world_size(), created


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def _clean_stale(folder: Path) -> None:
    """Remove the hidden temporary folders / files a killed run left (``.<name>.tmp-*``, ``.<name>.<random>``)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name.startswith(".") and (".tmp-" in entry.name or ".old-" in entry.name):
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)


def run_cohort(
    inputs: str,
    out: str,
    bundle: str = "gemini_gan_bundle",
    device: str | None = None,
    frames_per_batch: int = 2,
    frame_interval_ms: float | None = None,
    progress: bool = True,
) -> CohortResult:
    """Run the cine pipeline on every subject not finished yet, then merge the cohort table and report.

    Args:
        inputs: cohort folder (see :func:`find_subjects`).
        out: output folder (created).
        bundle: bundle name or folder.
        device: ``cpu``, ``cuda`` or ``cuda:N``; default: this process's GPU (``LOCAL_RANK``) when CUDA is
            available, else the CPU.
        frames_per_batch: frames per network call.
        frame_interval_ms: frame interval of cines whose files do not say it (folders of frames).
        progress: progress bars.

    Returns:
        What this process did.

    Raises:
        InputError: no cohort folder / no subject, or the output folder cannot be written.
    """
    import torch

    import custom_networks
    from custom_networks.bundle.workflows import bundle_folder
    from custom_networks.cine import run_cine
    from custom_networks.evaluate.cohort_report import write_cohort_outputs

    rank, world, created = _distributed()
    out_dir = Path(str(out))
    subjects_dir, failed_dir = out_dir / "subjects", out_dir / "failed"
    try:
        folder = bundle_folder(bundle)
        subjects, unusable = find_subjects(inputs)
        if rank == 0:
            for d in (subjects_dir, failed_dir):
                d.mkdir(parents=True, exist_ok=True)
            _clean_stale(subjects_dir)
            _clean_stale(failed_dir)
        _barrier(world)
        if device is None:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
        if world > 1 and str(device) == "cpu":
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
        weights = folder / "models" / "model.pt"
        checksum = _sha256(weights) if weights.is_file() else None
        from monai.data import DistributedSampler

        share = list(DistributedSampler(subjects, num_replicas=world, rank=rank, shuffle=False, even_divisible=False))
        processed, skipped, failed = [], [], {}
        logger.info("worker %d of %d: %d of %d subjects", rank, world, len(share), len(subjects))
        for index in share:
            subject = subjects[index]
            target = subjects_dir / subject.name
            if (target / "done.json").is_file():
                skipped.append(subject.name)
                logger.info("%s: finished by an earlier run; skipped", subject.name)
                continue
            start = time.perf_counter()
            try:
                with atomic_output_dir(target, overwrite=True) as tmp:
                    outputs = run_cine(
                        str(subject.cine),
                        str(tmp),
                        bundle=str(folder),
                        name=subject.name,
                        frames_per_batch=frames_per_batch,
                        device=str(device),
                        frame_interval_ms=frame_interval_ms,
                        progress=progress,
                    )
                    record = {
                        "subject": subject.name,
                        "input": str(subject.cine),
                        "frames": outputs.num_frames,
                        "seconds": round(time.perf_counter() - start, 2),
                        "worker": rank,
                        "workers": world,
                        "device": str(device),
                        "bundle": str(folder),
                        "weights_sha256": checksum,
                        "version": custom_networks.__version__,
                        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    }
                    write_text_atomic(tmp / "done.json", json.dumps(record, indent=1))
            except Exception as err:  # one bad subject never stops the cohort (Ctrl-C / SIGTERM do)
                reason = str(err) if isinstance(err, InputError) else format_exception_line(err)
                logger.error("%s: failed: %s", subject.name, reason)
                failed[subject.name] = reason
                write_text_atomic(
                    failed_dir / f"{subject.name}.json",
                    json.dumps({"subject": subject.name, "input": str(subject.cine), "reason": reason}, indent=1),
                )
                continue
            (failed_dir / f"{subject.name}.json").unlink(missing_ok=True)
            processed.append(subject.name)
        _barrier(world)
        table = None
        if rank == 0:
            manifest = {
                "inputs": str(Path(str(inputs)).resolve()),
                "bundle": str(folder),
                "weights_sha256": checksum,
                "version": custom_networks.__version__,
                "python": platform.python_version(),
                "torch": torch.__version__,
                "workers": world,
                "unusable_entries": unusable,
            }
            table = write_cohort_outputs(out_dir, [s.name for s in subjects], manifest)
        _barrier(world)
        return CohortResult(processed, skipped, failed, table)
    finally:
        if created:
            import torch.distributed as dist

            dist.destroy_process_group()


def cohort(
    inputs: str,
    out: str,
    bundle: str = "gemini_gan_bundle",
    device: str | None = None,
    frames_per_batch: int = 2,
    frame_interval_ms: float | None = None,
) -> str:
    """Command-line form of :func:`run_cohort` (same arguments); prints a one-line summary."""
    result = run_cohort(inputs, out, bundle, device, frames_per_batch, frame_interval_ms)
    summary = f"processed {len(result.processed)}, skipped (already done) {len(result.skipped)}"
    summary += f", failed {len(result.failed)}"
    if result.table is not None:
        summary += f"; cohort table {result.table}"
    return summary


def main(argv: list[str] | None = None) -> int:
    """Console entry point (``custom-networks-cohort``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    return run_cli(
        cohort, argv, name="python -m custom_networks.cohort", path_options=("--inputs", "--out", "--bundle")
    )


if __name__ == "__main__":
    sys.exit(main())
