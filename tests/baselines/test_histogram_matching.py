"""Histogram-matching baseline of the domain-adaptation comparison."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from custom_networks.baselines import HistogramMatching, interp_monotone


def test_interp_monotone_matches_numpy_with_ties_and_extrapolation():
    g = np.random.default_rng(0)
    xp = np.sort(np.concatenate([g.random(20), [0.5, 0.5, 0.5]]))
    fp = np.sort(g.random(xp.size))
    x = np.linspace(-0.2, 1.2, 301)
    ours = interp_monotone(torch.tensor(x), torch.tensor(xp), torch.tensor(fp)).numpy()
    away_from_tie = np.abs(x - 0.5) > 1e-9  # numpy and searchsorted may pick either side exactly at a tie
    np.testing.assert_allclose(ours[away_from_tie], np.interp(x, xp, fp)[away_from_tie], atol=1e-12)


def _phantom(seed: int) -> torch.Tensor:
    """A (1, 32, 32, 16) volume: background 0, three 'tissues' with noise, in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    img = torch.zeros(1, 32, 32, 16)
    img[:, 4:28, 4:28, 2:14] = 0.3
    img[:, 8:20, 8:20, 4:12] = 0.9
    img[:, 20:26, 6:26, 4:12] = 0.55
    fg = img > 0
    img[fg] += 0.03 * torch.randn(int(fg.sum()), generator=g)
    return img.clamp(0.01, 1.0) * fg


def test_histogram_matching_undoes_a_monotone_intensity_change():
    source = [_phantom(s) for s in range(3)]
    target = _phantom(7)
    fg = target > 0
    shifted = torch.where(fg, 0.1 + 0.5 * target.square(), target)  # another scanner: darker, compressed contrast
    model = HistogramMatching().fit(source)
    out = model(shifted[None])[0]
    assert out.shape == shifted.shape
    assert torch.equal(out[~fg], shifted[~fg])  # background untouched
    error_before = (shifted - target)[fg].abs().mean()
    error_after = (out - target)[fg].abs().mean()
    assert error_before > 0.15
    assert error_after < 0.02
    # monotone: the voxel order is kept
    order = torch.argsort(shifted[fg])
    assert bool((out[fg][order].diff() >= -1e-6).all())


def test_histogram_matching_state_dict_round_trip_and_errors():
    model = HistogramMatching(num_quantiles=11)
    with pytest.raises(RuntimeError, match="no reference"):
        model(_phantom(0)[None])
    model.fit([_phantom(0)])
    loaded = HistogramMatching(num_quantiles=11)
    loaded.load_state_dict(model.state_dict())
    x = _phantom(3)[None]
    assert torch.equal(loaded(x), model(x))
    with pytest.raises(ValueError, match="foreground"):
        HistogramMatching().fit([torch.zeros(1, 8, 8, 8)])
    with pytest.raises(ValueError, match="at least one"):
        HistogramMatching().fit([])
    with pytest.raises(ValueError, match="at least 2"):
        HistogramMatching(num_quantiles=1)


def test_empty_foreground_is_left_alone_and_large_volumes_are_indexed_exactly():
    model = HistogramMatching(num_quantiles=11).fit([_phantom(0)])
    zeros = torch.zeros(2, 1, 8, 8, 4)
    assert torch.equal(model(zeros), zeros)  # e.g. an all-zero window: nothing to match, no error
    # above 2**24 voxels float32 positions round past the last voxel
    g = torch.Generator().manual_seed(0)
    big = torch.rand(2**24 + 4, generator=g, dtype=torch.float32) + 0.01
    from custom_networks.baselines.histogram_matching import _foreground_quantiles

    got = _foreground_quantiles(big, model.levels, 0.0)
    np.testing.assert_allclose(
        got.numpy(), np.quantile(big.numpy().astype(np.float64), model.levels.numpy()), atol=1e-6
    )
