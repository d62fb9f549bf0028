"""Stage-1 inference: every slice through the 2D network, along the stack's own slice axis, mirror-consistent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from custom_networks.inferers import SliceStackInferer
from custom_networks.nets import SliceSegmenter


def _net() -> SliceSegmenter:
    torch.manual_seed(0)
    return SliceSegmenter(channels=(4, 8, 16), num_res_units=0).eval()


def _stack(shape, slice_axis) -> MetaTensor:
    spacing = [1.5, 1.5, 1.5]
    spacing[slice_axis] = 8.0
    return MetaTensor(
        torch.rand(1, 1, *shape, generator=torch.Generator().manual_seed(1)), affine=np.diag([*spacing, 1])
    )


def test_each_slice_is_segmented_on_its_own_along_the_slice_axis():
    net = _net()
    stack = _stack((5, 37, 30), slice_axis=0)  # slice axis first, sizes not multiples of the divisor
    probs = SliceStackInferer(slices_per_batch=2, tta="none")(stack, net)
    assert probs.shape == (1, 4, 5, 37, 30) and isinstance(probs, MetaTensor)
    torch.testing.assert_close(probs.sum(1), torch.ones(1, 5, 37, 30))
    # the third slice, padded and segmented alone, gives the same probabilities
    one = torch.nn.functional.pad(stack.as_tensor()[:, :, 2], (1, 1, 1, 2))
    with torch.no_grad():
        alone = torch.softmax(net(one), 1)[:, :, 1:-2, 1:-1]
    torch.testing.assert_close(probs[:, :, 2], alone, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(probs.affine), np.asarray(stack.affine))


def test_averaging_over_the_group_makes_a_turned_or_mirrored_stack_get_the_same_answer():
    net = _net()
    stack = _stack((30, 45, 4), slice_axis=2)  # odd padding: the group average must still be exact
    flips, dihedral = SliceStackInferer(tta="flips"), SliceStackInferer(tta="dihedral")
    probs = flips(stack, net)
    torch.testing.assert_close(flips(stack.flip(2), net).flip(2), probs, atol=1e-5, rtol=1e-4)
    turned = MetaTensor(torch.rot90(stack.as_tensor(), 1, (2, 3)), affine=stack.affine)
    back = torch.rot90(dihedral(turned, net).as_tensor(), -1, (2, 3))
    torch.testing.assert_close(back, dihedral(stack, net).as_tensor(), atol=1e-5, rtol=1e-4)
    plain = SliceStackInferer(tta="none")
    assert float((plain(stack.flip(2), net).flip(2) - plain(stack, net)).abs().max()) > 1e-3
    with pytest.raises(ValueError, match="tta 'rotations'"):
        SliceStackInferer(tta="rotations")
