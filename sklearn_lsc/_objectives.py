"""Sparse-coding objectives, per sample, in torch and in numpy."""

import numpy as np
import torch

from ._prox import group_norms


def lasso_loss(X, code, dictionary, alpha):
    """Per-sample Lasso objective ``0.5 ||x - z D||^2 + alpha ||z||_1`` (torch)."""
    residual = X - code @ dictionary
    return 0.5 * residual.pow(2).sum(dim=1) + alpha * code.abs().sum(dim=1)


def contrastive_loss(code, labels, margin):
    """Per-sample contrastive term over all pairs of rows (Hadsell et al. 2006).

    Row ``i`` gets the mean over rows ``j`` of ``0.5 d_ij^2`` when
    ``labels[i] == labels[j]``, else ``0.5 max(0, margin - d_ij)^2``, with
    ``d_ij = ||z_i - z_j||``; its mean over rows is the mean over pairs.
    """
    norms = code.pow(2).sum(dim=1)
    # |z_i|^2 + |z_j|^2 - 2 z_i.z_j: O(n^2) memory for n rows, not O(n^2 K).
    squared = (norms[:, None] + norms[None, :] - 2.0 * code @ code.T).clamp_min(0.0)
    # The square root has no gradient at zero: clamp it away.
    distance = squared.clamp_min(1e-12).sqrt()
    same = labels[:, None] == labels[None, :]
    pair = torch.where(same, 0.5 * squared, 0.5 * torch.relu(margin - distance).pow(2))
    return pair.mean(dim=1)


def lasso_objective_numpy(X, code, dictionary, alpha):
    """Per-sample Lasso objective in float64 numpy, for reporting and scoring."""
    X = np.asarray(X, dtype=np.float64)
    code = np.asarray(code, dtype=np.float64)
    dictionary = np.asarray(dictionary, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # callers check for overflow
        residual = X - code @ dictionary
        return 0.5 * np.einsum("ij,ij->i", residual, residual) + alpha * np.abs(code).sum(axis=1)


def hilasso_loss(X, code, dictionary, alpha, group_index, group_penalties, group_size=None):
    """Per-sample HiLasso objective (torch).

    ``0.5 ||x - z D||^2 + alpha ||z||_1 + sum_g group_penalties_g ||z_g||_2``,
    ``group_penalties = group_alpha * group_weights``, of shape ``(n_groups,)``
    or, for per-sample weights (the discriminative objective),
    ``(n_samples, n_groups)``. ``group_size``: see :mod:`._prox`.
    """
    norms = group_norms(code, group_index, group_penalties.shape[-1], group_size)
    return lasso_loss(X, code, dictionary, alpha) + (norms * group_penalties).sum(dim=1)


def hilasso_objective_numpy(X, code, dictionary, alpha, groups, group_penalties):
    """Per-sample HiLasso objective in float64 numpy."""
    code = np.asarray(code, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # callers check for overflow
        group_term = sum(
            penalty * np.linalg.norm(code[:, group], axis=1)
            for group, penalty in zip(groups, group_penalties, strict=True)
        )
    return lasso_objective_numpy(X, code, dictionary, alpha) + group_term
