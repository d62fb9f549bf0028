"""Landmarks of a label map: centroids of myocardium and RV at the lowest, middle and highest heart slice."""

from __future__ import annotations

import numpy as np
import pytest

from custom_networks.core.errors import InputError
from custom_networks.core.geometry import apply_affine, centered_grid_affine, rotation_matrix
from custom_networks.registration import LANDMARK_NAMES, label_landmarks, landmark_slice_axis

#: Oblique grid with the slice axis FIRST (5 mm), to check the slice axis comes from the geometry.
AFFINE = centered_grid_affine((6, 12, 10), (5.0, 1.2, 1.4), rotation_matrix((20, -30, 110)), (10.0, -4.0, 30.0))


def _toy_label() -> np.ndarray:
    """Slices 1-4 hold both labels; slice 0 only myocardium, slice 5 only RV (so they are not heart slices)."""
    label = np.zeros((6, 12, 10), dtype=np.uint8)
    label[0:5, 2:4, 2:5] = 2  # myocardium: in-plane centroid (2.5, 3)
    label[1:6, 7, 5:9] = 3  # RV: in-plane centroid (7, 6.5)
    label[2, 9, 1] = 1  # blood pool: ignored
    return label


def test_centroids_match_hand_computed_values():
    marks = label_landmarks(_toy_label(), AFFINE)
    assert marks.slice_axis == 0
    # heart slices 1..4; middle of 1 and 4 is 2.5: a tie between 2 and 3 resolves to the lower one.
    assert marks.slices == (1, 2, 4)
    expected_index = []
    for s in (1, 2, 4):
        expected_index += [[s, 2.5, 3.0], [s, 7.0, 6.5]]
    np.testing.assert_allclose(marks.points, apply_affine(AFFINE, np.asarray(expected_index)), atol=1e-9)
    np.testing.assert_allclose(marks.slice_direction, AFFINE[:3, 0] / 5.0, atol=1e-12)
    assert marks.to_dict()["names"] == list(LANDMARK_NAMES)


def test_middle_slice_is_the_heart_slice_nearest_the_midpoint():
    label = np.zeros((10, 8, 8), dtype=np.uint8)
    for s in (1, 2, 7):
        label[s, 1:3, 1:3] = 2
        label[s, 5:7, 5:7] = 3
    affine = np.diag([6.0, 1.0, 1.0, 1.0])
    assert label_landmarks(label, affine).slices == (1, 2, 7)  # midpoint 4: slice 2 (2 away) beats 7 (3 away)


def test_min_voxels_excludes_specks():
    label = _toy_label()
    label[5, 0, 0] = 2  # a single myocardium voxel makes slice 5 a heart slice...
    assert label_landmarks(label, AFFINE).slices[-1] == 5
    assert label_landmarks(label, AFFINE, min_voxels=2).slices[-1] == 4  # ...unless specks are excluded


def test_flipped_array_gives_the_same_points_in_reverse_slice_order():
    label = _toy_label()
    label[4][label[4] == 3] = 0  # heart slices 1..3: an odd count, so the middle slice has no tie
    flip = np.eye(4)
    flip[0, 0], flip[0, 3] = -1.0, label.shape[0] - 1.0  # index i -> 5 - i
    marks = label_landmarks(label, AFFINE)
    flipped = label_landmarks(label[::-1], AFFINE @ flip)
    np.testing.assert_allclose(flipped.points.reshape(3, 2, 3)[::-1].reshape(6, 3), marks.points, atol=1e-9)
    np.testing.assert_allclose(flipped.slice_direction, -marks.slice_direction, atol=1e-12)


def test_slice_axis_from_geometry_and_ties():
    assert landmark_slice_axis(np.diag([1.25, 1.25, 8.0, 1.0])) == 2
    assert landmark_slice_axis(AFFINE) == 0
    assert landmark_slice_axis(np.diag([1.5, 1.5, 1.5, 1.0])) == 2  # isotropic: the canonical (last) axis


def test_undefined_landmarks_raise_input_error_naming_the_map():
    label = _toy_label()
    no_rv = np.where(label == 3, 0, label)
    with pytest.raises(InputError, match=r"subject_7\.nii\.gz.*label 3 \(RV\)"):
        label_landmarks(no_rv, AFFINE, name="subject_7.nii.gz")
    one_slice = np.zeros_like(label)
    one_slice[2, 2:4, 2:5] = 2
    one_slice[2, 7, 5:9] = 3
    with pytest.raises(InputError, match="1 slice"):
        label_landmarks(one_slice, AFFINE, name="x")
    with pytest.raises(InputError, match="3D"):
        label_landmarks(label[0], AFFINE)
