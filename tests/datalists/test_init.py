"""``custom_networks.datalists`` is the one place that knows dataset layouts: it imports nothing of the project but
``custom_networks.core`` (checked in every module's source), and importing the package loads no reader."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import custom_networks.datalists as datalists

PACKAGE = Path(datalists.__file__).parent


def _project_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m == "custom_networks" or m.startswith("custom_networks.")}


def test_datalists_imports_only_the_core():
    outside = {}
    for path in sorted(PACKAGE.glob("*.py")):
        others = {
            m for m in _project_imports(path) if not m.startswith(("custom_networks.core", "custom_networks.datalists"))
        }
        if others:
            outside[path.name] = sorted(others)
    assert outside == {}


def test_importing_the_package_loads_no_reader():
    code = (
        "import sys, custom_networks.datalists as d; d.__all__; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('custom_networks', 'nibabel', 'itk', 'torch', "
        "'monai', 'numpy')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert ast.literal_eval(loaded) == ["custom_networks", "custom_networks.core", "custom_networks.core.errors",
                            "custom_networks.core.lazy_exports", "custom_networks.datalists"]  # fmt: skip


def test_every_public_name_is_at_its_home():
    for name in datalists.__all__:
        value = getattr(datalists, name)
        module = sys.modules[f"custom_networks.datalists.{datalists._EXPORTS[name]}"]
        assert getattr(module, name) is value and name in module.__all__, name
