"""One synthetic subject: anatomy (parametric or real label map) -> appearance -> HR and LR acquisitions, ED and ES."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from custom_networks.core.cases import PHASES
from custom_networks.core.geometry import centered_grid_affine, rotation_matrix
from custom_networks.data.acquisition import StackProtocol, sample_slice_shifts, simulate_stack, stack_to_hr
from custom_networks.data.appearance import add_rician_noise, bias_field, draw_intensities, gaussian_psf, render_object
from custom_networks.data.domains import DomainPreset
from custom_networks.data.heart import PHENOTYPES, rasterize_heart, sample_heart_params
from custom_networks.data.heart_details import paint_cardiac_details, sample_cardiac_details
from custom_networks.data.thorax import paint_thorax, sample_thorax_details, sample_thorax_params, smooth_displacement
from custom_networks.data.tissues import DETAIL_TISSUES, keep_largest_components, tissue_to_label

__all__ = [
    "ANATOMY_DETAILS",
    "PhaseVolumes",
    "SubjectVolumes",
    "generate_subject",
    "grid_mm_coordinates",
    "sax_grid_affine",
]


#: ``anatomy_detail`` levels: ``basic`` is the smooth heart in a simple thorax (what the shipped weights were trained
#: on; a seed gives what earlier versions gave); ``realistic`` adds papillary muscles, trabeculae, both outflow tracts,
#: the ACDC phenotypes in equal shares, and the skeleton, stomach, spleen, arms and breasts of a real chest, with the
#: heart placed anteriorly. Its extra draws come from a generator of their own, so the basic draws of a seed stay the
#: same.
ANATOMY_DETAILS = ("basic", "realistic")

# Typical short-axis orientation (RAS world): slice normal along the LV long axis, apex anterior-left-inferior.
_SAX_ANGLES = (-35.0, 40.0, 120.0)


@dataclass
class PhaseVolumes:
    """Every array written for one cardiac phase (see the dataset README for file names)."""

    hr_image: np.ndarray
    hr_label: np.ndarray
    lr_image: np.ndarray
    lr_label: np.ndarray
    lr_on_hr: np.ndarray
    lr_affine: np.ndarray
    shifts_mm: np.ndarray
    hr_tissue: np.ndarray | None = None


@dataclass
class SubjectVolumes:
    """One subject: HR grid affine, per-phase volumes and the manifest entry of everything drawn."""

    hr_affine: np.ndarray
    phases: dict[str, PhaseVolumes]
    manifest: dict = field(default_factory=dict)


def sax_grid_affine(rng: np.random.Generator, shape: Sequence[int], spacing: Sequence[float]) -> np.ndarray:
    """Oblique short-axis HR grid: typical SAX orientation +- 10 degrees, centred within 20 mm of the origin."""
    angles = np.asarray(_SAX_ANGLES) + rng.uniform(-10, 10, size=3)
    return centered_grid_affine(shape, spacing, rotation_matrix(angles), rng.uniform(-20, 20, size=3))


def grid_mm_coordinates(shape: Sequence[int], spacing: Sequence[float]) -> np.ndarray:
    """Voxel-centre coordinates (mm) in the grid's own frame, origin at the grid centre: ``(*shape, 3)``."""
    axes = [(np.arange(n) - (n - 1) / 2.0) * s for n, s in zip(shape, spacing, strict=True)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).astype(np.float32)


def _acquire(
    tissue: np.ndarray,
    hr_affine: np.ndarray,
    spacing: Sequence[float],
    domain: DomainPreset,
    protocol: StackProtocol,
    intensities: dict[str, float],
    bias: np.ndarray,
    shifts: np.ndarray,
    seeds: Sequence[int],
    interp_order: int,
) -> PhaseVolumes:
    label = tissue_to_label(tissue)
    obj = render_object(tissue, intensities, domain.scale) * bias
    sigma_blood = domain.scale * intensities["lv_blood"]
    pv = (domain.partial_volume_sigma_mm * 2.3548,) * 3
    hr_image = add_rician_noise(gaussian_psf(obj, pv, spacing), domain.noise_hr * sigma_blood, seeds[0])
    lr_clean, lr_label, lr_affine = simulate_stack(obj, label, hr_affine, protocol, shifts)
    lr_image = add_rician_noise(lr_clean, domain.noise_lr * sigma_blood, seeds[1])
    lr_on_hr = stack_to_hr(lr_image, lr_affine, tissue.shape, hr_affine, order=interp_order)
    return PhaseVolumes(hr_image, label, lr_image, lr_label, lr_on_hr, lr_affine, shifts, tissue.astype(np.uint8))


def generate_subject(
    seed: int | Sequence[int],
    domain: DomainPreset,
    hr_shape: Sequence[int] = (128, 128, 64),
    protocol: StackProtocol | None = None,
    randomize_intensities: bool = False,
    deformation_mm: float = 3.0,
    anatomy=None,
    interp_order: int = 1,
    anatomy_detail: str = "basic",
) -> SubjectVolumes:
    """Generate one subject at ED and ES.

    Args:
        seed: seed (or seed sequence entropy) of this subject; the only source of randomness.
        domain: appearance/acquisition preset.
        hr_shape: HR grid shape (voxels), slice axis last.
        protocol: 2D stack protocol; defaults to the domain's.
        randomize_intensities: domain randomisation of the tissue intensities.
        deformation_mm: amplitude of the smooth random deformation.
        anatomy: ``None`` for the parametric heart, or a :class:`~custom_networks.data.labelmaps.RealAnatomy`
            (real label map) to deform and use instead.
        interp_order: interpolation order of the stack onto the HR grid (1 linear, 3 cubic B-spline).
        anatomy_detail: one of :data:`ANATOMY_DETAILS` (parametric anatomy only).
    """
    if anatomy_detail not in ANATOMY_DETAILS:
        raise ValueError(f"anatomy_detail must be one of {ANATOMY_DETAILS}, got {anatomy_detail!r}")
    rng = np.random.default_rng(seed)
    detail_rng = None
    if anatomy_detail == "realistic" and anatomy is None:
        detail_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    seeds = rng.integers(0, 2**31 - 1, size=8).tolist()
    protocol = protocol or StackProtocol(
        domain.lr_inplane_spacing, domain.slice_thickness, domain.slice_spacing, domain.max_shift_mm
    )
    spacing = tuple(float(s) for s in domain.hr_spacing)
    hr_shape = tuple(int(s) for s in hr_shape)
    if anatomy is None:
        hr_affine = sax_grid_affine(rng, hr_shape, spacing)
    else:
        hr_affine = anatomy.grid_affine(rng, hr_shape, spacing)
    intensities = draw_intensities(rng, domain, randomize_intensities)
    if detail_rng is not None:
        intensities.update(draw_intensities(detail_rng, domain, randomize_intensities, DETAIL_TISSUES))
    bias = bias_field(hr_shape, domain.bias_coeff, seeds[0])
    extent = tuple(n * s for n, s in zip(hr_shape, spacing, strict=True))
    if anatomy is None:
        tissues, anatomy_record = _parametric_tissues(rng, hr_shape, spacing, extent, deformation_mm, detail_rng)
    else:
        tissues, anatomy_record = anatomy.tissues(rng, hr_shape, hr_affine, deformation_mm)
    phases = {}
    shifts_record = {}
    for p, phase in enumerate(PHASES):
        n_slices = int(round(extent[2] / protocol.slice_spacing))
        shifts = sample_slice_shifts(rng, max(n_slices, 1), protocol.max_shift_mm)
        phases[phase] = _acquire(
            tissues[phase],
            hr_affine,
            spacing,
            domain,
            protocol,
            intensities,
            bias,
            shifts,
            (seeds[2 + 2 * p], seeds[3 + 2 * p]),
            interp_order,
        )
        shifts_record[phase] = np.round(shifts, 4).tolist()
    manifest = {
        "anatomy": anatomy_record,
        "intensities": intensities,
        "hr_affine": np.round(hr_affine, 6).tolist(),
        "protocol": protocol.to_dict(),
        "slice_shifts_mm": shifts_record,
        "randomize_intensities": bool(randomize_intensities),
        "deformation_mm": float(deformation_mm),
        "anatomy_detail": anatomy_detail if anatomy is None else "label map",
    }
    return SubjectVolumes(hr_affine, phases, manifest)


def _parametric_tissues(rng, hr_shape, spacing, extent, deformation_mm, detail_rng=None):
    """Tissue maps of both phases; ``detail_rng`` (realistic anatomy) draws the phenotype and the details."""
    phenotype = "normal" if detail_rng is None else str(detail_rng.choice(sorted(PHENOTYPES)))
    params = sample_heart_params(rng, extent, phenotype)
    thorax = sample_thorax_params(rng, params.ed.lv_a)
    grid = grid_mm_coordinates(hr_shape, spacing)
    grid = grid + smooth_displacement(rng, hr_shape, deformation_mm)
    local = (grid - np.asarray(params.base_center, dtype=np.float32)) @ params.frame().astype(np.float32)
    record = {"source": "parametric", "heart": params.to_dict(), "thorax": thorax.to_dict()}
    cardiac = thorax_details = None
    if detail_rng is not None:
        cardiac = sample_cardiac_details(detail_rng, params.ed)
        thorax_details = sample_thorax_details(detail_rng, thorax, params.ed.lv_a)
        record.update(cardiac_details=cardiac.to_dict(), thorax_details=thorax_details.to_dict())
    tissues = {}
    for phase in PHASES:
        shape = params.shape(phase)
        tissue = paint_thorax(local, thorax, base_z=shape.base_offset, details=thorax_details)
        tissue = keep_largest_components(rasterize_heart(tissue, local, shape, params.epicardial_fat))
        if cardiac is not None:
            tissue = paint_cardiac_details(tissue, local, shape, cardiac)
        tissues[phase] = tissue
    return tissues, record
