"""The realism benchmark's statistics (``benchmarks/anatomy_realism.py``): volumes, wall thickness and intensities of
a stack of known shape."""

from __future__ import annotations

import importlib.util
import math
import sys

import numpy as np
import pytest
from conftest import REPO


def _benchmark():
    spec = importlib.util.spec_from_file_location("anatomy_realism", REPO / "benchmarks" / "anatomy_realism.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["anatomy_realism"] = module
    spec.loader.exec_module(module)
    return module


def _rings(shape=(160, 160, 8), spacing=(1.0, 1.0, 10.0), r_lv=20.0, r_epi=28.0):
    """Concentric LV blood pool and myocardium on 6 of 8 slices, an RV disc beside; known areas and thickness."""
    x, y = np.meshgrid(np.arange(shape[0]) * spacing[0], np.arange(shape[1]) * spacing[1], indexing="ij")
    r = np.hypot(x - 80.0, y - 80.0)
    label = np.zeros(shape, np.uint8)
    image = np.full(shape, 50.0, np.float32)
    for k in range(1, 7):
        label[..., k][r <= r_epi] = 2
        label[..., k][r <= r_lv] = 1
        label[..., k][np.hypot(x - 80.0, y - 125.0) <= 12.0] = 3
    image[label == 1], image[label == 2], image[label == 3] = 400.0, 100.0, 380.0
    return image, label, np.diag([*spacing, 1.0])


def test_volumes_thickness_and_intensities_of_a_known_stack():
    stats = _benchmark().stack_statistics(*_rings())
    assert stats["lv_ml"] == pytest.approx(6 * math.pi * 20.0**2 * 10 / 1000, rel=0.03)
    assert stats["wall_mm"] == pytest.approx(8.0, abs=0.3)
    assert stats["lv_rv_ratio"] == pytest.approx(20.0**2 / 12.0**2, rel=0.05)
    assert stats["int_lv"] > stats["int_rv"] > stats["int_ring"]
    assert stats["fov_mm"] == pytest.approx(160.0)


def test_unlabelled_classes_and_slices_are_left_out():
    image, label, affine = _rings()
    slices = np.zeros(8, bool)
    slices[2:4] = True
    stats = _benchmark().stack_statistics(image, label, affine, classes=(1,), slices=slices)
    assert stats["lv_ml"] == pytest.approx(2 * math.pi * 20.0**2 * 10 / 1000, rel=0.03)
    assert math.isnan(stats["rv_ml"]) and math.isnan(stats["wall_mm"]) and math.isnan(stats["int_rv"])
