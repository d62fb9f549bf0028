"""``python -m custom_networks.cohort --inputs DIR --out DIR``: the 4D cine pipeline and cardiac function over a cohort,
resumable, on one or several processes.

Every subject of ``DIR`` (a cine file, a DICOM cine folder, or a folder holding the subject's cine; see
:func:`find_subjects`) goes through :func:`custom_networks.cine.run_cine`. Several workers::

    torchrun --standalone --nproc_per_node 2 -m custom_networks.cohort --inputs DIR --out DIR   # 2 CPU processes (gloo)
    torchrun --standalone --nproc_per_node 4 -m custom_networks.cohort --inputs DIR --out DIR   # 4 GPUs (nccl)

torchrun starts the processes; MONAI's :class:`~monai.data.DistributedSampler` gives process ``r`` of ``N`` the
subjects ``r, r + N, ...`` (in name order, not shuffled); one process per GPU, or CPU processes that share the cores;
they wait for each other (gloo) before the first merges the table.

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
import json
import logging
import os
import platform
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from custom_networks.core.cli import find_input_error, format_exception_line, run_cli
from custom_networks.core.dicom import is_dicom_folder
from custom_networks.core.errors import InputError, disk_full_in
from custom_networks.core.nifti import (
    NIFTI_SUFFIXES,
    atomic_output_dir,
    check_output_folder,
    file_sha256,
    nifti_stem,
    write_text_atomic,
)

__all__ = ["CohortResult", "Subject", "find_subjects", "main", "run_cohort"]

logger = logging.getLogger(__name__)

#: File names taken for a subject folder's cine, in this order (UK Biobank style first).
_CINE_NAMES = ("sa.nii.gz", "sa.nii", "cine.nii.gz")
#: Name endings of a subject folder's cine beside other NIfTI files (ACDC ``_4d``, M&Ms ``_sa``).
_CINE_ENDINGS = ("_4d", "_sa")


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
        counts: subjects ``done`` / ``failed`` / ``pending`` and ``unusable`` entries of the whole cohort (first
            process only, else None).
    """

    processed: list[str]
    skipped: list[str]
    failed: dict[str, str]
    table: Path | None
    counts: dict[str, int] | None = None


def _subject_cine(folder: Path) -> Path:
    if is_dicom_folder(folder):
        return folder
    for name in _CINE_NAMES:
        if (folder / name).is_file():
            return folder / name
    files = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".") and p.name.endswith(NIFTI_SUFFIXES)]
    for ending in _CINE_ENDINGS:  # ACDC <id>_4d.nii.gz, M&Ms <id>_sa.nii.gz beside their labels and frames
        named = [p for p in files if nifti_stem(p).endswith(ending)]
        if len(named) == 1:
            return named[0]
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


def find_subjects(
    inputs: str | os.PathLike, exclude: str | os.PathLike | None = None
) -> tuple[list[Subject], dict[str, str]]:
    """The subjects of a cohort folder, sorted by name.

    A subject is a cine file directly in ``inputs`` (named after the file without extension), or a sub-folder
    (named after the folder) that is a DICOM cine series or holds ``sa.nii.gz``, an ACDC ``*_4d`` or M&Ms ``*_sa``
    cine beside its labels, a single NIfTI cine, numbered per-frame files, or one DICOM series folder. Hidden entries
    are ignored.

    Args:
        inputs: cohort folder.
        exclude: the cohort's output folder: when it lies inside ``inputs``, the entry holding it is not a subject.

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
    output = None if exclude is None else Path(str(exclude)).resolve()
    for entry in sorted(inputs.iterdir()):
        if entry.name.startswith("."):
            continue
        if output is not None and (output == entry.resolve() or entry.resolve() in output.parents):
            logger.info("%s: the output folder, not a subject", entry)
            continue
        if entry.is_file():
            if not entry.name.endswith(NIFTI_SUFFIXES):
                continue
            subject = Subject(nifti_stem(entry), entry)
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


def _distributed() -> tuple[int, int, bool]:
    """``(rank, world size, created)``: joins the process group torchrun set up."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, False
    created = False
    if not dist.is_initialized():
        # gloo even with GPUs: the processes only wait for each other (no tensors are exchanged), and a gloo barrier
        # does not spin a GPU while a slower worker finishes its subjects
        dist.init_process_group(backend="gloo", timeout=datetime.timedelta(hours=48))
        created = True
    return dist.get_rank(), dist.get_world_size(), created


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


#: The lock file of a cohort output folder (one run at a time).
LOCK_NAME = ".cohort.lock"
#: Sub-folders of a cohort output that hold only what the cohort writes.
_OWN_FOLDERS = ("subjects", "failed", "qc")
#: Files the cohort writes at the top of its output folder (their temporary names start with ``.<name>.``).
_OWN_FILES = ("cohort.csv", "manifest.json", "report.md", "distributions.png")


def _clean_stale(out_dir: Path) -> None:
    """Remove what a killed run left half-written: the atomic writers' hidden temporary files and folders
    (``.<name>.<random>``, ``.<name>.tmp-<random>``) in the cohort's own sub-folders, and those of the cohort's own
    files at the top (nothing else of the user's is touched; the lock file stays)."""
    stale = [e for sub in _OWN_FOLDERS if (out_dir / sub).is_dir() for e in (out_dir / sub).iterdir()]
    stale = [e for e in stale if e.name.startswith(".")]
    stale += [e for e in out_dir.iterdir() if e.name.startswith(tuple(f".{name}." for name in _OWN_FILES))]
    for entry in stale:
        logger.info("removing %s, left by an interrupted run", entry)
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _lock(out_dir: Path):
    """Hold the output folder's lock (released when the process ends, even by SIGKILL).

    Raises:
        InputError: another cohort run holds it.
    """
    import fcntl

    handle = open(out_dir / LOCK_NAME, "a")  # noqa: SIM115 - held for the whole run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        handle.close()
        raise InputError(f"{out_dir}: another cohort run is writing here (lock {LOCK_NAME})") from err
    return handle


def _input_state(path: Path) -> dict:
    """Size and modification time of a subject's input (a folder: of its files), to notice a changed input."""
    files = [path] if path.is_file() else [p for p in sorted(path.rglob("*")) if p.is_file()]
    stats = [p.stat() for p in files]
    return {"bytes": sum(st.st_size for st in stats), "mtime_ns": max((st.st_mtime_ns for st in stats), default=0)}


def _stale_reason(record: dict, checksum: str | None, state: dict) -> str | None:
    """Why a finished subject must be redone (other weights, a changed input), or None."""
    if record.get("weights_sha256") != checksum:
        return "finished with other weights"
    if record.get("input_state") not in (None, state):
        return "its input changed since"
    return None


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

    A subject is finished when ``subjects/<subject>/done.json`` exists and records the current weights and the
    current state of its input (size, modification time); otherwise it is (re)done.

    Args:
        inputs: cohort folder (see :func:`find_subjects`).
        out: output folder (created).
        bundle: bundle name or folder.
        device: ``cpu``, ``cuda`` or ``cuda:N``; default: this process's GPU (``LOCAL_RANK``) when CUDA is
            available, else the CPU.
        frames_per_batch: frames per network call.
        frame_interval_ms: frame interval of the cines whose files do not say it (folders of frames); a cine whose
            header gives it keeps its own.
        progress: progress bars.

    Returns:
        What this process did (the first process: also the merged counts and the table).

    Raises:
        InputError: no cohort folder, a bad option (checked once, before any subject), the output folder cannot be
            written or another cohort run is writing there.
    """
    import torch
    from monai.data import DistributedSampler

    import custom_networks
    from custom_networks.cine import check_cine_options, run_cine
    from custom_networks.evaluate.cohort_report import write_cohort_outputs

    rank, world, created = _distributed()
    try:
        if device is None:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
        folder, torch_device = check_cine_options(
            bundle, frames_per_batch, str(device), frame_interval_ms=frame_interval_ms
        )
        if torch_device.type == "cuda":
            torch.cuda.set_device(torch_device)
        subjects, unusable = find_subjects(inputs, exclude=out)
        out_dir = check_output_folder(Path(str(out)))
        subjects_dir, failed_dir = out_dir / "subjects", out_dir / "failed"
        lock = _lock(out_dir) if rank == 0 else None  # rank 0 holds it for the whole run
        if rank == 0:
            _clean_stale(out_dir)
            for d in (subjects_dir, failed_dir):
                d.mkdir(parents=True, exist_ok=True)
        _barrier(world)
        if world > 1 and torch_device.type == "cpu":
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
        checksum = file_sha256(folder / "models" / "model.pt")
        if len(subjects) >= world:  # MONAI's distributed sampling, in order: subjects r, r + N, ...
            sampler = DistributedSampler(subjects, num_replicas=world, rank=rank, shuffle=False, even_divisible=False)
            share = list(sampler)
        else:  # the sampler refuses fewer items than processes; the same partition
            share = list(range(rank, len(subjects), world))
        processed, skipped, failed = [], [], {}
        logger.info("worker %d of %d: %d of %d subjects", rank, world, len(share), len(subjects))
        for index in share:
            subject = subjects[index]
            target = subjects_dir / subject.name
            state = _input_state(subject.cine)
            if (target / "done.json").is_file():
                stale = _stale_reason(json.loads((target / "done.json").read_text()), checksum, state)
                if stale is None:
                    skipped.append(subject.name)
                    logger.info("%s: finished by an earlier run; skipped", subject.name)
                    continue
                logger.warning("%s: %s; redone", subject.name, stale)
            start = time.perf_counter()
            try:
                with atomic_output_dir(target, overwrite=True) as tmp:
                    outputs = run_cine(
                        str(subject.cine),
                        str(tmp),
                        bundle=str(folder),
                        name=subject.name,
                        frames_per_batch=frames_per_batch,
                        device=str(torch_device),
                        progress=progress,
                        default_frame_interval_ms=frame_interval_ms,
                    )
                    record = {
                        "subject": subject.name,
                        "input": str(subject.cine),
                        "input_state": state,
                        "frames": outputs.num_frames,
                        "seconds": round(time.perf_counter() - start, 2),
                        "worker": rank,
                        "workers": world,
                        "device": str(torch_device),
                        "bundle": str(folder),
                        "weights_sha256": checksum,
                        "version": custom_networks.__version__,
                        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    }
                    write_text_atomic(tmp / "done.json", json.dumps(record, indent=1))
            except Exception as err:  # one bad subject never stops the cohort (Ctrl-C / SIGTERM / a full disk do)
                if disk_full_in(err):  # the work folder is temporary (removed): name the subject's folder
                    raise InputError(f"{target}: no space left on the device") from err
                found = find_input_error(err)
                reason = str(found) if found is not None else format_exception_line(err)
                entry = {"subject": subject.name, "input": str(subject.cine), "reason": reason}
                if found is None:  # a bug, not a bad input: keep the traceback
                    logger.exception("%s: failed", subject.name)
                    entry["traceback"] = traceback.format_exc()
                else:
                    logger.error("%s: failed: %s", subject.name, reason)
                failed[subject.name] = reason
                write_text_atomic(failed_dir / f"{subject.name}.json", json.dumps(entry, indent=1))
                continue
            (failed_dir / f"{subject.name}.json").unlink(missing_ok=True)
            processed.append(subject.name)
        _barrier(world)
        table, counts = None, None
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
            counts = {**json.loads((out_dir / "manifest.json").read_text())["counts"], "unusable": len(unusable)}
            lock.close()
        _barrier(world)
        return CohortResult(processed, skipped, failed, table, counts)
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
    """Command-line form of :func:`run_cohort` (same arguments): prints a summary; exit status 2 when a subject
    failed or an entry held no cine (the others are written; the manifest says why)."""
    result = run_cohort(inputs, out, bundle, device, frames_per_batch, frame_interval_ms)
    summary = f"processed {len(result.processed)}, skipped (already done) {len(result.skipped)}"
    summary += f", failed {len(result.failed)}"
    if result.counts is None:  # not the first process: its share only
        return f"worker {os.environ.get('RANK', '?')}: {summary}"
    summary += f"; cohort table {result.table}"
    bad = result.counts["failed"] + result.counts["unusable"]
    if bad:
        print(summary)
        raise InputError(
            f"{Path(str(out)) / 'manifest.json'}: {result.counts['failed']} subject(s) failed and "
            f"{result.counts['unusable']} entr(y/ies) held no cine, of {bad + result.counts['done']}; the others are "
            "in the table (see report.md)"
        )
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
