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

import errno
import json
import logging
import os
import shutil
import sys
import tempfile
import zipfile
from importlib import metadata as importlib_metadata
from pathlib import Path

import custom_networks
from custom_networks.core.nifti import InputError, check_output_folder, file_sha256
from custom_networks.utils.cli import run_cli

__all__ = ["MODEL_CARD_SECTIONS", "OPTIONAL_PACKAGES", "main", "package_bundle", "validate_metadata"]

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
#: ``errno`` values of a full disk or an exhausted quota.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
#: What a bundle folder holds that never goes into a package.
_EXCLUDED = ("__pycache__", "*.pyc", "*.ts", "runs", "eval", "data", ".ipynb_checkpoints")
_SCRIPTS_INIT = '''"""Code vendored into this bundle: a copy of the ``custom_networks`` package (version {version}).

Importing ``scripts`` (every config of the bundle does it first) puts this folder first on ``sys.path``, so that the
configs' ``custom_networks`` references resolve to this copy, whatever else is installed.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
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


def _vendor_imports(config: Path) -> bool:
    """Make a config import ``scripts`` first (when it imports anything); True when changed."""
    data = json.loads(config.read_text())
    for key in ("imports", "+imports"):
        if isinstance(data, dict) and isinstance(data.get(key), list) and "$import scripts" not in data[key]:
            data[key] = ["$import scripts", *data[key]]
            config.write_text(json.dumps(data, indent=4) + "\n")
            return True
    return False


def _copy_failure(err: shutil.Error, target: Path) -> InputError:
    """One line for the errors ``shutil.copytree`` collected (a list of ``(source, destination, reason)``)."""
    problems = [e for e in (err.args[0] if err.args and isinstance(err.args[0], list) else []) if len(e) == 3]
    if any(f"[Errno {code}]" in str(why) for _, _, why in problems for code in _DISK_FULL):
        return InputError(f"{target}: no space left on the device")
    if not problems:
        return InputError(f"{target}: copying the bundle failed ({err})")
    source, _, why = problems[0]
    more = f" (and {len(problems) - 1} more files)" if len(problems) > 1 else ""
    return InputError(f"{source}: cannot be copied into the package ({why}){more}")


def _put_in_place(tmp: Path, target: Path, overwrite: bool) -> None:
    """Rename ``tmp`` onto ``target``; without ``overwrite`` only if no ``target`` exists at that moment."""
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # atomic: fails when the name exists
    except FileExistsError as err:
        raise InputError(f"{target}: exists (pass --overwrite True to replace it)") from err
    except OSError as err:
        if err.errno in _DISK_FULL:
            raise
        try:  # no hard links on this file system: exclusive create, then replace
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError as exists:
            raise InputError(f"{target}: exists (pass --overwrite True to replace it)") from exists
        os.replace(tmp, target)
        return
    os.unlink(tmp)


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
            shutil.copytree(REPO / "custom_networks", stage / "scripts" / "custom_networks",
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
            (stage / "scripts" / "__init__.py").write_text(_SCRIPTS_INIT.format(version=custom_networks.__version__))
            changed = [c.name for c in sorted((stage / "configs").rglob("*.json")) if _vendor_imports(c)]
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
            _put_in_place(partial, target, overwrite)
    except shutil.Error as err:  # copytree collects the failures of every file into one exception
        raise _copy_failure(err, target) from err
    except OSError as err:
        if err.errno in _DISK_FULL:
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
