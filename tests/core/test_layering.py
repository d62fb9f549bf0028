"""``custom_networks.core`` is the floor: it imports nothing else of the project, and the old import paths of what
moved there still work (configs and user code that import them keep running)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CORE = Path(__file__).resolve().parents[2] / "custom_networks" / "core"


def test_core_imports_nothing_else_of_the_project():
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            modules += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for module in modules:
                assert not module.startswith("custom_networks") or module.startswith("custom_networks.core"), (
                    f"{path.name} imports {module}"
                )
    code = "import custom_networks.core, sys; print(sorted(m for m in sys.modules if m.startswith('custom_networks')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert all(
        name.startswith("'custom_networks.core") or name == "'custom_networks'"
        for name in loaded.strip("[]\n").split(", ")
    )


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ("custom_networks.utils.nifti", "custom_networks.core.nifti", ["InputError", "load_nifti", "save_nifti"]),
        ("custom_networks.utils.dicom", "custom_networks.core.dicom", ["read_dicom_series", "is_dicom_folder"]),
        ("custom_networks.utils.cine_source", "custom_networks.core.cine_source", ["open_cine"]),
        ("custom_networks.data.geometry", "custom_networks.core.geometry", ["resample_to_grid", "spacing_from_affine"]),
        ("custom_networks.transforms.hr_grid", "custom_networks.core.geometry", ["hr_grid_for", "slice_axis_of"]),
        ("custom_networks.data.tissues", "custom_networks.core.labels", ["LABEL_NAMES"]),
        ("custom_networks.evaluate.scores", "custom_networks.core.labels", ["CLASS_NAMES"]),
        ("custom_networks.evaluate.pipeline", "custom_networks.core.label_maps", ["load_label", "LabelValueError"]),
        ("custom_networks.evaluate.native_grid", "custom_networks.core.label_maps", ["Annotation"]),
    ],
)
def test_old_paths_are_the_same_objects(old, new, names):
    for name in names:
        assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)


def test_the_one_dice():
    from custom_networks.core import dice, dice_per_class, mean_dice

    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4), bool)
    b[1:3] = True
    assert dice(a, b) == pytest.approx(0.5) and np.isnan(dice(a & False, b & False))
    labels = np.array([[1, 1, 2, 0]])
    assert dice_per_class(labels, np.array([[1, 2, 2, 0]]), (1, 2, 3))[1] == pytest.approx(2 / 3)
    assert mean_dice(labels, labels) == 1.0  # class 3 absent from both: not counted


def test_itk_bridge_round_trip_in_world_coordinates():
    import itk

    from custom_networks.core import array_from_image, image_from_array

    affine = np.array([[0, -1.5, 0, 30.0], [1.2, 0, 0, -20.0], [0, 0, 8.0, 5.0], [0, 0, 0, 1]])
    array = np.random.default_rng(0).random((5, 6, 3)).astype(np.float32)
    image = image_from_array(array, affine)
    np.testing.assert_array_equal(array_from_image(image), array)
    lps = np.asarray(image.TransformIndexToPhysicalPoint([4, 2, 1]))  # voxel (i, j, k) = (4, 2, 1)
    ras = affine @ np.array([4, 2, 1, 1.0])
    np.testing.assert_allclose(lps, ras[:3] * [-1, -1, 1], atol=1e-6)
    assert isinstance(image, itk.Image)
