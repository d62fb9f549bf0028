"""The one registry: layout detection, every layout's refusal of a missing or empty root, the real sets' records, and
that a new dataset is one importer file plus one registry entry (nothing else to change for ``build``, detection,
``--layout`` and the command line)."""

from __future__ import annotations

import json
import textwrap

import pytest
from layout_files import make_acdc, make_flat, make_mnms, nii

from custom_networks.core.errors import InputError
from custom_networks.datalists import build_datalist
from custom_networks.datalists.cli import main
from custom_networks.datalists.registry import LAYOUTS, REAL_SETS, detect_layout, get_layout


def test_detect_layout(tmp_path):
    acdc, mnms, flat = make_acdc(tmp_path), make_mnms(tmp_path), make_flat(tmp_path)
    assert detect_layout(acdc) == "acdc"
    assert detect_layout(mnms) == "mnms"
    assert detect_layout(flat) == "flat"
    ukbb = tmp_path / "ukbb"
    nii(ukbb / "1000001" / "sa.nii.gz", (8, 8, 3, 4))
    assert detect_layout(ukbb) == "ukbb"
    assert build_datalist(ukbb)["layout"] == "ukbb"
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    with pytest.raises(InputError, match=rf"^{empty}: no known layout \(acdc: patientNNN/Info.cfg; mnms: .*; flat: "
                       r"<case>_image.nii.gz \+ <case>_gt.nii.gz; dicom: folders of DICOM files\)$"):  # fmt: skip
        detect_layout(empty)
    nii(acdc / "1000001" / "sa.nii.gz")
    with pytest.raises(InputError, match=r"several layouts \(acdc, ukbb\)"):
        detect_layout(acdc)
    nii(acdc / "x_image.nii.gz")
    nii(acdc / "x_gt.nii.gz", label=True)
    with pytest.raises(InputError, match=r"several layouts \(flat, acdc, ukbb\)"):
        detect_layout(acdc)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_missing_or_empty_root_is_refused(layout, tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(InputError, match=rf"^{missing}: folder not found"):
        get_layout(layout)(missing)
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("nothing here")
    with pytest.raises(InputError, match=rf"^{empty}: no "):
        get_layout(layout)(empty)
    assert get_layout(layout).name == layout


def test_unknown_layout_is_named():
    with pytest.raises(InputError, match=r"--layout 'nifti': unknown layout; choose acdc, mnms, ukbb, dicom, flat"):
        get_layout("nifti")


def test_every_real_set_says_what_to_cite():
    assert set(REAL_SETS) == {"acdc", "mnms", "sunnybrook"}
    for name, entry in REAL_SETS.items():
        assert entry.name == name and entry.citation and entry.licence and dict(entry.label_map) == {}
    assert "non-commercial" in REAL_SETS["acdc"].licence and REAL_SETS["sunnybrook"].licence == "CC0 1.0"


TOY_IMPORTER = '''
    """A toy layout: ``<subject>.toy`` text files naming the subject's image file."""

    from pathlib import Path

    from custom_networks.core.errors import InputError
    from custom_networks.datalists.base import Collector, Layout, check_root


    def import_toy(root, base_dir=None):
        root = check_root(root)
        files = sorted(root.glob("*.toy"))
        if not files:
            raise InputError(f"{root}: no toy file found")
        out = Collector(base_dir)
        for path in files:
            out.add({"subject": path.stem, "image": root / path.read_text().strip()})
        return out.result()


    LAYOUT = Layout(name="toy", importer=import_toy, looks_like="<subject>.toy",
                    root_test=lambda root: any(Path(root).glob("*.toy")))
'''


def test_a_new_layout_is_one_file_and_one_registry_entry(tmp_path, monkeypatch, capsys):
    package = tmp_path / "toy_datasets"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "toy.py").write_text(textwrap.dedent(TOY_IMPORTER))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(LAYOUTS, "toy", "toy_datasets.toy")  # the one entry
    root = tmp_path / "toyset"
    root.mkdir()
    for subject in ("b", "a"):
        (root / f"{subject}.toy").write_text(f"{subject}_image.nii.gz\n")
    assert detect_layout(root) == "toy"
    datalist = build_datalist(root, base_dir=tmp_path)
    assert datalist["layout"] == "toy" and datalist["items"] == [
        {"subject": "a", "image": "toyset/a_image.nii.gz"},
        {"subject": "b", "image": "toyset/b_image.nii.gz"},
    ]
    out = tmp_path / "toy.json"
    assert main(["build", str(root), str(out), "--layout", "toy"]) == 0
    assert "2 items of 2 subjects (toy layout)" in capsys.readouterr().out
    assert json.loads(out.read_text())["items"][0] == {"subject": "a", "image": "toyset/a_image.nii.gz"}
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    with pytest.raises(InputError, match="toy: <subject>.toy"):
        detect_layout(empty)
