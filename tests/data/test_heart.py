from __future__ import annotations

import numpy as np
import pytest

from custom_networks.data.heart import EF_RANGE, lv_volumes_ml, rv_volume_ml, sample_heart_params


@pytest.mark.parametrize("seed", range(5))
def test_end_systole_preserves_myocardium_and_hits_ejection_fraction(seed):
    params = sample_heart_params(np.random.default_rng(seed), (160.0, 160.0, 128.0))
    edv, ed_epi = lv_volumes_ml(params.ed)
    esv, es_epi = lv_volumes_ml(params.es)
    assert ed_epi - edv == pytest.approx(es_epi - esv, rel=1e-3)
    assert 1 - esv / edv == pytest.approx(params.ef_target, abs=1e-6)
    assert EF_RANGE[0] <= params.ef_target <= EF_RANGE[1]
    # The wall thickens and the long axis shortens in systole.
    assert params.es.wall_free > params.ed.wall_free
    assert params.es.lv_length < params.ed.lv_length
    assert rv_volume_ml(params.es) < 0.6 * rv_volume_ml(params.ed)


def test_wall_thickness_in_documented_range():
    for seed in range(20):
        ed = sample_heart_params(np.random.default_rng(seed), (160.0, 160.0, 128.0)).ed
        assert 6.0 <= ed.wall_free <= ed.wall_septum <= 12.0


def test_volume_formula_matches_known_ellipsoid():
    """With profile power 2 the cavity is half an ellipsoid: V = 2/3 pi a b L."""
    from custom_networks.data.heart import HeartShape

    shape = HeartShape(20.0, 15.0, 60.0, 2.0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert lv_volumes_ml(shape, n=4000)[0] == pytest.approx(2 / 3 * np.pi * 20 * 15 * 60 / 1000, rel=1e-3)
