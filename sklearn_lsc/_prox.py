"""Proximal operators used by the exact solvers and the unrolled networks."""

import torch


def soft_threshold(values, threshold):
    """Element-wise soft threshold ``sign(v) * max(|v| - t, 0)``.

    ``threshold`` broadcasts against ``values`` (a scalar, one threshold per
    coefficient, ...). Written with ``relu`` so that autograd sees a plain
    piecewise-linear function.
    """
    return torch.sign(values) * torch.relu(values.abs() - threshold)


def group_norms(code, group_index, n_groups):
    """Per-sample l2 norm of each group of ``code``: shape ``(n_samples, n_groups)``.

    The squared norms are clamped away from zero before the square root so
    that the gradient at an all-zero group is finite (zero), not NaN.
    """
    squares = code.new_zeros(code.shape[0], n_groups).index_add_(1, group_index, code * code)
    return torch.sqrt(squares.clamp_min(1e-30))


def group_shrink(code, group_index, group_thresholds):
    """Scale each group ``z_g`` by ``max(0, 1 - s_g / ||z_g||)`` (block soft threshold)."""
    norms = group_norms(code, group_index, group_thresholds.shape[-1])
    scale = torch.relu(1.0 - group_thresholds / norms)
    return code * scale[:, group_index]


def hilasso_prox(values, thresholds, group_index, group_thresholds):
    """Prox of ``t ||z||_1 + sum_g s_g ||z_g||_2``: soft threshold, then group shrink.

    For non-overlapping groups this composition is the exact prox.
    """
    return group_shrink(soft_threshold(values, thresholds), group_index, group_thresholds)
