from __future__ import annotations

import numpy as np
import pytest

from custom_networks.metrics import clinical_indices, ejection_fraction, label_volumes_ml


def test_volumes_mass_and_ef_from_known_boxes():
    ed = np.zeros((20, 20, 10), np.uint8)
    ed[0:10, 0:10, 0:10] = 1  # 1000 voxels
    ed[10:15, 0:10, 0:10] = 2  # 500 voxels
    ed[15:20, 0:4, 0:10] = 3  # 200 voxels
    es = np.zeros_like(ed)
    es[0:4, 0:10, 0:10] = 1  # 400 voxels
    es[15:20, 0:2, 0:10] = 3  # 100 voxels
    spacing = (1.0, 2.0, 0.5)  # 1 mm^3 voxels
    assert label_volumes_ml(ed, spacing) == {1: 1.0, 2: 0.5, 3: 0.2}
    idx = clinical_indices(ed, spacing, es)
    assert idx["LVM_g"] == pytest.approx(0.525)
    assert idx["LVEF"] == pytest.approx(0.6)
    assert idx["RVEF"] == pytest.approx(0.5)
    assert np.isnan(ejection_fraction(0.0, 0.0))
