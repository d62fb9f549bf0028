from __future__ import annotations

import numpy as np
import pytest
from conftest import dice, real_data_path, toy_label_map, write_label_file

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import spacing_from_affine
from custom_networks.data import RealAnatomy, generate_subject, get_domain, load_label_map
from custom_networks.datalists import find_label_maps
from custom_networks.metrics import clinical_indices


def test_label_4_is_mapped_to_3_and_integer_floats_accepted(tmp_path):
    lab = toy_label_map()
    labels, _ = load_label_map(write_label_file(tmp_path / "m.nii.gz", lab + 1e-5))
    assert set(np.unique(labels)) == {0, 1, 2, 3} and labels.dtype == np.uint8
    assert (labels == 3).sum() == (lab == 4).sum()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (7.0, "label values \\[7\\] outside 0-3"),
        (3.0, "holds both 4 and 3, which the label map \\{4: 3\\} both makes 3: cannot tell which one is the RV"),
        (1.4, "non-integer label values \\(e.g. 1.4"),
    ],
)
def test_bad_label_values_are_named(tmp_path, value, message):
    lab = toy_label_map()
    lab[0, 0, 0] = value
    path = write_label_file(tmp_path / "bad.nii.gz", lab)
    with pytest.raises(InputError, match=message) as err:
        load_label_map(path)
    assert "bad.nii.gz" in str(err.value)


def test_real_ukdh_label_maps_become_subjects():
    folder = real_data_path("ukdh_labelmaps")
    maps = find_label_maps(folder)
    assert {p.name for p in maps} == {"demo_HR.nii.gz", "HR.nii.gz"}
    for path in maps:
        anatomy = RealAnatomy.from_file(path)
        src_spacing = spacing_from_affine(anatomy.affine)
        original = clinical_indices(anatomy.labels, src_spacing)
        subject = generate_subject([0, 0], get_domain("source"), anatomy=anatomy)
        spacing = spacing_from_affine(subject.hr_affine)
        np.testing.assert_allclose(spacing, [1.25, 1.25, 2.0], atol=1e-6)
        idx = clinical_indices(subject.phases["ED"].hr_label, spacing, subject.phases["ES"].hr_label)
        # Rigid + smooth elastic deformation keeps the real anatomy's volumes (the slice axis is found from
        # the geometry: axis 0 in demo_HR, axis 2 in subject_1081).
        assert idx["LVEDV_ml"] == pytest.approx(original["LVEDV_ml"], rel=0.12)
        assert idx["RVEDV_ml"] == pytest.approx(original["RVEDV_ml"], rel=0.12)
        # Synthesised end systole: myocardium preserved, drawn ejection fractions reached.
        assert idx["LVM_ES_g"] == pytest.approx(idx["LVM_g"], rel=0.05)
        assert idx["LVEF"] == pytest.approx(subject.manifest["anatomy"]["ef_target"], abs=0.05)
        assert idx["RVEF"] == pytest.approx(subject.manifest["anatomy"]["rv_ef_target"], abs=0.05)
        # The HR grid keeps the map's short-axis orientation: its slice normal is the map's slice axis.
        slice_axis = int(np.argmax(src_spacing))
        n_src = anatomy.affine[:3, slice_axis] / src_spacing[slice_axis]
        n_out = subject.hr_affine[:3, 2] / spacing[2]
        assert abs(float(n_src @ n_out)) > 0.99


def test_stronger_deformation_draws_more_varied_hearts_from_one_real_map():
    """``--deformation_mm``: one real map (second anatomy source) gives more varied subjects at a larger amplitude."""
    anatomy = RealAnatomy.from_file(real_data_path("ukdh_labelmaps") / "subject_1081" / "ED" / "HR.nii.gz")
    domain = get_domain("source")

    def spread(amplitude: float) -> float:
        labels = [generate_subject([9, i], domain, anatomy=anatomy, deformation_mm=amplitude) for i in range(2)]
        a, b = (s.phases["ED"].hr_label for s in labels)
        # The same seed pair at every amplitude: only the deformation's size differs. Dice of the LV between subjects.
        return 1.0 - dice(a == 1, b == 1)

    assert spread(8.0) > spread(3.0) + 0.02


def test_deformation_outside_its_range_is_refused(tmp_path, capsys):
    from custom_networks.data.cli import main

    assert main(["synth", "--out", str(tmp_path / "ds"), "--deformation_mm", "-1"]) == 2
    assert "--deformation_mm must be a number of mm in [0, 20], got -1" in capsys.readouterr().err
