"""Tests of the replay buffer of generated images (``ImagePool``)."""

from __future__ import annotations

import pytest
import torch

from custom_networks.nets import ImagePool

torch.set_num_threads(1)


def _batch(start: int, size: int) -> torch.Tensor:
    """Images whose constant value identifies them: image ``i`` is filled with ``i``."""
    return torch.arange(start, start + size, dtype=torch.float32).view(size, 1, 1, 1, 1).expand(size, 1, 4, 4, 2)


def _ids(images: torch.Tensor) -> list[int]:
    return [int(v) for v in images.flatten(1)[:, 0]]


def test_pool_fills_then_returns_inputs_unchanged():
    pool = ImagePool(pool_size=5, prob=1.0)
    out = pool.query(_batch(0, 3))
    assert _ids(out) == [0, 1, 2] and len(pool) == 3
    out = pool.query(_batch(3, 2))
    assert _ids(out) == [3, 4] and len(pool) == 5
    assert out.shape == (2, 1, 4, 4, 2) and not out.requires_grad


def test_full_pool_with_prob_one_returns_past_images_and_stores_new_ones():
    pool = ImagePool(pool_size=4, prob=1.0, generator=torch.Generator().manual_seed(0))
    pool.query(_batch(0, 4))
    for new in range(10, 20):
        before = _ids(torch.cat(pool.images))
        out = pool.query(_batch(new, 1))
        after = _ids(torch.cat(pool.images))
        (returned,) = _ids(out)
        assert returned in before  # a past image comes back
        assert sorted(after) == sorted([*(i for i in before if i != returned), new])  # the new one took its place
    out = pool.query(_batch(30, 3))
    assert out.shape == (3, 1, 4, 4, 2) and 30 not in _ids(out)


def test_full_pool_with_prob_zero_returns_inputs_and_keeps_pool():
    pool = ImagePool(pool_size=3, prob=0.0)
    pool.query(_batch(0, 3))
    out = pool.query(_batch(7, 2))
    assert _ids(out) == [7, 8] and sorted(_ids(torch.cat(pool.images))) == [0, 1, 2]


def test_swap_probability_matches_configuration():
    pool = ImagePool(pool_size=50, prob=0.5, generator=torch.Generator().manual_seed(1))
    pool.query(_batch(0, 50))
    new = _batch(1000, 2000)
    swapped = sum(_ids(pool.query(new[i : i + 1])) != [1000 + i] for i in range(2000))
    assert 0.45 < swapped / 2000 < 0.55
    assert len(pool) == 50


def test_pool_detaches_clones_and_can_be_disabled():
    x = torch.rand(2, 1, 4, 4, 2, requires_grad=True)
    disabled = ImagePool(pool_size=0)
    out = disabled.query(x)
    assert len(disabled) == 0 and not out.requires_grad and torch.equal(out, x.detach())
    pool = ImagePool(pool_size=2)
    pool.query(x)
    with torch.no_grad():
        x.add_(1.0)
    assert not torch.equal(pool.images[0][0], x[0].detach())  # stored copies are independent of the input
    pool.reset()
    assert len(pool) == 0


@pytest.mark.parametrize("kwargs", [{"pool_size": -1}, {"prob": 1.5}, {"prob": -0.1}])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        ImagePool(**kwargs)
