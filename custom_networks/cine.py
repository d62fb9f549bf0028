"""``python -m custom_networks.cine --input CINE --out DIR``: super-resolve and segment every frame of a 4D cine, then
measure cardiac function.

Runs the bundle's ``configs/inference.json`` layered with ``configs/inference_4d.json`` (the same pipeline as
``python -m monai.bundle run``), then reads the 4D segmentation back frame by frame for the function analysis.

Examples::

    python -m custom_networks.cine --input sub01_sa.nii.gz --out out/          # a 4D NIfTI (X, Y, Z, T)
    python -m custom_networks.cine --input dicom_cine/ --out out/ --device cuda # a DICOM cine folder
    python -m custom_networks.cine --input frames/ --out out/ --frame_interval_ms 35  # per-frame 3D files
    python -m custom_networks.cine --input sa.nii.gz --out out/ --ed 0 --es 9    # ED / ES given, not searched

Outputs in ``DIR`` (``<name>`` = the cine's file or folder name, or ``--name``):

- ``<name>_seg.nii.gz``: 4D label map (1 LV blood pool, 2 LV myocardium, 3 RV) and ``<name>_sr.nii.gz``: 4D
  super-resolved image, both on a 1.25 x 1.25 x 2 mm grid over the input's field of view in world coordinates, with
  the input's frame order and frame interval (``pixdim[4]``, ms);
- ``<name>_function.json`` / ``<name>_function.csv``: volume curves, ED / ES frames, LVEDV, LVESV, LVSV, LVEF, LV
  mass, RVEDV, RVESV, RVSV, RVEF, peak ejection / filling rates, quality-control flags;
- ``<name>_volume_curves.png``: the volume curves with ED and ES marked.

Existing outputs are refused unless ``--overwrite True``; nothing is written under the final names until it is
complete; bad input ends with one line ``error: <file>: <problem>`` and exit status 2.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from custom_networks.core.cli import find_input_error, run_cli
from custom_networks.core.errors import InputError
from custom_networks.core.nifti import check_output_folder

if TYPE_CHECKING:
    from custom_networks.metrics.cardiac_cycle import FunctionResult
    from custom_networks.metrics.quality_control import QCResult

__all__ = ["CineOutputs", "OUTPUT_SUFFIXES", "check_cine_options", "main", "run_cine"]

logger = logging.getLogger(__name__)

#: Files written per cine, ``<name>_<suffix>``.
OUTPUT_SUFFIXES = ("seg.nii.gz", "sr.nii.gz", "function.json", "function.csv", "volume_curves.png")


@dataclass
class CineOutputs:
    """What a cine run wrote and measured.

    Args:
        name: output name.
        files: files written.
        function: the cardiac function (:class:`~custom_networks.metrics.FunctionResult`).
        qc: its quality control (:class:`~custom_networks.metrics.QCResult`).
        seconds: wall time of the whole run.
        num_frames: frames processed.
    """

    name: str
    files: list[Path]
    function: FunctionResult
    qc: QCResult
    seconds: float
    num_frames: int


def _positive_number(option: str, value, integer: bool = False):
    kinds = int if integer else int | float
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        what = "a positive integer" if integer else "a positive number"
        raise InputError(f"--{option} must be {what}, got {value!r}")
    return value


def check_cine_options(bundle: str, frames_per_batch: int, device: str, **intervals_ms: float | None):
    """Check the options of a cine run that do not depend on the input (a cohort checks them once, up front).

    Args:
        bundle: bundle name or folder; it must have ``configs/inference_4d.json`` and ``models/model.pt``.
        frames_per_batch: frames per network call.
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        intervals_ms: frame-interval options (``frame_interval_ms=...``): positive numbers or None.

    Returns:
        ``(bundle folder, torch device)``.

    Raises:
        InputError: naming the option.
    """
    from custom_networks.bundle.workflows import bundle_folder, parse_device

    folder = bundle_folder(bundle)
    if not (folder / "configs" / "inference_4d.json").is_file():
        raise InputError(f"{folder}: this bundle has no configs/inference_4d.json (4D cine inference)")
    if not (folder / "models" / "model.pt").is_file():
        raise InputError(f"{folder / 'models' / 'model.pt'}: weights not found")
    _positive_number("frames_per_batch", frames_per_batch, integer=True)
    for option, value in intervals_ms.items():
        _positive_number(option, value)
    return folder, parse_device(device)


def _check_name(name: str) -> str:
    name = str(name)
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        raise InputError(f"--name {name!r}: must be a plain file name (no folder, not hidden)")
    return name


def run_cine(
    input: str,
    out: str,
    bundle: str = "gemini_gan_bundle",
    name: str | None = None,
    frames_per_batch: int = 2,
    device: str = "cpu",
    overwrite: bool = False,
    roi_size: int | list[int] | None = None,
    frame_interval_ms: float | None = None,
    ed: int | None = None,
    es: int | None = None,
    progress: bool = True,
    default_frame_interval_ms: float | None = None,
    series: str | None = None,
) -> CineOutputs:
    """Segment and super-resolve every frame of a cine, write the 4D outputs and the cardiac function.

    Args:
        input: a 4D NIfTI ``(X, Y, Z, T)`` (a 3D file is one frame, said in the log), a folder of per-frame 3D NIfTI
            files numbered in their names, or a DICOM cine folder.
        out: output folder (created; checked for writing before any computation).
        bundle: ``gemini_gan_bundle`` or the path of a bundle folder with the 4D config.
        name: output name (default: the input's file or folder name).
        frames_per_batch: frames per network call (memory grows with it, not with the number of frames).
        device: ``cpu`` or ``cuda`` (``cuda:N``).
        overwrite: replace existing outputs.
        roi_size: sliding-window size on the HR grid, one number for a cube (default: whole frames that fit the
            memory budget).
        frame_interval_ms: time between frames, replacing what the input says (or a folder of frames, which says
            nothing).
        ed: end-diastolic frame (0-based) instead of the largest LV volume.
        es: end-systolic frame (0-based) instead of the smallest LV volume.
        progress: progress bars.
        default_frame_interval_ms: time between frames only where the input does not say it (a cohort of mixed
            inputs).
        series: the series to read from a DICOM folder holding several (its SeriesInstanceUID or SeriesNumber).

    Returns:
        What was written and measured.

    Raises:
        InputError: bad input, output or option (the message names it).
    """
    from custom_networks.bundle.workflows import load_workflow, parse_roi_size
    from custom_networks.core.cine_source import open_cine
    from custom_networks.evaluate.cine_function import analyse_segmentation
    from custom_networks.evaluate.function_report import write_function_outputs

    start = time.perf_counter()
    folder, torch_device = check_cine_options(
        bundle,
        frames_per_batch,
        device,
        frame_interval_ms=frame_interval_ms,
        default_frame_interval_ms=default_frame_interval_ms,
    )
    name = _check_name(name) if name else None
    roi_size = None if roi_size is None else parse_roi_size(roi_size)
    series = None if series is None else str(series)
    source = open_cine(Path(str(input)), series)
    name = name or source.name
    for option, value in (("ed", ed), ("es", es)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < source.num_frames
        ):
            raise InputError(f"--{option} must be a frame index in 0..{source.num_frames - 1}, got {value!r}")
    out_dir = check_output_folder(Path(str(out)))
    targets = [out_dir / f"{name}_{suffix}" for suffix in OUTPUT_SUFFIXES]
    if not overwrite:
        for target in targets:
            if target.exists():
                raise InputError(f"{target}: exists (pass --overwrite True to replace it)")
    interval = frame_interval_ms if frame_interval_ms is not None else source.frame_interval_ms
    interval = float(interval) if interval is not None else default_frame_interval_ms
    overrides: dict = {
        "bundle_root": folder,
        "input_path": source.path,  # a Path: never parsed as an expression or reference
        "output_dir": out_dir,
        "cine_name": name,
        "frame_interval_ms": interval,
        "frames_per_batch": frames_per_batch,
        "overwrite": bool(overwrite),
        "device": torch_device,
        "amp": torch_device.type == "cuda",
        "save_outputs#progress": bool(progress),
        "series": series,
    }
    if roi_size is not None:
        overrides["roi_size"] = roi_size
    workflow = load_workflow(["inference.json", "inference_4d.json"], bundle=folder, **overrides)
    try:
        workflow.run()
        workflow.finalize()
    except Exception as err:  # MONAI wraps a transform's error: raise the bad input itself
        with contextlib.suppress(Exception):  # remove the unfinished 4D files now, not at process exit
            workflow.parser.get_parsed_content("save_outputs").close()
        found = find_input_error(err)
        if found is None or found is err:
            raise
        raise found from err
    result, qc = analyse_segmentation(targets[0], frame_interval_ms=interval, ed=ed, es=es)
    written = targets[:2] + write_function_outputs(result, qc, out_dir, name, overwrite=overwrite)
    seconds = time.perf_counter() - start
    indices = result.indices
    logger.info(
        "%s: %d frames in %.1f s (%.1f s per frame); ED %s, ES %s, LVEDV %.1f mL, LVEF %.1f %%, QC %s",
        name,
        source.num_frames,
        seconds,
        seconds / source.num_frames,
        result.ed_frame,
        result.es_frame,
        indices.get("LVEDV_ml", float("nan")),
        indices.get("LVEF_pct", float("nan")),
        "pass" if qc.passed else "FAIL (" + "; ".join(qc.reasons) + ")",
    )
    return CineOutputs(name, written, result, qc, seconds, source.num_frames)


def cine(
    input: str,
    out: str,
    bundle: str = "gemini_gan_bundle",
    name: str | None = None,
    frames_per_batch: int = 2,
    device: str = "cpu",
    overwrite: bool = False,
    roi_size: int | list[int] | None = None,
    frame_interval_ms: float | None = None,
    ed: int | None = None,
    es: int | None = None,
    series: str | None = None,
) -> str:
    """Command-line form of :func:`run_cine` (same arguments); prints the files written."""
    outputs = run_cine(
        input,
        out,
        bundle,
        name,
        frames_per_batch,
        device,
        overwrite,
        roi_size,
        frame_interval_ms,
        ed,
        es,
        series=series,
    )
    return "\n".join(str(p) for p in outputs.files)


def main(argv: list[str] | None = None) -> int:
    """Console entry point (``custom-networks-cine``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    argv = ["--out" if a in ("-o", "--output") else a for a in argv]
    return run_cli(cine, argv, name="python -m custom_networks.cine", path_options=("--input", "--out", "--bundle"))


if __name__ == "__main__":
    sys.exit(main())
