"""The one label-map reader: integers only (stored as floats too), remapping only as given, a map that would merge
two structures refused, classes 0-3 after mapping, required classes present; every refusal names the file."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from custom_networks.core.errors import InputError
from custom_networks.core.label_maps import LabelValueError, load_label


def _write(path, data):
    nib.save(nib.Nifti1Image(np.asarray(data, np.float32), np.diag([1.5, 1.5, 8.0, 1.0])), str(path))
    return path


def _map(*values):
    return np.array(values, np.float32).reshape(1, 1, -1)


def test_integers_stored_as_floats_are_read_and_nothing_is_rounded(tmp_path):
    label, affine = load_label(_write(tmp_path / "ok.nii.gz", _map(0, 1.00001, 2, 3)))
    assert label.dtype == np.uint8 and label.ravel().tolist() == [0, 1, 2, 3] and affine[2, 2] == 8.0
    with pytest.raises(LabelValueError, match=r"half.nii.gz: non-integer label values \(e.g. 1.4 in 1 voxels\)"):
        load_label(_write(tmp_path / "half.nii.gz", _map(0, 1.4, 2)))


def test_remapping_only_as_given(tmp_path):
    rv4 = _write(tmp_path / "rv4.nii.gz", _map(0, 1, 2, 4))
    with pytest.raises(LabelValueError, match=r"rv4.nii.gz: label values \[4\] outside 0-3 .*--label_map '\{4: 3\}'"):
        load_label(rv4)
    assert load_label(rv4, {4: 3})[0].ravel().tolist() == [0, 1, 2, 3]
    acdc = _write(tmp_path / "acdc.nii.gz", _map(0, 1, 2, 3))  # ACDC: 1 RV, 2 myocardium, 3 LV
    assert load_label(acdc, {1: 3, 2: 2, 3: 1})[0].ravel().tolist() == [0, 3, 2, 1]  # all at once: a swap
    both = _write(tmp_path / "both.nii.gz", _map(0, 1, 3, 4))
    with pytest.raises(LabelValueError, match=r"both.nii.gz: holds both 4 and 3, which the label map \{4: 3\} both"):
        load_label(both, {4: 3})


def test_required_classes_and_values_outside_the_classes(tmp_path):
    rv_only = _write(tmp_path / "rv.nii.gz", _map(0, 3))
    with pytest.raises(LabelValueError, match=r"rv.nii.gz: no LV blood pool \(1\) and LV myocardium \(2\) label"):
        load_label(rv_only, required=(1, 2))
    assert load_label(rv_only, required=(3,))[0].max() == 3
    with pytest.raises(LabelValueError, match=r"seven.nii.gz: label values \[7\] outside 0-3$"):
        load_label(_write(tmp_path / "seven.nii.gz", _map(0, 7)))
    assert issubclass(LabelValueError, InputError)
    with pytest.raises(InputError):
        load_label(tmp_path / "missing.nii.gz")
