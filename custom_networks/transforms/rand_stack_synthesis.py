"""On-the-fly randomised synthesis of a short-axis stack from a tissue map (SynthSeg-style domain randomisation).

For every training sample the contrast and the acquisition are drawn anew, so that the network cannot rely on any
absolute intensity or on one protocol (after Billot et al., SynthSeg, Medical Image Analysis 86, 2023):

- **Contrast**: every tissue class of the synthetic thorax (``custom_networks.data.tissues.Tissue``) gets a mean
  intensity drawn uniformly in ``intensity`` (air in ``air_intensity``), with voxel-wise Gaussian texture of relative
  standard deviation in ``intensity_std``, smoothed by ``texture_sigma_vox``; each non-cardiac tissue is first split
  into 1 to ``background_splits`` regions by a smooth random field (so the background holds many classes of its
  own). The blood pools (LV, RV, atria and vessels) share one drawn brightness up to ``blood_tie``: blood looks alike
  in one cine, whatever the sequence. Papillary muscles and trabeculae (detailed anatomy) take the myocardium's draw.
- **Bias and gamma**: a smooth multiplicative bias field (Legendre coefficients up to ``bias_coeff``) and a gamma
  ``exp(N(0, gamma_std))``, the same for the HR image and the stack (one draw, one contrast).
- **Acquisition**: in-plane voxel in ``inplane_spacing``, slice thickness in ``slice_thickness`` (Gaussian slice
  profile), slice spacing in ``slice_spacing`` (gaps and overlaps), breath-hold shifts up to a largest shift drawn in
  ``max_shift_mm``, Rician or Gaussian noise of relative level in ``noise``.

Outputs, all on the tissue map's HR grid and affine (so the usual spatial transforms that follow keep them aligned):
``image`` (the stack interpolated onto the HR grid, the network input), ``hr_image`` (the HR image of the same draw,
the super-resolution target) and ``label`` (the cardiac classes). The drawn values are in the outputs' metadata
(``synthesis``: the seed, the mean of every tissue region, the protocol, noise, gamma, and ``scale``, the
intensity that became 1 before the gamma).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform, Randomizable
from scipy import ndimage

from custom_networks.core.errors import InputError
from custom_networks.data.acquisition import StackProtocol, acquire_image, sample_slice_shifts, stack_to_hr
from custom_networks.data.appearance import add_rician_noise, bias_field, gaussian_psf
from custom_networks.data.tissues import RENDERED_AS, Tissue, tissue_to_label

__all__ = ["RandStackSynthesisd", "SynthesisRanges"]

_BLOOD = (Tissue.LV_BLOOD, Tissue.RV_BLOOD, Tissue.OTHER_BLOOD)
_SPLIT = (
    Tissue.LUNG,
    Tissue.FAT,
    Tissue.MUSCLE,
    Tissue.LIVER,
    Tissue.SOFT,
    Tissue.BONE,
    Tissue.STOMACH,
    Tissue.SPLEEN,
)
#: Sub-region ids of split tissues start here (tissue t, region r -> _SUB + t * 8 + r).
_SUB = 32
assert _SUB > max(Tissue)


@dataclass(frozen=True)
class SynthesisRanges:
    """Ranges ``(min, max)`` the randomised synthesis draws from (uniformly unless stated).

    Args:
        intensity: mean intensity of a tissue (image units; 1 is bright).
        air_intensity: mean intensity of air.
        intensity_std: voxel-wise texture, standard deviation relative to 1.
        texture_sigma_vox: smoothing of the texture (HR voxels).
        blood_tie: brightness of the RV, atria and vessels relative to the LV blood pool.
        background_splits: number of regions each non-cardiac tissue is split into (integers).
        bias_coeff: largest Legendre coefficient of the bias field.
        gamma_std: standard deviation of ``log(gamma)`` (one number).
        inplane_spacing: in-plane voxel size of the stack (mm).
        slice_thickness: slice thickness, FWHM of the slice profile (mm).
        slice_spacing: distance between slice centres (mm).
        max_shift_mm: largest breath-hold shift of a slice (mm).
        noise: noise standard deviation relative to the stack's 99th percentile.
        hr_noise: noise of the HR image, relative likewise.
        partial_volume_mm: FWHM of the HR image's point-spread function (one number, mm).
    """

    intensity: tuple[float, float] = (0.0, 1.0)
    air_intensity: tuple[float, float] = (0.0, 0.1)
    intensity_std: tuple[float, float] = (0.0, 0.08)
    texture_sigma_vox: tuple[float, float] = (0.0, 1.0)
    blood_tie: tuple[float, float] = (0.85, 1.15)
    background_splits: tuple[int, int] = (1, 3)
    bias_coeff: tuple[float, float] = (0.0, 0.5)
    gamma_std: float = 0.3
    inplane_spacing: tuple[float, float] = (0.7, 2.5)
    slice_thickness: tuple[float, float] = (5.0, 12.0)
    slice_spacing: tuple[float, float] = (5.0, 15.0)
    max_shift_mm: tuple[float, float] = (0.0, 5.0)
    noise: tuple[float, float] = (0.0, 0.05)
    hr_noise: tuple[float, float] = (0.0, 0.01)
    partial_volume_mm: float = 1.0

    #: Keys whose values must be > 0 (geometry); every other value must be >= 0.
    _POSITIVE = ("inplane_spacing", "slice_thickness", "slice_spacing")

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                values = (value,)
            else:
                try:
                    values = tuple(float(v) for v in value)
                except (TypeError, ValueError):
                    raise InputError(f"synthesis range {f.name}: expected (min, max), got {value!r}") from None
                if len(values) != 2:
                    raise InputError(f"synthesis range {f.name}: expected (min, max), got {value!r}")
                if values[0] > values[1]:
                    raise InputError(f"synthesis range {f.name}: min {values[0]:g} > max {values[1]:g}")
                object.__setattr__(self, f.name, values)
            if not all(math.isfinite(v) for v in values):
                raise InputError(f"synthesis range {f.name}: not finite ({value!r})")
            low = min(values)
            if f.name in self._POSITIVE and low <= 0:
                raise InputError(f"synthesis range {f.name}: must be > 0 mm, got {low:g}")
            if low < 0:
                raise InputError(f"synthesis range {f.name}: must be >= 0, got {low:g}")
        if self.background_splits[0] < 1 or any(v != int(v) for v in self.background_splits):
            raise InputError(f"synthesis range background_splits: integers >= 1, got {self.background_splits}")
        if max(self.inplane_spacing) > 5.0 or max(self.slice_spacing) > 30.0:
            raise InputError("synthesis range inplane_spacing / slice_spacing: beyond 5 mm in-plane / 30 mm slices")

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1])) if bounds[1] > bounds[0] else float(bounds[0])


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], cell: int = 16) -> np.ndarray:
    """A smooth random field (Gaussian noise on a coarse grid, interpolated up)."""
    coarse = rng.normal(size=tuple(max(2, n // cell + 2) for n in shape))
    zoom = [n / c for n, c in zip(shape, coarse.shape, strict=True)]
    return ndimage.zoom(coarse, zoom, order=1, mode="nearest")[tuple(slice(0, n) for n in shape)]


class RandStackSynthesisd(Randomizable, MapTransform):
    """Render ``image``, ``hr_image`` and ``label`` from a tissue map with a freshly drawn contrast and acquisition.

    Args:
        keys: the tissue map key (one; a channel-first ``MetaTensor`` ``(1, X, Y, Z)`` on the HR grid).
        ranges: :class:`SynthesisRanges`, or a dict of its fields (the others keep their defaults).
        image_key: output key of the network input (the stack on the HR grid).
        hr_key: output key of the HR image.
        label_key: output key of the cardiac label map.
        allow_missing_keys: do not fail when the key is absent.
    """

    def __init__(
        self,
        keys: Hashable = "tissue",
        ranges: SynthesisRanges | Mapping | None = None,
        image_key: str = "image",
        hr_key: str = "hr_image",
        label_key: str = "label",
        allow_missing_keys: bool = False,
    ):
        MapTransform.__init__(self, keys, allow_missing_keys)
        if len(self.keys) != 1:
            raise ValueError(f"RandStackSynthesisd renders one tissue map, got keys {self.keys}")
        if ranges is None:
            ranges = SynthesisRanges()
        elif isinstance(ranges, Mapping):
            unknown = sorted(set(ranges) - {f.name for f in fields(SynthesisRanges)})
            if unknown:
                raise InputError(f"synthesis range {unknown[0]}: unknown key")
            ranges = SynthesisRanges(**ranges)
        self.ranges = ranges
        self.image_key, self.hr_key, self.label_key = image_key, hr_key, label_key
        self._seed = 0

    def randomize(self, data=None) -> None:
        """Draw the seed of the next sample's synthesis."""
        self._seed = int(self.R.randint(0, 2**31 - 1))

    def _contrast(self, rng: np.random.Generator, tissue: np.ndarray) -> tuple[np.ndarray, dict]:
        """The noise-free object of one contrast draw, and the drawn mean per tissue (region)."""
        r = self.ranges
        regions = tissue.astype(np.int32)
        for t, like in RENDERED_AS.items():  # the cavities' muscle is myocardium: one intensity
            regions[tissue == t] = like
        for t in _SPLIT:
            k = int(rng.integers(int(r.background_splits[0]), int(r.background_splits[1]) + 1))
            mask = tissue == t
            if k > 1 and mask.any():
                field = _smooth_field(rng, tissue.shape)
                cuts = np.quantile(field[mask], np.linspace(0, 1, k + 1)[1:-1])
                regions[mask] = _SUB + int(t) * 8 + np.digitize(field[mask], cuts)
        ids = np.unique(regions)
        lut_mean = np.zeros(int(ids.max()) + 1, np.float32)
        lut_std = np.zeros_like(lut_mean)
        blood = _uniform(rng, r.intensity)
        means = {}
        for i in ids.tolist():
            t = i if i < _SUB else (i - _SUB) // 8
            if t == Tissue.AIR:
                mean = _uniform(rng, r.air_intensity)
            elif t == Tissue.LV_BLOOD:
                mean = blood
            elif t in _BLOOD:
                mean = blood * _uniform(rng, r.blood_tie)
            else:
                mean = _uniform(rng, r.intensity)
            lut_mean[i], lut_std[i] = mean, _uniform(rng, r.intensity_std)
            name = Tissue(t).key if i < _SUB else f"{Tissue(t).key}_{(i - _SUB) % 8}"
            means[name] = round(mean, 6)
        texture = rng.normal(size=tissue.shape).astype(np.float32)
        sigma = _uniform(rng, r.texture_sigma_vox)
        if sigma > 0:
            texture = ndimage.gaussian_filter(texture, sigma)
            texture /= max(float(texture.std()), 1e-6)
        obj = np.clip(lut_mean[regions] + lut_std[regions] * texture, 0.0, None)
        return obj.astype(np.float32), means

    def __call__(self, data: Mapping) -> dict:
        """Render the outputs for a new draw."""
        d = dict(data)
        self.randomize()
        for key in self.key_iterator(d):
            tissue_t = d[key]
            affine = np.asarray(tissue_t.affine, dtype=float)
            tissue = np.rint(np.asarray(tissue_t.detach().cpu())[0]).astype(np.int64)
            d.update(self.render(tissue, affine, meta=dict(tissue_t.meta)))
        return d

    def render(self, tissue: np.ndarray, affine: np.ndarray, meta: dict | None = None) -> dict:
        """The outputs of the current draw for a tissue map ``(X, Y, Z)`` with its affine (the HR grid)."""
        r = self.ranges
        rng = np.random.default_rng(self._seed)
        obj, means = self._contrast(rng, tissue)
        obj *= bias_field(tissue.shape, _uniform(rng, r.bias_coeff), int(rng.integers(2**31 - 1)))
        spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
        protocol = StackProtocol(
            inplane_spacing=_uniform(rng, r.inplane_spacing),
            slice_thickness=_uniform(rng, r.slice_thickness),
            slice_spacing=_uniform(rng, r.slice_spacing),
            max_shift_mm=_uniform(rng, r.max_shift_mm),
            allow_overlap=True,
        )
        n_slices = max(1, int(round(tissue.shape[2] * spacing[2] / protocol.slice_spacing)))
        shifts = sample_slice_shifts(rng, n_slices, protocol.max_shift_mm)
        lr, lr_affine, _ = acquire_image(obj, affine, protocol, shifts)
        hr = gaussian_psf(obj, (r.partial_volume_mm,) * 3, spacing)
        scale = max(float(np.percentile(hr, 99.5)), 1e-6)
        noise, hr_noise = _uniform(rng, r.noise), _uniform(rng, r.hr_noise)
        rician = bool(rng.random() < 0.5)
        seeds = rng.integers(0, 2**31 - 1, size=2).tolist()
        if rician:
            lr = add_rician_noise(lr, noise * scale, seeds[0])
        else:
            lr = lr + np.random.default_rng(seeds[0]).normal(0.0, noise * scale, lr.shape).astype(np.float32)
        hr = add_rician_noise(hr, hr_noise * scale, seeds[1])
        gamma = float(np.exp(rng.normal(0.0, r.gamma_std))) if r.gamma_std > 0 else 1.0
        image = stack_to_hr(lr, lr_affine, tissue.shape, affine, order=1)
        image, hr = (np.clip(x / scale, 0.0, None) ** gamma for x in (image, hr))
        record = {
            "seed": self._seed,
            "intensities": means,
            "protocol": protocol.to_dict(),
            "noise": round(noise, 6),
            "noise_type": "rician" if rician else "gaussian",
            "gamma": round(gamma, 6),
            "scale": scale,
        }
        meta = {k: v for k, v in (meta or {}).items() if k != "affine"}
        meta["synthesis"] = record

        def tensor(array: np.ndarray) -> MetaTensor:
            data = torch.as_tensor(array[None].astype(np.float32))
            return MetaTensor(data, affine=torch.as_tensor(affine), meta=dict(meta))

        return {
            self.image_key: tensor(image),
            self.hr_key: tensor(hr),
            self.label_key: tensor(tissue_to_label(tissue)),
        }
