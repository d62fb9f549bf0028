"""bSSFP-like appearance: per-subject tissue intensities, smooth bias field, partial-volume blur, Rician noise.

Noise and bias come from MONAI's ``RandRicianNoise`` and ``RandBiasField`` with their random state seeded from
the subject's generator, so a subject is reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from monai.transforms import RandBiasField, RandRicianNoise
from scipy import ndimage

from custom_networks.data.domains import DomainPreset
from custom_networks.data.tissues import BASIC_TISSUES, RENDERED_AS, Tissue

__all__ = ["add_rician_noise", "bias_field", "draw_intensities", "gaussian_psf", "render_object"]


def draw_intensities(
    rng: np.random.Generator,
    domain: DomainPreset,
    randomize: bool = False,
    tissues: Sequence[Tissue] = BASIC_TISSUES,
) -> dict[str, float]:
    """Per-subject relative intensity of tissue classes.

    Args:
        rng: random generator.
        domain: preset giving the mean intensities and their relative jitter.
        randomize: domain randomisation: draw every tissue uniformly in [0.02, 1] instead (air stays 0).
        tissues: the classes to draw (those in ``RENDERED_AS`` take another class's intensity and are skipped).
    """
    out = {}
    for tissue in tissues:
        if tissue in RENDERED_AS:
            continue
        if tissue == Tissue.AIR:
            out[tissue.key] = 0.0
        elif randomize:
            out[tissue.key] = float(rng.uniform(0.02, 1.0))
        else:
            mean = domain.intensities[tissue.key]
            out[tissue.key] = float(max(mean * (1.0 + domain.intensity_jitter * rng.normal()), 0.0))
    return out


def render_object(tissue: np.ndarray, intensities: dict[str, float], scale: float) -> np.ndarray:
    """Noise-free object: every voxel gets its tissue's intensity (``scale`` = stored value of intensity 1).

    Raises:
        ValueError: the map holds a class without an intensity.
    """
    lut = np.zeros(max(Tissue) + 1, dtype=np.float32)
    known = np.zeros(max(Tissue) + 1, dtype=bool)
    for t in Tissue:
        key = RENDERED_AS.get(t, t).key
        if key in intensities:
            lut[t], known[t] = intensities[key] * scale, True
    present = np.bincount(np.asarray(tissue).ravel(), minlength=lut.size) > 0
    if (present & ~known).any():
        names = [Tissue(t).key for t in np.flatnonzero(present & ~known)]
        raise ValueError(f"no intensity for tissue classes {names}")
    return lut[tissue]


def bias_field(shape: Sequence[int], coeff: float, seed: int) -> np.ndarray:
    """Smooth multiplicative coil-sensitivity field (median 1) from MONAI's ``RandBiasField``.

    Args:
        shape: spatial shape.
        coeff: Legendre coefficients are drawn in ``[-coeff, coeff]`` (0 gives a flat field).
        seed: random seed.
    """
    if coeff <= 0:
        return np.ones(tuple(shape), dtype=np.float32)
    transform = RandBiasField(degree=3, coeff_range=(-coeff, coeff), prob=1.0)
    transform.set_random_state(seed=seed)
    field = np.asarray(transform(np.ones((1, *shape), dtype=np.float32)))[0]
    return (field / np.median(field)).astype(np.float32)


def gaussian_psf(image: np.ndarray, fwhm_mm: Sequence[float], spacing: Sequence[float]) -> np.ndarray:
    """Blur with a separable Gaussian point-spread function given by its FWHM (mm) per axis."""
    sigma = [f / 2.3548 / s for f, s in zip(fwhm_mm, spacing, strict=True)]
    if max(sigma) <= 0:
        return image.astype(np.float32, copy=False)
    return ndimage.gaussian_filter(image.astype(np.float32, copy=False), sigma=sigma, mode="nearest", truncate=3.0)


def add_rician_noise(image: np.ndarray, std: float, seed: int) -> np.ndarray:
    """Magnitude-image (Rician) noise of standard deviation ``std`` (image units), via MONAI."""
    if std <= 0:
        return image.astype(np.float32, copy=False)
    transform = RandRicianNoise(prob=1.0, mean=0.0, std=float(std), relative=False, sample_std=False)
    transform.set_random_state(seed=seed)
    return np.asarray(transform(image[None].astype(np.float32)))[0]
