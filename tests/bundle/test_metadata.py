"""The bundle metadata validates against the offline schema ``schemas/bundle_metadata.schema.json``."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft7Validator
from monai.bundle import verify_metadata

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "bundle_metadata.schema.json"
METADATA = ROOT / "gemini_gan_bundle" / "configs" / "metadata.json"

# verify_metadata warns that a schema given without a hash is not checked: the schema is versioned in this repository
pytestmark = pytest.mark.filterwarnings("ignore:No hash value provided")


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@pytest.fixture(scope="module")
def metadata() -> dict:
    return json.loads(METADATA.read_text())


def _verify(meta: dict, tmp_path: Path) -> None:
    """``monai.bundle.verify_metadata`` on ``meta`` written to a file, with the local schema (no download)."""
    meta_file = tmp_path / "metadata.json"
    meta_file.write_text(json.dumps(meta))
    verify_metadata(meta_file=str(meta_file), filepath=str(SCHEMA))


def test_schema_is_a_valid_draft7_schema():
    # verify_metadata downloads the metadata's `schema` URL when `filepath` does not exist: it must be here
    assert SCHEMA.is_file()
    Draft7Validator.check_schema(json.loads(SCHEMA.read_text()))


def test_verify_metadata_cli_accepts_the_bundle_metadata():
    cmd = [sys.executable, "-m", "monai.bundle", "verify_metadata", "--meta_file", str(METADATA)]
    cmd += ["--filepath", str(SCHEMA)]
    result = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "metadata is verified with no error" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "path",
    [
        ("version",),
        ("changelog",),
        ("monai_version",),
        ("pytorch_version",),
        ("numpy_version",),
        ("required_packages_version",),
        ("task",),
        ("description",),
        ("authors",),
        ("copyright",),
        ("network_data_format",),
        ("network_data_format", "outputs"),
        ("network_data_format", "inputs", "image", "spatial_shape"),
        ("network_data_format", "outputs", "pred", "channel_def"),
    ],
    ids="/".join,
)
def test_metadata_without_a_required_key_fails(metadata, tmp_path, path):
    _verify(metadata, tmp_path)  # the unmodified copy passes
    broken = copy.deepcopy(metadata)
    parent = broken
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    with pytest.raises(ValueError, match=f"'{path[-1]}' is a required property"):
        _verify(broken, tmp_path)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("version",), "1.0"),
        (("changelog",), {"0.1": "not a semantic version"}),
        (("network_data_format", "inputs", "image", "num_channels"), 0),
        (("network_data_format", "inputs", "image", "is_patch_data"), "yes"),
    ],
)
def test_metadata_with_a_wrong_value_fails(metadata, tmp_path, path, value):
    broken = copy.deepcopy(metadata)
    parent = broken
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    with pytest.raises(ValueError, match="Failed validating"):
        _verify(broken, tmp_path)


def test_version_is_the_newest_changelog_entry(metadata):
    versions = list(metadata["changelog"])
    assert metadata["version"] == max(versions, key=_semver)
    assert versions[0] == metadata["version"], "the changelog lists the newest version first"
