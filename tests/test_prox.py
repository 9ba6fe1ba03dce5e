"""Proximal operators: the reshape fast path equals the general scatter/gather path."""

import numpy as np
import pytest
import torch
from _reference import hilasso_prox_reference

from sklearn_lsc._penalties import HiLassoPenalty
from sklearn_lsc._prox import (
    contiguous_group_size,
    group_norms,
    keep_group,
    soft_threshold,
)


def hilasso_prox(values, thresholds, group_index, group_thresholds, group_size=None):
    """The HiLasso penalty's prox with explicit thresholds, on the path ``group_size`` picks."""
    penalty = HiLassoPenalty(0.0, group_index, group_thresholds.detach())
    penalty.group_size = group_size  # None: the general scatter/gather path
    return penalty.shrink(values, thresholds, group_thresholds)


def test_contiguous_group_size_detects_only_equal_contiguous_blocks():
    assert contiguous_group_size(torch.arange(12) // 3, 4) == 3
    assert contiguous_group_size(torch.arange(12) % 4, 4) is None  # interleaved
    assert contiguous_group_size(torch.tensor([0, 0, 1, 1, 1, 2]), 3) is None  # unequal
    assert contiguous_group_size(torch.arange(5), 5) == 1


def test_soft_threshold_by_hand_and_negative_thresholds_act_as_zero():
    values = torch.tensor([-2.0, -0.5, 0.0, 0.3, 1.5])
    np.testing.assert_allclose(soft_threshold(values, 1.0), [-1.0, 0.0, 0.0, 0.0, 0.5])
    thresholds = torch.tensor([1.0, 1.0, 1.0, -1.0, -0.2])
    np.testing.assert_allclose(soft_threshold(values, thresholds), [-1.0, 0.0, 0.0, 0.3, 1.5])
    np.testing.assert_allclose(soft_threshold(values, -3.0), values)


def test_fast_and_general_paths_agree_with_the_reference_and_each_other():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((7, 12))
    t = rng.uniform(0.0, 0.5, 12)
    s = rng.uniform(0.0, 1.5, 4)
    groups = [np.arange(3 * g, 3 * g + 3) for g in range(4)]
    index = torch.arange(12) // 3
    args = (torch.tensor(values), torch.tensor(t), index, torch.tensor(s))
    fast = hilasso_prox(*args, group_size=3)
    general = hilasso_prox(*args)
    expected = np.stack([hilasso_prox_reference(row, t, groups, s) for row in values])
    np.testing.assert_allclose(fast, expected, atol=1e-12)
    np.testing.assert_allclose(fast, general, atol=1e-14)
    assert (fast == 0).any() and (fast != 0).any()
    np.testing.assert_allclose(
        group_norms(fast, index, 4, 3),
        np.stack([np.linalg.norm(fast.numpy()[:, g], axis=1) for g in groups], axis=1),
        rtol=1e-12,
        atol=1e-14,  # all-zero groups: the clamp keeps sqrt's gradient finite
    )
    selected = torch.tensor([[0], [3], [1], [2], [2], [0], [3]])
    np.testing.assert_array_equal(
        keep_group(fast, index, selected, 3), keep_group(fast, index, selected)
    )


@pytest.mark.parametrize("group_size", [None, 3])
def test_gradients_are_finite_at_zero_groups(group_size):
    values = torch.zeros(2, 6, dtype=torch.float64, requires_grad=True)
    thresholds = torch.full((6,), 0.1, dtype=torch.float64, requires_grad=True)
    index = torch.arange(6) // 3
    group_thresholds = torch.full((2,), 0.2, dtype=torch.float64, requires_grad=True)
    out = hilasso_prox(values, thresholds, index, group_thresholds, group_size)
    (out.sum() + group_norms(out, index, 2, group_size).sum()).backward()
    for tensor in (values, thresholds, group_thresholds):
        assert torch.isfinite(tensor.grad).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_groups, n_components", [(5, 12), (300, 400)])  # product, gather
def test_per_atom_equals_a_column_gather_values_and_gradients(dtype, n_groups, n_components):
    from sklearn_lsc._prox import per_atom

    generator = torch.Generator().manual_seed(0)
    per_group = torch.randn(7, n_groups, generator=generator, dtype=dtype, requires_grad=True)
    index = torch.randint(0, n_groups, (n_components,), generator=generator)
    expanded = per_atom(per_group, index)
    reference = per_group[:, index]
    assert torch.equal(expanded, reference)  # exactly: one nonzero term per sum
    weights = torch.randn(7, n_components, generator=generator, dtype=dtype)
    (gradient,) = torch.autograd.grad((expanded * weights).sum(), per_group)
    (reference_gradient,) = torch.autograd.grad((reference * weights).sum(), per_group)
    torch.testing.assert_close(gradient, reference_gradient)
