"""Multi-frame generation: a whole cardiac cycle of one parametric subject, as a 4D short-axis cine.

The heart of :func:`custom_networks.data.sample_heart_params` is drawn at end diastole (ED) and end systole (ES);
frame ``t`` of a ``T``-frame cycle takes every shape parameter on the way between them with the weight
:func:`contraction_weight` (0 at ED, 1 at ES): a smooth systole over the first ``systole_fraction`` of the cycle, then
filling back to ED, so the volume curves are smooth and periodic, with ED at frame 0 (ECG-triggered cines start at
the R wave) and ES near ``systole_fraction * T``. The anatomy, the appearance, the slice positions and the breath-hold
shifts are those of one subject for every frame (one breath-hold per slice records all phases of that slice), the
noise is new per frame. The truth that tests and benchmarks compare against is the volume of every class on the HR
label map of every frame.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import check_output_folder, save_nifti, write_text_atomic
from custom_networks.data.acquisition import StackProtocol, sample_slice_shifts
from custom_networks.data.appearance import bias_field, draw_intensities
from custom_networks.data.domains import get_domain
from custom_networks.data.heart import HeartShape, rasterize_heart, sample_heart_params
from custom_networks.data.synthesis import _acquire, grid_mm_coordinates, sax_grid_affine
from custom_networks.data.thorax import paint_thorax, sample_thorax_params, smooth_displacement
from custom_networks.data.tissues import keep_largest_components
from custom_networks.metrics.clinical import label_volumes_ml

__all__ = ["CineVolumes", "contraction_weight", "generate_cine", "synthesize_cine"]

logger = logging.getLogger(__name__)

#: Frame interval (ms) written in generated cines: a 60 bpm cycle of 25 frames.
DEFAULT_FRAME_INTERVAL_MS = 40.0


def contraction_weight(t: np.ndarray, num_frames: int, systole_fraction: float = 0.35) -> np.ndarray:
    """Weight of the end-systolic shape at frame ``t`` (0 at ED, 1 at ES), periodic over the cycle.

    Systole is a half cosine from ED (frame 0) to ES (``systole_fraction`` of the cycle); diastole is a half cosine
    back to ED at the end of the cycle: smooth, monotonic on each side, one minimum volume.

    Args:
        t: frame indices.
        num_frames: frames per cycle ``T``.
        systole_fraction: fraction of the cycle from ED to ES.
    """
    phase = np.mod(np.asarray(t, dtype=float), num_frames) / num_frames
    systole = 0.5 * (1.0 - np.cos(np.pi * phase / systole_fraction))
    diastole = 0.5 * (1.0 + np.cos(np.pi * (phase - systole_fraction) / (1.0 - systole_fraction)))
    return np.where(phase <= systole_fraction, systole, diastole)


def _blend(ed: HeartShape, es: HeartShape, weight: float) -> HeartShape:
    """Every shape parameter ``(1 - w) ED + w ES``."""
    return replace(
        ed, **{f.name: (1.0 - weight) * getattr(ed, f.name) + weight * getattr(es, f.name) for f in fields(ed)}
    )


@dataclass
class CineVolumes:
    """A generated cine.

    Args:
        lr_cine: the acquired stack of every frame ``(X, Y, Z, T)`` (float32).
        lr_affine: voxel-to-world affine of the stack.
        hr_labels: HR label map of every frame ``(X, Y, Z, T)`` (uint8; 1 LV blood pool, 2 LV myocardium, 3 RV).
        hr_affine: voxel-to-world affine of the HR grid.
        frame_interval_ms: time between frames.
        volumes_ml: class volume per frame measured on the HR labels (``{"LV", "MYO", "RV"}``, mL).
        manifest: everything drawn (JSON).
    """

    lr_cine: np.ndarray
    lr_affine: np.ndarray
    hr_labels: np.ndarray
    hr_affine: np.ndarray
    frame_interval_ms: float
    volumes_ml: dict[str, list[float]]
    manifest: dict

    @property
    def ed_frame(self) -> int:
        """Frame of the largest LV blood-pool volume."""
        return int(np.argmax(self.volumes_ml["LV"]))

    @property
    def es_frame(self) -> int:
        """Frame of the smallest LV blood-pool volume."""
        return int(np.argmin(self.volumes_ml["LV"]))


def _check_options(num_frames, systole_fraction, frame_interval_ms) -> None:
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or not 2 <= num_frames <= 100:
        raise InputError(f"--frames must be an integer between 2 and 100, got {num_frames!r}")
    if not 0.2 <= float(systole_fraction) <= 0.6:
        raise InputError(f"--systole_fraction must be between 0.2 and 0.6, got {systole_fraction}")
    if not float(frame_interval_ms) > 0:
        raise InputError(f"--frame_interval_ms must be > 0, got {frame_interval_ms}")


def generate_cine(
    seed: int | Sequence[int],
    domain: str = "source",
    num_frames: int = 20,
    hr_shape: Sequence[int] = (128, 128, 64),
    protocol: StackProtocol | None = None,
    systole_fraction: float = 0.35,
    frame_interval_ms: float = DEFAULT_FRAME_INTERVAL_MS,
    deformation_mm: float = 3.0,
    progress: bool = False,
) -> CineVolumes:
    """Generate one subject's cine: ``num_frames`` frames of one cardiac cycle (parametric heart).

    Args:
        seed: seed of the subject (the only source of randomness).
        domain: appearance/acquisition preset name.
        num_frames: frames per cycle (2-100).
        hr_shape: HR grid shape, slice axis last.
        protocol: stack protocol (default: the domain's).
        systole_fraction: fraction of the cycle from ED to ES (0.2-0.6).
        frame_interval_ms: time between frames (written in the cine's header).
        deformation_mm: amplitude of the smooth random deformation of the anatomy.
        progress: show a progress bar over frames.

    Raises:
        InputError: a value out of its range (the option is named).
    """
    _check_options(num_frames, systole_fraction, frame_interval_ms)
    preset = get_domain(domain)
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**31 - 1, size=4).tolist()
    try:
        protocol = protocol or StackProtocol(
            preset.lr_inplane_spacing, preset.slice_thickness, preset.slice_spacing, preset.max_shift_mm
        )
    except ValueError as err:
        raise InputError(str(err)) from err
    spacing = tuple(float(s) for s in preset.hr_spacing)
    shape = tuple(int(s) for s in hr_shape)
    hr_affine = sax_grid_affine(rng, shape, spacing)
    intensities = draw_intensities(rng, preset, False)
    bias = bias_field(shape, preset.bias_coeff, seeds[0])
    extent = tuple(n * s for n, s in zip(shape, spacing, strict=True))
    try:
        params = sample_heart_params(rng, extent)
    except ValueError as err:
        extent_mm = "x".join(f"{e:g}" for e in extent)
        raise InputError(f"--hr_shape {list(shape)}: a {extent_mm} mm grid is too small for an adult heart") from err
    thorax = sample_thorax_params(rng, params.ed.lv_a)
    grid = grid_mm_coordinates(shape, spacing) + smooth_displacement(rng, shape, deformation_mm)
    local = (grid - np.asarray(params.base_center, dtype=np.float32)) @ params.frame().astype(np.float32)
    shifts = sample_slice_shifts(rng, max(int(round(extent[2] / protocol.slice_spacing)), 1), protocol.max_shift_mm)
    weights = contraction_weight(np.arange(num_frames), num_frames, systole_fraction)
    lr_frames, hr_frames = [], []
    volumes: dict[str, list[float]] = {"LV": [], "MYO": [], "RV": []}
    lr_affine = None
    for t in tqdm(range(num_frames), desc="cine frames", unit="frame", disable=not progress):
        heart = _blend(params.ed, params.es, float(weights[t]))
        tissue = paint_thorax(local, thorax, base_z=heart.base_offset)
        tissue = keep_largest_components(rasterize_heart(tissue, local, heart, params.epicardial_fat))
        frame = _acquire(
            tissue, hr_affine, spacing, preset, protocol, intensities, bias, shifts, (seeds[1] + t, seeds[2] + t), 1
        )
        lr_frames.append(frame.lr_image.astype(np.float32))
        hr_frames.append(frame.hr_label)
        lr_affine = frame.lr_affine
        for name, value in zip(("LV", "MYO", "RV"), label_volumes_ml(frame.hr_label, spacing).values(), strict=True):
            volumes[name].append(round(value, 4))
    manifest = {
        "seed": np.asarray(seed).tolist(),
        "domain": domain,
        "num_frames": num_frames,
        "systole_fraction": float(systole_fraction),
        "frame_interval_ms": float(frame_interval_ms),
        "contraction_weights": np.round(weights, 6).tolist(),
        "heart": params.to_dict(),
        "protocol": protocol.to_dict(),
        "hr_shape": list(shape),
        "hr_spacing": list(spacing),
    }
    return CineVolumes(
        lr_cine=np.stack(lr_frames, axis=-1),
        lr_affine=np.asarray(lr_affine),
        hr_labels=np.stack(hr_frames, axis=-1),
        hr_affine=hr_affine,
        frame_interval_ms=float(frame_interval_ms),
        volumes_ml=volumes,
        manifest=manifest,
    )


def synthesize_cine(
    out: str | Path,
    name: str = "sub-0000",
    frames: int = 20,
    seed: int = 0,
    domain: str = "source",
    hr_shape: Sequence[int] = (128, 128, 64),
    systole_fraction: float = 0.35,
    frame_interval_ms: float = DEFAULT_FRAME_INTERVAL_MS,
    overwrite: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Write a generated cine: ``<name>_cine.nii.gz`` (the 4D stack, frame interval in the header),
    ``<name>_hr_label_cine.nii.gz`` (4D HR label maps) and ``<name>_truth.json`` (ED / ES frames, volumes per frame).

    Args:
        out: output folder (created).
        name: subject name (file prefix).
        frames: frames per cycle.
        seed: seed of the subject.
        domain: appearance/acquisition preset.
        hr_shape: HR grid shape.
        systole_fraction: fraction of the cycle from ED to ES.
        frame_interval_ms: time between frames.
        overwrite: replace existing files.
        progress: progress bar over frames.

    Returns:
        The files written.
    """
    _check_options(frames, systole_fraction, frame_interval_ms)
    folder = check_output_folder(Path(str(out)))
    paths = [folder / f"{name}_cine.nii.gz", folder / f"{name}_hr_label_cine.nii.gz", folder / f"{name}_truth.json"]
    if not overwrite:
        for path in paths:
            if path.exists():
                raise InputError(f"{path}: exists (pass --overwrite True to replace it)")
    cine = generate_cine(seed, domain, frames, hr_shape, None, systole_fraction, frame_interval_ms, progress=progress)
    save_nifti(
        cine.lr_cine, cine.lr_affine, paths[0], time_step=cine.frame_interval_ms, time_unit="msec", overwrite=overwrite
    )
    save_nifti(
        cine.hr_labels,
        cine.hr_affine,
        paths[1],
        label=True,
        time_step=cine.frame_interval_ms,
        time_unit="msec",
        overwrite=overwrite,
    )
    truth = {
        "ED_frame": cine.ed_frame,
        "ES_frame": cine.es_frame,
        "volumes_ml": cine.volumes_ml,
        "note": "volumes are voxel counts of the HR label maps x voxel volume; LV = blood pool, MYO = LV myocardium",
        **cine.manifest,
    }
    write_text_atomic(paths[2], json.dumps(truth, indent=1))
    logger.info("cine %s: %d frames, ED %d, ES %d -> %s", name, frames, cine.ed_frame, cine.es_frame, folder)
    return paths
