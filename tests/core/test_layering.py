"""The package's floors: ``custom_networks.core`` imports nothing else of the project, every other import runs down
the floors, an inference loads only what it runs, and names that moved say where they went."""

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


#: The floors of the package, from the bottom: a module imports only from lower floors (and its own folder). The
#: README's "Layout of the repository" draws the same.
FLOORS = {
    "core": 0,
    **dict.fromkeys(("utils", "metrics", "losses", "handlers", "inferers", "datalists"), 1),
    **dict.fromkeys(("nets", "data"), 2),
    **dict.fromkeys(("transforms", "registration", "baselines", "engines"), 3),
    **dict.fromkeys(("evaluate", "pairs"), 4),
    "bundle": 5,
    **dict.fromkeys(("cine", "dicom2nifti", "metric_table", "package"), 6),
    **dict.fromkeys(("predict", "cohort", "demo"), 7),
}
PACKAGE = CORE.parent


def _project_imports(path: Path) -> list[str]:
    """Every ``custom_networks`` module a file imports, anywhere in it (at the top or inside a function)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    return [m for m in found if m.startswith("custom_networks.")]


def test_every_import_runs_down_the_floors():
    folders = {p.stem if p.suffix == ".py" else p.name for p in PACKAGE.iterdir() if not p.name.startswith("_")}
    assert folders - {"__pycache__"} <= set(FLOORS), f"folders without a floor: {folders - set(FLOORS)}"
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if parts[0] == "__init__.py":
            continue
        own = parts[0].removesuffix(".py")
        for module in _project_imports(path):
            other = module.split(".")[1]
            if other != own and FLOORS[other] >= FLOORS[own]:
                upward.append(f"{path.relative_to(PACKAGE)} ({own}, floor {FLOORS[own]}) imports {module}")
    assert upward == [], "\n".join(upward)


def test_one_inference_loads_only_what_it_runs(tiny_dataset, tmp_path):
    """Lazy package namespaces: ``import custom_networks.predict`` and one stage-1 inference load a small part of
    the package (printed)."""
    code = (
        "import sys; import custom_networks.predict as p; n = len([m for m in sys.modules if m.startswith('cust"
        "om_networks')]); p.predict(sys.argv[1], sys.argv[2]); print(n, len([m for m in sys.modules if m.start"
        "swith('custom_networks')]), len(list(__import__('pathlib').Path(p.__file__).parent.rglob('*.py'))))"
    )
    stack = tiny_dataset / "sub-0000" / "ED" / "lr_image.nii.gz"
    out = subprocess.run([sys.executable, "-c", code, str(stack), str(tmp_path / "out")], capture_output=True,
                         text=True, check=True).stdout.split()  # fmt: skip
    on_import, on_inference, total = (int(v) for v in out[-3:])
    print(f"project modules loaded: {on_import} by import custom_networks.predict, {on_inference} by one inference, "
          f"of {total}")  # fmt: skip
    assert on_import <= 20 and on_inference <= 35


def test_moved_names_say_where_they_went():
    from custom_networks.core.errors import InputError

    with pytest.raises(InputError, match=r"^custom_networks.bundle.load_pairs has moved: use custom_networks.pairs"):
        importlib.import_module("custom_networks.bundle").load_pairs  # noqa: B018
    for gone in ("custom_networks.utils.nifti", "custom_networks.data.geometry"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(gone)


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
