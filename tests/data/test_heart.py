from __future__ import annotations

import numpy as np
import pytest

from custom_networks.data.heart import EF_RANGE, PHENOTYPES, lv_volumes_ml, rv_volume_ml, sample_heart_params


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


@pytest.mark.parametrize("name", sorted(PHENOTYPES))
def test_phenotypes_draw_inside_their_ranges(name):
    kind = PHENOTYPES[name]
    for seed in range(3):
        params = sample_heart_params(np.random.default_rng(seed), (360.0, 360.0, 300.0), name)
        assert params.phenotype == name
        edv, ed_epi = lv_volumes_ml(params.ed)
        esv, _ = lv_volumes_ml(params.es)
        assert kind.edv_ml[0] - 1 <= edv <= kind.edv_ml[1] + 1  # the grid is large enough: no size clamp
        assert kind.ef[0] <= 1 - esv / edv <= kind.ef[1]
        assert kind.wall_free[0] <= params.ed.wall_free <= kind.wall_free[1]
        assert params.ed.wall_septum <= kind.max_septum
        ratio = rv_volume_ml(params.ed) / edv
        assert kind.rv_ratio[0] * 0.95 <= ratio <= kind.rv_ratio[1] * 1.05


def test_phenotypes_differ_as_the_acdc_groups_do():
    def mean_of(name, fn):
        draws = [sample_heart_params(np.random.default_rng(s), (360.0, 360.0, 300.0), name) for s in range(4)]
        return float(np.mean([fn(p) for p in draws]))

    def lvef(p):
        return 1 - lv_volumes_ml(p.es)[0] / lv_volumes_ml(p.ed)[0]

    assert mean_of("dilated", lambda p: lv_volumes_ml(p.ed)[0]) > 1.4 * mean_of(
        "normal", lambda p: lv_volumes_ml(p.ed)[0]
    )
    assert mean_of("dilated", lvef) < 0.4 < 0.5 < mean_of("normal", lvef)
    assert mean_of("hypertrophic", lambda p: p.ed.wall_septum) > 1.4 * mean_of("normal", lambda p: p.ed.wall_septum)
    assert mean_of("dilated_rv", lambda p: rv_volume_ml(p.ed)) > 1.3 * mean_of("normal", lambda p: rv_volume_ml(p.ed))


def test_infarct_thins_an_akinetic_sector_of_the_wall():
    from custom_networks.data.heart import _wall

    params = sample_heart_params(np.random.default_rng(2), (360.0, 360.0, 300.0), "infarct")
    ed, es = params.ed, params.es
    assert ed.infarct_width > 0
    centre = np.array([ed.infarct_angle])
    opposite = np.array([ed.infarct_angle + np.pi])
    assert _wall(centre, ed)[0] == pytest.approx(ed.infarct_wall)
    assert _wall(centre, es)[0] == pytest.approx(ed.infarct_wall)  # the scar does not thicken in systole
    assert _wall(opposite, es)[0] > _wall(opposite, ed)[0] > 2 * ed.infarct_wall  # healthy wall thickens


def test_normal_phenotype_draws_what_earlier_versions_drew():
    """Seeds of the basic anatomy keep their hearts: ``phenotype="normal"`` reads no extra random numbers."""
    a = np.random.default_rng(7)
    b = np.random.default_rng(7)
    plain, normal = (
        sample_heart_params(a, (160.0, 160.0, 128.0)),
        sample_heart_params(b, (160.0, 160.0, 128.0), "normal"),
    )
    assert plain == normal and a.random() == b.random()
    assert normal.ed.infarct_width == 0


def test_unknown_phenotype_is_refused():
    with pytest.raises(ValueError, match="phenotype"):
        sample_heart_params(np.random.default_rng(0), (160.0, 160.0, 128.0), "athlete")
