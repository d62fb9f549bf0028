"""Scanner/site appearance and acquisition presets ("domains"), stored as data in ``domains.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from typing import Any

from custom_networks.data.tissues import RENDERED_AS, Tissue

__all__ = ["DomainPreset", "get_domain", "list_domains", "load_domains"]


@dataclass(frozen=True)
class DomainPreset:
    """Appearance and acquisition of one scanner/site.

    Args:
        name: preset name.
        description: one-line human description.
        hr_spacing: voxel size (mm) of the high-resolution reference grid (in-plane x, in-plane y, through-plane).
        lr_inplane_spacing: in-plane voxel size (mm) of the conventional 2D short-axis stack.
        slice_thickness: slice thickness (mm, FWHM of the Gaussian slice profile).
        slice_spacing: distance between slice centres (mm).
        max_shift_mm: largest per-slice in-plane breath-hold misalignment (mm); 0 disables it.
        intensities: mean relative intensity of every tissue class (blood ~ 1).
        intensity_jitter: relative standard deviation of the per-subject intensity draw.
        noise_hr: Rician noise standard deviation of the HR acquisition, relative to blood.
        noise_lr: Rician noise standard deviation of the 2D stack, relative to blood.
        bias_coeff: magnitude of the smooth multiplicative bias field (Legendre coefficients range).
        partial_volume_sigma_mm: Gaussian point-spread (mm) applied to the HR acquisition.
        scale: intensity of blood in stored image units.
    """

    name: str
    description: str
    hr_spacing: tuple[float, float, float]
    lr_inplane_spacing: float
    slice_thickness: float
    slice_spacing: float
    max_shift_mm: float
    intensities: dict[str, float] = field(default_factory=dict)
    intensity_jitter: float = 0.06
    noise_hr: float = 0.02
    noise_lr: float = 0.02
    bias_coeff: float = 0.15
    partial_volume_sigma_mm: float = 0.8
    scale: float = 1000.0

    def __post_init__(self) -> None:
        missing = sorted({t.key for t in Tissue if t not in RENDERED_AS} - set(self.intensities))
        if missing:
            raise ValueError(f"domain '{self.name}': intensities missing for tissues {missing}")
        if len(self.hr_spacing) != 3 or min(self.hr_spacing) <= 0:
            raise ValueError(f"domain '{self.name}': hr_spacing must be three positive numbers, got {self.hr_spacing}")
        for key in ("lr_inplane_spacing", "slice_thickness", "slice_spacing", "scale"):
            if getattr(self, key) <= 0:
                raise ValueError(f"domain '{self.name}': {key} must be positive, got {getattr(self, key)}")
        for key in (
            "max_shift_mm",
            "noise_hr",
            "noise_lr",
            "bias_coeff",
            "partial_volume_sigma_mm",
            "intensity_jitter",
        ):
            if getattr(self, key) < 0:
                raise ValueError(f"domain '{self.name}': {key} must be >= 0, got {getattr(self, key)}")

    def with_overrides(self, **overrides: Any) -> DomainPreset:
        """Return a copy with some fields replaced (``None`` values are ignored)."""
        changes = {k: (tuple(v) if k == "hr_spacing" else v) for k, v in overrides.items() if v is not None}
        unknown = set(changes) - set(self.to_dict())
        if unknown:
            raise ValueError(f"unknown domain field(s): {sorted(unknown)}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (written to the dataset manifest)."""
        return asdict(self)


def load_domains() -> dict[str, DomainPreset]:
    """Read every preset from the packaged ``domains.json``."""
    text = resources.files("custom_networks.data").joinpath("domains.json").read_text()
    raw = json.loads(text)
    return {
        name: DomainPreset(name=name, **{**cfg, "hr_spacing": tuple(cfg["hr_spacing"])}) for name, cfg in raw.items()
    }


def list_domains() -> dict[str, str]:
    """Preset names with their one-line descriptions."""
    return {name: preset.description for name, preset in load_domains().items()}


def get_domain(name: str) -> DomainPreset:
    """Look up a preset by name.

    Raises:
        ValueError: when ``name`` is not a known preset (the message lists the known ones).
    """
    presets = load_domains()
    if name not in presets:
        raise ValueError(f"unknown domain '{name}'; known domains: {', '.join(sorted(presets))}")
    return presets[name]
