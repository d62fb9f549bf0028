"""Label-driven deformable refinement (``register_labels_deformable``): overlap, locality, warp convention, errors."""

from __future__ import annotations

import numpy as np
import pytest

from custom_networks.data import generate_subject, get_domain
from custom_networks.registration import DeformableResult, label_dice, register_labels_deformable

pytestmark = pytest.mark.filterwarnings("ignore:builtin type .* has no __module__ attribute:DeprecationWarning")


@pytest.fixture(scope="module")
def ed_es():
    """ED and ES label maps of one generated subject on its HR grid, cropped around the heart with a wide margin
    (the ES heart is the ED heart contracted: a real, non-rigid change of shape)."""
    subject = generate_subject([11, 2], get_domain("source"))
    ed, es = subject.phases["ED"].hr_label, subject.phases["ES"].hr_label
    idx = np.argwhere((ed > 0) | (es > 0))
    lo = np.maximum(idx.min(axis=0) - (20, 20, 8), 0)
    hi = np.minimum(idx.max(axis=0) + (21, 21, 9), ed.shape)
    crop = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    spacing = np.sqrt((subject.hr_affine[:3, :3] ** 2).sum(axis=0))
    return ed[crop].astype(np.uint8), es[crop].astype(np.uint8), spacing


@pytest.fixture(scope="module")
def result(ed_es) -> DeformableResult:
    ed, es, spacing = ed_es
    return register_labels_deformable(ed, es, spacing, margin_mm=10.0)


def test_warp_matches_the_fixed_heart(ed_es, result):
    ed, es, _ = ed_es
    assert result.dice_before == pytest.approx(label_dice(ed, es))
    assert result.dice_before < 0.85  # a real change of shape to recover
    warped = result.warp(es, label=True)
    assert warped.dtype == np.uint8 and set(np.unique(warped)) <= {0, 1, 2, 3}
    assert result.dice_after == pytest.approx(label_dice(ed, warped))
    assert result.improved and result.dice_after > 0.9 and result.dice_after > result.dice_before + 0.08
    for c in (1, 2, 3):  # every class, not only the mean
        d = 2 * np.sum((ed == c) & (warped == c)) / (np.sum(ed == c) + np.sum(warped == c))
        assert d > 0.85, (c, d)
    summary = result.to_dict()
    assert summary["improved"] and 1.0 < summary["max_displacement_mm"] < 30.0


def test_field_is_local_and_follows_the_warp_convention(ed_es, result):
    ed, es, spacing = ed_es
    # the field vanishes outside the heart region's margin (the rigid alignment is kept there)
    heart = np.argwhere((ed > 0) | (es > 0))
    margin = np.ceil(10.0 / spacing).astype(int)
    outside = np.ones(ed.shape, bool)
    box = tuple(slice(max(a - m, 0), b + m + 1) for a, b, m in zip(heart.min(0), heart.max(0), margin, strict=True))
    outside[box] = False
    if outside.any():
        assert np.abs(result.displacement[outside]).max() == 0.0
    # a linear ramp along x warped by the field: value at v is x + dx / spacing_x (fixed v samples moving v + d)
    ramp = np.broadcast_to(np.arange(ed.shape[0], dtype=np.float32)[:, None, None], ed.shape).copy()
    warped = result.warp(ramp)
    inner = tuple(slice(4, n - 4) for n in ed.shape)
    expected = ramp + result.displacement[..., 0] / spacing[0]
    np.testing.assert_allclose(warped[inner], expected[inner], atol=1e-3)


def test_bad_inputs(ed_es):
    ed, es, spacing = ed_es
    with pytest.raises(ValueError, match="3D on one grid"):
        register_labels_deformable(ed, es[:-1], spacing)
    with pytest.raises(ValueError, match="need a heart label"):
        register_labels_deformable(ed, np.zeros_like(es), spacing)
    ok = DeformableResult(np.zeros((*ed.shape, 3), np.float32), spacing, 0.5, 0.5, 0.0)
    assert not ok.improved  # no gain: the caller keeps the rigid alignment
    with pytest.raises(ValueError, match="registration grid"):
        ok.warp(es[:-1])
