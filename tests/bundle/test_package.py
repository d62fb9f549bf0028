"""Model Zoo packages (``python -m custom_networks.package``): each bundle zip, unpacked into an empty folder, runs
where the project is not importable (verify_metadata, verify_net_in_out, ckpt_export, inference) and segments as the
repository's bundle does; metadata that does not validate is refused with the key named."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import nibabel as nib
import numpy as np
import pytest
from conftest import REPO, checksums

from custom_networks.core.errors import InputError
from custom_networks.package import main as package_main
from custom_networks.package import package_bundle, vendored_modules
from custom_networks.predict import predict

#: ``python isolated.py MODULE ARGS`` = ``python -m MODULE ARGS`` with the editable install of the project hidden.
ISOLATED = """
import os, runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path[:] = [os.getcwd()] + [p for p in sys.path[1:] if "__editable__" not in p and p != {repo!r}]
module = sys.argv[1]
sys.argv = [module, *sys.argv[2:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def _unpacked(zip_path, folder):
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    return folder / zip_path.name.split("_v")[0]


def _isolated(tmp_path, root, *args, timeout=300):
    launcher = tmp_path / "isolated.py"
    launcher.write_text(ISOLATED.format(repo=str(REPO)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, str(launcher), *args], cwd=root, env=env, capture_output=True,
                            text=True, encoding="utf-8", errors="replace", timeout=timeout)  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result


@pytest.fixture(scope="module")
def gemini_zip(tmp_path_factory):
    return package_bundle("gemini_gan_bundle", str(tmp_path_factory.mktemp("dist")))


def test_the_package_is_self_contained(gemini_zip, tmp_path):
    root = _unpacked(gemini_zip, tmp_path / "empty")
    assert (root / "scripts" / "custom_networks" / "core" / "geometry.py").is_file()
    assert (root / "LICENSE").is_file() and (root / "models" / "model.pt").is_file()
    assert not list(root.rglob("__pycache__")) and not (root / "eval").exists()
    meta = json.loads((root / "configs" / "metadata.json").read_text())
    assert (
        meta["vendored_code"]["path"] == "scripts/custom_networks"
        and "custom-networks" not in meta["required_packages_version"]
    )
    assert set(meta["required_packages_version"]) >= {"nibabel", "itk", "pytorch-ignite", "fire", "scipy"}
    assert json.loads((root / "configs" / "inference.json").read_text())["imports"][0] == "$import scripts"
    large = (root / "large_files.yml").read_text()
    assert 'path: "models/model.pt"' in large and 'hash_type: "sha256"' in large


@pytest.mark.slow
def test_packaged_gemini_bundle_runs_from_an_empty_folder_like_the_repository(gemini_zip, tiny_dataset, tmp_path):
    root = _unpacked(gemini_zip, tmp_path / "empty")
    schema = str(REPO / "schemas" / "bundle_metadata.schema.json")
    _isolated(tmp_path, root, "monai.bundle", "verify_metadata", "--meta_file", "configs/metadata.json",
              "--filepath", schema)  # fmt: skip
    _isolated(tmp_path, root, "monai.bundle", "verify_net_in_out", "network_def", "--meta_file",
              "configs/metadata.json", "--config_file", "configs/inference.json")  # fmt: skip
    _isolated(tmp_path, root, "monai.bundle", "ckpt_export", "network_def", "--filepath", "models/model.ts",
              "--ckpt_file", "models/model.pt", "--meta_file", "configs/metadata.json", "--config_file",
              "configs/inference.json")  # fmt: skip
    assert (root / "models" / "model.ts").stat().st_size > 1e6
    stacks = [tiny_dataset / "sub-0000" / "ED" / "lr_image.nii.gz"]
    real = REPO.parent / "shared" / "data" / "real_labelled" / "sunnybrook" / "SCD0000101_ED_image.nii.gz"
    if real.is_file():
        stacks.append(real)
    for stack in stacks:
        _isolated(tmp_path, root, "monai.bundle", "run", "--config_file", "configs/inference.json",
                        "--input_path", str(stack), "--output_dir", str(tmp_path / "packaged"))  # fmt: skip
        predict(str(stack), str(tmp_path / "repository"))
        name = stack.name.replace(".nii.gz", "_seg.nii.gz")
        ours, theirs = nib.load(tmp_path / "packaged" / name), nib.load(tmp_path / "repository" / name)
        np.testing.assert_array_equal(np.asarray(ours.dataobj), np.asarray(theirs.dataobj))
        np.testing.assert_allclose(ours.affine, theirs.affine)


@pytest.mark.slow
def test_packaged_bundle_runs_from_another_folder_and_vendors_only_what_it_runs(gemini_zip, tiny_dataset, tmp_path):
    """The zip's configs find their bundle folder themselves (MONAI puts it on ``sys.path`` only after
    ``initialize``), and ``scripts/`` holds exactly the modules the configs run, with what they import."""
    root = _unpacked(gemini_zip, tmp_path / "unpacked")
    vendored = sorted(
        ".".join(p.relative_to(root / "scripts").with_suffix("").parts).removesuffix(".__init__")
        for p in (root / "scripts" / "custom_networks").rglob("*.py")
    )
    assert vendored == vendored_modules(REPO / "gemini_gan_bundle")
    everything = len(list((REPO / "custom_networks").rglob("*.py")))
    assert "custom_networks.nets.slice_segmenter" in vendored and "custom_networks.predict" not in vendored
    assert len(vendored) < everything
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stack = tiny_dataset / "sub-0000" / "ED" / "lr_image.nii.gz"
    _isolated(tmp_path, elsewhere, "monai.bundle", "run", "--config_file", str(root / "configs" / "inference.json"),
              "--input_path", str(stack), "--output_dir", str(tmp_path / "packaged"))  # fmt: skip
    predict(str(stack), str(tmp_path / "repository"))
    for name in ("lr_image_seg.nii.gz", "lr_image_sr.nii.gz"):
        assert (tmp_path / "packaged" / name).read_bytes() == (tmp_path / "repository" / name).read_bytes()


def test_the_vendored_code_is_what_runs(gemini_zip, tmp_path):
    root = _unpacked(gemini_zip, tmp_path / "empty")
    (root / "probe_module.py").write_text("import scripts, custom_networks\nprint(custom_networks.__file__)\n")
    out = _isolated(tmp_path, root, "probe_module").stdout
    assert out.strip() == str(root / "scripts" / "custom_networks" / "__init__.py")


#: Run from an unpacked bundle: import ``scripts`` (the vendored code), then every ``custom_networks`` reference of the
#: config files given as arguments and every dataset importer of the datalists registry; print what failed.
PROBE_REFERENCES = """
import importlib, pathlib, re, sys
import scripts
failed = []
names = set()
for config in sys.argv[1:]:
    names |= set(re.findall(r"custom_networks(?:\\.[A-Za-z_]\\w*)+", pathlib.Path(config).read_text()))
from custom_networks.datalists.registry import LAYOUTS
names |= set(LAYOUTS.values())
for name in sorted(names):
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
            break
        except ModuleNotFoundError:
            continue
    try:
        for attr in parts[i:]:
            obj = getattr(obj, attr)
    except Exception as err:
        failed.append(f"{name}: {err}")
print("FAILED" if failed else "ALL RESOLVED", *failed, sep="\\n")
"""


def test_vendored_code_holds_what_the_configs_and_the_chain_run(tmp_path):
    """The closure is enough: from the V-AMA zip (whose chain_gemini runs the Gemini-GAN configs with V-AMA's vendored
    code), every reference of both bundles' configs resolves, and every dataset importer the registry names imports."""
    root = _unpacked(package_bundle("vama_bundle", str(tmp_path / "dist")), tmp_path / "empty")
    (root / "probe_references.py").write_text(PROBE_REFERENCES)
    configs = [str(p) for b in ("gemini_gan_bundle", "vama_bundle") for p in (REPO / b / "configs").rglob("*.json")]
    out = _isolated(tmp_path, root, "probe_references", *configs).stdout
    assert out.strip().splitlines()[0] == "ALL RESOLVED", out


@pytest.mark.slow
def test_packaged_vama_bundle_validates_and_builds_its_network(tmp_path):
    root = _unpacked(package_bundle("vama_bundle", str(tmp_path / "dist")), tmp_path / "empty")
    schema = str(REPO / "schemas" / "bundle_metadata.schema.json")
    _isolated(tmp_path, root, "monai.bundle", "verify_metadata", "--meta_file", "configs/metadata.json",
              "--filepath", schema)  # fmt: skip
    _isolated(tmp_path, root, "monai.bundle", "verify_net_in_out", "network_def", "--meta_file",
              "configs/metadata.json", "--config_file", "configs/inference.json")  # fmt: skip
    assert (root / "models" / "model.pt").is_file() and (root / "scripts" / "__init__.py").is_file()


def test_invalid_metadata_is_refused_with_the_key_named(tmp_path, capsys):
    bundle = tmp_path / "broken_bundle"
    shutil.copytree(REPO / "gemini_gan_bundle", bundle, ignore=shutil.ignore_patterns("eval", "runs", "data"))
    meta = json.loads((bundle / "configs" / "metadata.json").read_text())
    meta["network_data_format"]["inputs"]["image"]["num_channels"] = "one"
    (bundle / "configs" / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"metadata key 'network_data_format/inputs/image/num_channels'"):
        package_bundle(str(bundle), str(tmp_path / "dist"))
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())
    assert package_main([str(bundle), "--out", str(tmp_path / "dist")]) == 2
    assert "does not validate" in capsys.readouterr().err


def test_existing_package_is_not_overwritten(gemini_zip):
    before = gemini_zip.stat().st_mtime_ns
    with pytest.raises(InputError, match="exists"):
        package_bundle("gemini_gan_bundle", str(gemini_zip.parent))
    assert gemini_zip.stat().st_mtime_ns == before


def test_model_card_topics_are_read_from_headings_not_code(tmp_path):
    from custom_networks.package import _check_model_card

    card = tmp_path / "README.md"
    card.write_text("# Model\n## Data\n## Training\n## Results\n## Commands\n```bash\n# limitations: a comment\n```\n")
    assert _check_model_card(card) == ["limitations", "license and citation"]
    assert _check_model_card(REPO / "gemini_gan_bundle" / "docs" / "README.md") == []


def _zip_write_failing_after(monkeypatch, files: int, error: BaseException) -> None:
    """Make ``ZipFile.write`` raise ``error`` after ``files`` members were written (a kill or a full disk midway)."""
    real_write = zipfile.ZipFile.write
    count = {"n": 0}

    def write(self, *args, **kwargs):
        if count["n"] >= files:
            raise error
        count["n"] += 1
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "write", write)


@pytest.mark.parametrize("where", ["copying", "zipping"])
def test_full_disk_is_one_line_naming_the_zip_and_leaves_nothing(where, tmp_path, capsys, monkeypatch):
    """ENOSPC while staging the bundle (``shutil.copytree`` gathers it into a ``shutil.Error``) or while zipping: one
    line naming the zip, exit 2, no temporary folder or partial zip left, the user's files in ``--out`` unchanged."""
    import errno

    out = tmp_path / "dist"
    out.mkdir()
    (out / "notes.txt").write_text("the user's own file")
    before = checksums(out)
    enospc = OSError(errno.ENOSPC, "No space left on device")
    if where == "copying":
        real_copytree, done = shutil.copytree, []

        def copy_then_fill(src, dst):
            if len(done) >= 5:
                raise OSError(errno.ENOSPC, "No space left on device", dst)
            done.append(src)
            return shutil.copy2(src, dst)

        def copytree(src, dst, *args, **kwargs):
            if not args:  # the package's call (copytree's own recursive calls pass copy_function on)
                kwargs["copy_function"] = copy_then_fill
            return real_copytree(src, dst, *args, **kwargs)

        monkeypatch.setattr(shutil, "copytree", copytree)
    else:
        _zip_write_failing_after(monkeypatch, 20, enospc)
    assert package_main(["gemini_gan_bundle", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines == [f"error: {out / 'gemini_gan_bundle_v'}{_version()}.zip: no space left on the device"]
    assert checksums(out) == before and sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def _version() -> str:
    return json.loads((REPO / "gemini_gan_bundle" / "configs" / "metadata.json").read_text())["version"]


def test_sigterm_while_zipping_leaves_no_partial_zip(tmp_path, monkeypatch):
    """SIGTERM arrives as ``SystemExit(143)`` (``stop_on_sigterm``) in the middle of the zip: the process stops with
    that status and ``--out`` holds nothing new (no hidden ``.partial`` zip, no temporary folder)."""
    out = tmp_path / "dist"
    out.mkdir()
    (out / "older.zip").write_bytes(b"a package of another bundle")
    before = checksums(out)
    _zip_write_failing_after(monkeypatch, 20, SystemExit(143))
    with pytest.raises(SystemExit) as stopped:
        package_main(["gemini_gan_bundle", "--out", str(out)])
    assert stopped.value.code == 143
    assert sorted(p.name for p in out.iterdir()) == ["older.zip"] and checksums(out) == before
