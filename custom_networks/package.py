"""``python -m custom_networks.package BUNDLE --out DIR``: a self-contained MONAI Model Zoo bundle zip.

A bundle folder of this repository runs only where ``custom_networks`` is installed. The package makes it
self-contained, as the zoo's bundles with custom code are:

- the code the configs need is vendored under the bundle's ``scripts/`` (``scripts/custom_networks/``, a copy of the
  package), and every config that imports anything imports ``scripts`` first, which puts that copy first on
  ``sys.path`` (so the bundle runs from its own folder, the zoo convention, or wherever MONAI Label loads it);
- ``configs/metadata.json`` gets the exact versions of everything the bundle imports (``monai_version``,
  ``pytorch_version``, ``numpy_version``, ``required_packages_version``: MONAI 1.6's name for the zoo's former
  ``optional_packages_version``) and the version of the vendored code (``vendored_code``);
- ``LICENSE``, the model card (``docs/README.md``, checked for the sections the zoo asks for), the weights and
  ``large_files.yml`` (path, size and SHA-256 of every weight file, the form the zoo uses to host large files).

The metadata is validated first against the offline schema (``schemas/bundle_metadata.schema.json``, the zoo's
schema); a bundle whose metadata does not validate is refused with the failing key named.

Examples::

    python -m custom_networks.package gemini_gan_bundle --out dist/
    python -m custom_networks.package vama_bundle --out dist/

Then, from the unpacked folder (no ``custom_networks`` installation needed)::

    python -m monai.bundle run --config_file configs/inference.json --input_path stack.nii.gz --output_dir out/
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import zipfile
from importlib import metadata as importlib_metadata
from pathlib import Path

import custom_networks
from custom_networks.core.cli import run_cli
from custom_networks.core.errors import InputError, is_disk_full
from custom_networks.core.nifti import check_output_folder, file_sha256, put_in_place

__all__ = [
    "MODEL_CARD_SECTIONS",
    "OPTIONAL_PACKAGES",
    "main",
    "package_bundle",
    "validate_metadata",
    "vendored_modules",
]

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
#: Offline copy of the zoo's metadata schema.
SCHEMA = REPO / "schemas" / "bundle_metadata.schema.json"
#: Packages the vendored code imports besides torch, numpy and MONAI (their exact versions go in the metadata).
OPTIONAL_PACKAGES = ("nibabel", "pytorch-ignite", "fire", "itk", "scipy", "tqdm", "matplotlib")
#: Topics a zoo model card covers, and words that mark them in a heading of ``docs/README.md``.
MODEL_CARD_SECTIONS = {
    "model overview": ("model", "intended use"),
    "data": ("data",),
    "training": ("train",),
    "performance": ("result", "performance", "real scans"),
    "commands": ("command",),
    "limitations": ("limitation",),
    "license and citation": ("licen",),
}
#: What a bundle folder holds that never goes into a package.
_EXCLUDED = ("__pycache__", "*.pyc", "*.ts", "runs", "eval", "data", ".ipynb_checkpoints")
_SCRIPTS_INIT = '''"""Code vendored into this bundle: the modules of ``custom_networks`` {version} that its configs run.

Importing ``scripts`` (every config of the bundle does it first) puts this folder first on ``sys.path``, so that the
configs' ``custom_networks`` references resolve to this copy, whatever else is installed (a copy imported from
elsewhere before is forgotten).
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
for _name in [m for m in sys.modules if m == "custom_networks" or m.startswith("custom_networks.")]:
    if not (getattr(sys.modules[_name], "__file__", None) or "").startswith(_HERE):
        del sys.modules[_name]
'''


def validate_metadata(meta_file: str | os.PathLike, schema: str | os.PathLike = SCHEMA) -> dict:
    """Validate a bundle's ``metadata.json`` against the zoo's schema (offline copy).

    Returns:
        The metadata.

    Raises:
        InputError: not JSON, or a key that does not validate (named, with the reason).
    """
    import jsonschema

    meta_file = Path(meta_file)
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{meta_file}: not a readable JSON file ({err})") from err
    validator = jsonschema.Draft7Validator(json.loads(Path(schema).read_text()))
    errors = sorted(validator.iter_errors(meta), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        key = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise InputError(f"{meta_file}: metadata key {key!r} does not validate: {first.message}")
    return meta


def _versions(meta: dict) -> dict:
    import monai
    import numpy
    import torch

    meta = dict(meta)
    meta["monai_version"] = monai.__version__
    meta["pytorch_version"] = torch.__version__.split("+")[0]
    meta["numpy_version"] = numpy.__version__
    required = {k: v for k, v in meta.get("required_packages_version", {}).items() if k != "custom-networks"}
    names = sorted(set(required) | set(OPTIONAL_PACKAGES))
    # MONAI 1.6 reads the zoo's former "optional_packages_version" as "required_packages_version" (its deprecated
    # name): one key, exact versions of everything the vendored code imports; the vendored code itself is no package
    meta.pop("optional_packages_version", None)
    meta["required_packages_version"] = {name: importlib_metadata.version(name) for name in names}
    meta["vendored_code"] = {"custom_networks": custom_networks.__version__, "path": "scripts/custom_networks"}
    return meta


def _check_model_card(card: Path) -> list[str]:
    """Zoo model-card topics not found among the headings of ``docs/README.md``."""
    if not card.is_file():
        return list(MODEL_CARD_SECTIONS)
    headings, fenced = [], False
    for line in card.read_text().splitlines():
        fenced = fenced != line.startswith("```")  # lines of code blocks are not headings
        if not fenced and line.startswith("#"):
            headings.append(line.lstrip("#").strip().lower())
    return [topic for topic, words in MODEL_CARD_SECTIONS.items() if not any(w in h for h in headings for w in words)]


#: First item of a vendored config's ``initialize``: put the bundle folder on ``sys.path``, found from the running
#: ``ConfigWorkflow`` (its ``config_root_path``), so that ``import scripts`` works from any working folder. MONAI puts
#: the bundle folder there itself only in ``run()``, after ``initialize``; the ``imports`` section, evaluated when the
#: config is parsed, binds a placeholder for a module it cannot find, and the imports that follow this item bind the
#: vendored code in its place. Without a ``ConfigWorkflow`` (MONAI Label, which puts the bundle on ``sys.path``
#: itself) it does nothing.
_FIND_BUNDLE_ROOT = (
    "$[__import__('sys').path.insert(0, str(root)) for root in [next((f.f_locals['self'].config_root_path.resolve()"
    ".parent for f, _ in __import__('traceback').walk_stack(None) if isinstance(f.f_locals.get('self'), "
    "monai.bundle.ConfigWorkflow)), None)] if root is not None]"
)


def _vendor_config(config: Path) -> bool:
    """Make a config import ``scripts`` (the vendored code) first, and its ``initialize`` (when it has one) find the
    bundle folder and import the vendored code again (see :data:`_FIND_BUNDLE_ROOT`); True when changed."""
    data = json.loads(config.read_text())
    if not isinstance(data, dict):
        return False
    changed, imports = False, ["$import scripts"]
    for key in ("imports", "+imports"):
        if isinstance(data.get(key), list) and "$import scripts" not in data[key]:
            data[key] = ["$import scripts", *data[key]]
            imports += [i for i in data[key] if i.startswith("$import custom_networks")]
            changed = True
    if isinstance(data.get("initialize"), list):
        data["initialize"] = [
            _FIND_BUNDLE_ROOT,
            *dict.fromkeys([*imports, "$import custom_networks"]),
            *data["initialize"],
        ]
        changed = True
    if changed:
        config.write_text(json.dumps(data, indent=4) + "\n")
    return changed


def _copy_failure(err: shutil.Error, target: Path) -> InputError:
    """One line for the errors ``shutil.copytree`` collected (a list of ``(source, destination, reason)``)."""
    problems = [e for e in (err.args[0] if err.args and isinstance(err.args[0], list) else []) if len(e) == 3]
    if is_disk_full(err):
        return InputError(f"{target}: no space left on the device")
    if not problems:
        return InputError(f"{target}: copying the bundle failed ({err})")
    source, _, why = problems[0]
    more = f" (and {len(problems) - 1} more files)" if len(problems) > 1 else ""
    return InputError(f"{source}: cannot be copied into the package ({why}){more}")


#: A reference to the project's code in a config (``_target_`` values and ``$`` expressions).
_REFERENCE = re.compile(r"custom_networks(?:\.[A-Za-z_]\w*)+")


def _module_file(module: str) -> Path | None:
    """The source file of one of the project's modules (a package's ``__init__.py``), or None."""
    path = REPO.joinpath(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _lazy_exports(init: Path) -> dict[str, str]:
    """A package's ``_EXPORTS`` (public name -> module, :func:`~custom_networks.core.lazy_exports.lazy_exports`).

    Raises:
        ValueError: ``_EXPORTS`` is not a literal dict (the closure could not be trusted).
    """
    for node in ast.parse(init.read_text()).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(getattr(t, "id", None) == "_EXPORTS" for t in targets):
            exports = ast.literal_eval(node.value)
            if not isinstance(exports, dict):
                raise ValueError(f"{init}: _EXPORTS must be a literal dict")
            return exports
    return {}


def _modules_of(reference: str) -> set[str]:
    """The modules a dotted reference (``custom_networks.transforms.LoadStackd``) needs, with their packages."""
    parts = reference.split(".")
    found: set[str] = set()
    for i in range(len(parts), 0, -1):
        module = ".".join(parts[:i])
        source = _module_file(module)
        if source is None:
            continue
        found.add(module)
        if i < len(parts) and source.name == "__init__.py" and parts[i] in (exports := _lazy_exports(source)):
            found.add(f"{module}.{exports[parts[i]]}")
        break
    return found | {".".join(m.split(".")[:k]) for m in found for k in range(1, m.count(".") + 1)}


def _imports_of(module: str) -> set[str]:
    """The project's modules that a module imports anywhere in its code (at the top or inside functions)."""
    source = _module_file(module)
    package = module if source.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _REFERENCE.fullmatch(node.value):
            names = [node.value]  # a module imported by its name (e.g. the datalists' registry)
        else:
            continue
        for name in names:
            if name == "custom_networks" or name.startswith("custom_networks."):
                found |= _modules_of(name)
    return found


def vendored_modules(bundle: str | os.PathLike) -> list[str]:
    """The project's modules a bundle runs: those its configs name (``_target_`` values, ``$`` expressions), and
    everything they import, transitively; what the zoo zip vendors under ``scripts/custom_networks``.

    A bundle whose configs chain the Gemini-GAN bundle (``run_gemini_inference``: V-AMA's ``chain_gemini``) runs the
    Gemini-GAN configs in the same process, with its own vendored code: their modules are vendored too.

    Args:
        bundle: the bundle folder.
    """
    seeds = {"custom_networks"}
    configs = sorted(Path(bundle, "configs").rglob("*.json"))
    if any("run_gemini_inference" in c.read_text() for c in configs):
        configs += sorted((REPO / "gemini_gan_bundle" / "configs").rglob("*.json"))
    for config in configs:
        for reference in _REFERENCE.findall(config.read_text()):
            seeds |= _modules_of(reference)
    done: set[str] = set()
    todo = sorted(seeds)
    while todo:
        module = todo.pop()
        if module not in done:
            done.add(module)
            todo += sorted(_imports_of(module) - done)
    return sorted(done)


def _vendor_code(bundle: Path, scripts: Path) -> int:
    """Copy the modules of :func:`vendored_modules` (and the data files beside them) under ``scripts``; returns the
    number of modules."""
    modules = vendored_modules(bundle)
    folders = set()
    for module in modules:
        source = _module_file(module)
        target = scripts / source.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        folders.add(source.parent)
    for folder in folders:  # data the code reads (e.g. data/domains.json)
        for extra in folder.iterdir():
            if extra.is_file() and extra.suffix not in (".py", ".pyc"):
                shutil.copy2(extra, scripts / extra.relative_to(REPO))
    return len(modules)


def package_bundle(bundle: str, out: str, overwrite: bool = False) -> Path:
    """Write ``<out>/<bundle>_v<version>.zip``, a self-contained bundle (see the module docstring).

    Everything is staged and zipped in a hidden temporary folder inside ``out``, removed whatever happens (an error,
    a full disk, Ctrl-C, SIGTERM); the zip appears under its name only once complete.

    Args:
        bundle: ``gemini_gan_bundle``, ``vama_bundle`` or a bundle folder.
        out: output folder (created).
        overwrite: replace an existing zip of the same name.

    Returns:
        The zip written.

    Raises:
        InputError: not a bundle; metadata that does not validate (the key is named); no weights; the zip exists;
            no space left on the device (``<zip>: no space left on the device``); a bundle file that cannot be
            copied.
    """
    from custom_networks.bundle.workflows import bundle_folder

    folder = bundle_folder(bundle)
    meta = validate_metadata(folder / "configs" / "metadata.json")
    weights = sorted(p for p in (folder / "models").rglob("*") if p.is_file() and p.suffix in (".pt", ".json"))
    if not any(p.name == "model.pt" for p in weights):
        raise InputError(f"{folder / 'models' / 'model.pt'}: no weights to package")
    out_dir = check_output_folder(Path(str(out)))
    target = out_dir / f"{folder.name}_v{meta['version']}.zip"
    if target.exists() and not overwrite:
        raise InputError(f"{target}: exists (pass --overwrite True to replace it)")
    missing = _check_model_card(folder / "docs" / "README.md")
    if missing:
        logger.warning("%s: model card without a section on %s", folder.name, ", ".join(missing))
    try:
        with tempfile.TemporaryDirectory(prefix=".package-", dir=out_dir) as tmp:
            stage = Path(tmp) / folder.name
            shutil.copytree(folder, stage, ignore=shutil.ignore_patterns(*_EXCLUDED))
            count = _vendor_code(folder, stage / "scripts")
            logger.info("vendored %d modules of custom_networks (what the configs run)", count)
            (stage / "scripts" / "__init__.py").write_text(_SCRIPTS_INIT.format(version=custom_networks.__version__))
            changed = [c.name for c in sorted((stage / "configs").rglob("*.json")) if _vendor_config(c)]
            logger.info("configs importing the vendored code first: %s", ", ".join(changed))
            (stage / "configs" / "metadata.json").write_text(json.dumps(_versions(meta), indent=4) + "\n")
            if not (stage / "LICENSE").is_file():
                shutil.copy(REPO / "LICENSE", stage / "LICENSE")
            lines = ["# Weight files of this bundle (included in the package; a zoo release hosts them at a URL).", ""]
            lines.append("large_files:")
            for path in sorted(p for p in (stage / "models").rglob("*") if p.is_file()):
                rel = path.relative_to(stage).as_posix()
                lines += [
                    f'  - path: "{rel}"',
                    '    url: ""',
                    f'    hash_val: "{file_sha256(path)}"',
                    '    hash_type: "sha256"',
                ]
                lines.append(f"    size_bytes: {path.stat().st_size}")
            (stage / "large_files.yml").write_text("\n".join(lines) + "\n")
            # inside the temporary folder: an interrupted zip goes with it, never left in ``out``
            partial = Path(tmp) / f"{target.name}.partial"
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(stage.rglob("*")):
                    if path.is_file():
                        archive.write(path, path.relative_to(stage.parent).as_posix())
            put_in_place(partial, target, overwrite)
    except shutil.Error as err:  # copytree collects the failures of every file into one exception
        raise _copy_failure(err, target) from err
    except OSError as err:
        if is_disk_full(err):
            raise InputError(f"{target}: no space left on the device") from err
        raise
    logger.info("%s: %s (%.1f MB)", folder.name, target, target.stat().st_size / 1e6)
    return target


def package(bundle: str, out: str = "dist", overwrite: bool = False) -> str:
    """Command-line form of :func:`package_bundle`; prints the zip written."""
    return str(package_bundle(bundle, out, overwrite))


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    return run_cli(package, argv, name="python -m custom_networks.package", path_options=("--out",))


if __name__ == "__main__":
    sys.exit(main())
