"""``python -m custom_networks.predict INPUT -o OUT``: segment (and super-resolve) short-axis stacks in one line.

Runs a bundle's own ``configs/inference.json`` (same transforms, same weights as ``python -m monai.bundle run``; no
second pipeline) from any working directory, with the paths passed to the config as literal paths: never evaluated,
so a folder named ``$x``, ``@y`` or ``2024`` is just a folder.

Examples::

    python -m custom_networks.predict stack.nii.gz -o out/                      # Gemini-GAN, shipped weights
    python -m custom_networks.predict cine.nii.gz -o out/ --frame 0             # one frame of a 4D cine
    python -m custom_networks.predict cine.nii.gz -o out/ --frame es            # its end-systolic frame, found
    python -m custom_networks.predict dicom_folder/ -o out/ --device cuda        # a DICOM series
    python -m custom_networks.predict stacks/ -o out/ --bundle vama_bundle --chain_gemini True
    custom-networks-predict stack.nii.gz -o out/ --overwrite True               # the console script

INPUT is a NIfTI stack (3D, or 4D with ``--frame``), a DICOM series folder, or a folder of those. Outputs per
case: ``<name>_seg.nii.gz`` (label map: 1 LV blood pool, 2 LV myocardium, 3 RV) and ``<name>_sr.nii.gz``
(super-resolved image) on a 1.25 x 1.25 x 2 mm grid over the input's field of view, in world coordinates (``name``
carries ``_frame<N>`` when a frame is chosen, ``_ED`` / ``_ES`` for ``--frame ed|es``). Existing outputs are refused
unless ``--overwrite True``; an input that cannot be used is skipped, listed in ``OUT/failed.csv``, and the exit
status is 2; bad input ends with one line ``error: <file>: <problem>`` (``--debug`` for the traceback). A whole cine
with its cardiac function: ``python -m custom_networks.cine``.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from custom_networks.bundle.translation_methods import TRANSLATION_METHODS
from custom_networks.core.cli import run_cli
from custom_networks.core.errors import InputError
from custom_networks.core.nifti import check_output_folder

__all__ = ["main", "predict"]

logger = logging.getLogger(__name__)

#: Options whose values are paths: kept as strings exactly as typed (python-fire would turn ``2024`` into an int).
_PATH_OPTIONS = ("--out", "--bundle")


def predict(
    input: str,
    out: str,
    bundle: str = "gemini_gan_bundle",
    frame: int | str | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    roi_size: int | list[int] | None = None,
    method: str | None = None,
    chain_gemini: bool = False,
    series: str | None = None,
) -> list[str]:
    """Run a bundle's inference on INPUT and write the outputs to OUT.

    Args:
        input: a NIfTI stack, a DICOM series folder, or a folder of those.
        out: output folder (created; checked for writing before any computation).
        bundle: ``gemini_gan_bundle`` (segmentation + super-resolution), ``vama_bundle`` (domain adaptation; with
            ``chain_gemini`` then segmented by Gemini-GAN), or the path of a bundle folder.
        frame: frame of a 4D cine (0-based), or ``"ed"`` / ``"es"``: the whole cine is segmented (as
            ``python -m custom_networks.cine`` does), the end-diastolic / end-systolic frame found from the LV
            blood-pool volume curve (largest / smallest), and that frame's outputs written as ``<name>_ED_seg`` /
            ``<name>_ED_sr`` (``ES``), exactly those of ``--frame <that frame>``. Gemini-GAN bundle, one cine.
        device: ``cpu`` or ``cuda`` (``cuda:N``).
        overwrite: replace existing outputs.
        roi_size: sliding-window size on the HR grid, one number for a cube (default: the whole volume when it fits
            the memory budget).
        method: V-AMA bundle only: translation method (one of the shipped ones).
        chain_gemini: V-AMA bundle only: segment the adapted volumes with Gemini-GAN.
        series: the series to read from a DICOM folder holding several (its SeriesInstanceUID or SeriesNumber).

    Returns:
        The files written.

    Raises:
        InputError: bad input, output or option (the message names it).
    """
    from custom_networks.bundle.workflows import bundle_folder, load_workflow, parse_device, parse_roi_size

    folder = bundle_folder(bundle)
    source = Path(str(input))
    if not source.exists():
        raise InputError(f"{source}: input file or folder not found")
    out = _output_folder(out)
    roi_size = None if roi_size is None else parse_roi_size(roi_size)
    series = None if series is None else str(series)
    if isinstance(frame, str) and frame.lower() in ("ed", "es"):
        if method is not None or chain_gemini or folder.name == "vama_bundle":
            raise InputError("--frame ed / es: Gemini-GAN bundle only")
        return _predict_phase(source, out, folder, frame.upper(), device, overwrite, roi_size, series)
    if frame is not None and (isinstance(frame, bool) or not isinstance(frame, int) or frame < 0):
        raise InputError(f"--frame must be a frame index >= 0, ed or es, got {frame!r}")
    torch_device = parse_device(device)
    out_dir = check_output_folder(out)
    overrides: dict = {
        "bundle_root": folder,
        "input_path": source,  # Path objects are never parsed as expressions or references
        "output_dir": out_dir,
        "frame": frame,
        "series": series,
        "overwrite": bool(overwrite),
        "device": torch_device,
        "amp": torch_device.type == "cuda",
    }
    if roi_size is not None:
        overrides["roi_size"] = roi_size
    configs = ["inference.json"]
    if folder.name == "vama_bundle" or (folder / "configs" / "comparators").is_dir():
        method = method or "vama"
        if method not in TRANSLATION_METHODS:
            raise InputError(
                f"--method {method!r}: unknown translation method (one of {', '.join(TRANSLATION_METHODS)})"
            )
        if method != "vama":
            configs.append(f"comparators/{method}.json")
        overrides["chain_gemini"] = bool(chain_gemini)
    elif method is not None or chain_gemini:
        raise InputError(f"--method / --chain_gemini belong to the V-AMA bundle, not {folder.name}")
    before = {p.name for p in out_dir.iterdir()}
    start = time.perf_counter()
    workflow = load_workflow(configs, bundle=folder, **overrides)
    workflow.run()
    workflow.finalize()  # reports the inputs that were skipped (InputError, exit status 2)
    written = sorted(str(p) for p in out_dir.iterdir() if p.name not in before and not p.name.startswith("."))
    logger.info("%d file(s) written to %s in %.1f s", len(written), out_dir, time.perf_counter() - start)
    return written


def _output_folder(out: str | Path) -> Path:
    """``-o``: a folder; a new path named like a NIfTI file is refused (it would become a folder of that name)."""
    path = Path(str(out))
    if not path.exists() and path.name.endswith((".nii", ".nii.gz")):
        raise InputError(f"{path}: -o takes an output folder, not a file name (the outputs are <name>_seg.nii.gz ...)")
    return path


def _predict_phase(
    source: Path,
    out: Path,
    bundle: Path,
    phase: str,
    device: str,
    overwrite: bool,
    roi_size: list[int] | None,
    series: str | None,
) -> list[str]:
    """``--frame ed|es``: the 4D run in a hidden folder of ``out``, then the chosen frame's outputs as 3D files."""
    import shutil
    import tempfile

    import nibabel as nib
    import numpy as np

    from custom_networks.cine import run_cine
    from custom_networks.core.cine_source import open_cine
    from custom_networks.core.nifti import save_nifti
    from custom_networks.transforms.save import output_stem

    frames = open_cine(source, series).num_frames
    if frames < 2:
        raise InputError(
            f"{source}: one frame only: --frame {phase.lower()} finds the {phase} frame of a cine, and a single "
            "frame has no cardiac cycle (omit --frame)"
        )
    out = check_output_folder(out)
    name = f"{output_stem(source)}_{phase}"
    targets = {key: out / f"{name}_{key}.nii.gz" for key in ("seg", "sr")}
    for target in targets.values():
        if target.exists() and not overwrite:
            raise InputError(f"{target}: exists (pass --overwrite True to replace it)")
    work = Path(tempfile.mkdtemp(prefix=".cine-", dir=out))
    try:
        outputs = run_cine(
            str(source), str(work), bundle=str(bundle), name="cine", device=device, roi_size=roi_size, series=series
        )
        frame = outputs.function.ed_frame if phase == "ED" else outputs.function.es_frame
        if frame is None:
            raise InputError(f"{source}: {phase} not found ({outputs.function.ed_es_reason})")
        for key, target in targets.items():
            img = nib.load(work / f"cine_{key}.nii.gz")
            data = np.asarray(img.dataobj[..., int(frame)])
            save_nifti(data, img.affine, target, label=key == "seg", overwrite=overwrite)
        logger.info(
            "%s: %s is frame %d (LV volume curve); wrote %s",
            source,
            phase,
            frame,
            ", ".join(map(str, targets.values())),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [str(p) for p in targets.values()]


def main(argv: list[str] | None = None) -> int:
    """Console entry point (``custom-networks-predict``); prints the files written."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    argv = ["--out" if a in ("-o", "--output") else a for a in argv]  # -o would be ambiguous with --overwrite
    return run_cli(predict, argv, name="python -m custom_networks.predict", path_options=_PATH_OPTIONS)


if __name__ == "__main__":
    sys.exit(main())
