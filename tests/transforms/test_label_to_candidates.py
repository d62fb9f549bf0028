"""Candidate sets of partial label maps."""

from __future__ import annotations

import torch

from custom_networks.transforms import LabelToCandidatesd, label_candidates


def test_full_labels_are_one_hot_and_partial_ones_leave_the_undrawn_classes_open():
    label = torch.tensor([[[0, 1, 2, 3]]])
    full = label_candidates(label, torch.ones(4, dtype=torch.bool))
    torch.testing.assert_close(full[:, 0], torch.eye(4))
    partial = label_candidates(label, torch.tensor([True, True, True, False]))  # RV never drawn
    # 0 -> {0, 3}; 1 -> {1}; 2 -> {2}; a 3 on a map without RV is not trusted -> {0, 3}
    expected = torch.tensor([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]], dtype=torch.float32).T
    torch.testing.assert_close(partial[:, 0], expected)


def test_dictionary_transform_reads_the_labelled_classes():
    item = {"label": torch.tensor([[[0, 1], [2, 3]]]), "labelled_classes": torch.tensor([True, True, False, False])}
    out = LabelToCandidatesd("label")(item)
    assert out["label"].shape == (4, 2, 2)
    assert out["label"].sum(0).tolist() == [[3, 1], [3, 3]]
