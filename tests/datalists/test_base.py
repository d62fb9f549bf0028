"""What the importers share: datalist paths relative to the datalist's folder (absolute without one), skipped
subjects with the file concerned, and the header-only checks (shape, pair of the same shape)."""

from __future__ import annotations

import pytest
from layout_files import corrupt, nii

from custom_networks.core.errors import InputError
from custom_networks.datalists.base import (
    Collector,
    Layout,
    Skip,
    check_pair,
    check_root,
    header_shape,
    nifti_file,
    subject_folders,
)


def test_collector_writes_path_keys_relative_and_records_skips(tmp_path):
    image = nii(tmp_path / "data" / "a_image.nii.gz")
    relative, absolute = Collector(tmp_path / "lists"), Collector(None)
    for out in (relative, absolute):
        out.add({"subject": "data", "image": image, "case": "a"})
        out.skip("b", Skip(tmp_path / "data" / "b.nii.gz", "b.nii.gz: no label"), phase="ED")
    assert relative.result() == (
        [{"subject": "data", "image": "../data/a_image.nii.gz", "case": "a"}],
        [{"subject": "b", "path": "../data/b.nii.gz", "reason": "b.nii.gz: no label", "phase": "ED"}],
    )
    assert absolute.items[0]["image"] == str(image) and absolute.items[0]["subject"] == "data"


def test_headers_only_shapes_and_pairs(tmp_path):
    image = nii(tmp_path / "i.nii.gz", (8, 8, 3, 1))
    assert header_shape(image) == (8, 8, 3)  # trailing singleton axis dropped
    with pytest.raises(Skip, match="differs from its image's"):
        check_pair(image, nii(tmp_path / "l.nii.gz", (8, 8, 4), label=True))
    with pytest.raises(Skip, match="unreadable NIfTI header") as err:
        header_shape(corrupt(tmp_path / "bad.nii.gz"))
    assert err.value.path == tmp_path / "bad.nii.gz"
    assert nifti_file(tmp_path, "i") == image and nifti_file(tmp_path, "none") is None


def test_roots_and_subject_folders(tmp_path):
    for name in ("b", "a", ".hidden"):
        (tmp_path / name).mkdir()
    assert [p.name for p in subject_folders(tmp_path)] == ["a", "b"]
    assert [p.name for p in subject_folders(tmp_path, 1)] == ["a"]
    with pytest.raises(InputError, match="folder not found"):
        check_root(tmp_path / "nowhere")
    with pytest.raises(InputError, match="not a folder"):
        check_root(nii(tmp_path / "f.nii.gz"))


def test_a_layout_calls_its_importer(tmp_path):
    seen = []
    layout = Layout("x", lambda root, base_dir=None, **kw: seen.append((root, base_dir, kw)) or ([], []), "x files")
    assert layout(tmp_path, base_dir="b", info_csv="c") == ([], [])
    assert seen == [(tmp_path, "b", {"info_csv": "c"})]
