"""Sparse-coding objectives, per sample, in torch and in numpy."""

import numpy as np

from ._prox import group_norms


def lasso_loss(X, code, dictionary, alpha):
    """Per-sample Lasso objective ``0.5 ||x - z D||^2 + alpha ||z||_1`` (torch)."""
    residual = X - code @ dictionary
    return 0.5 * residual.pow(2).sum(dim=1) + alpha * code.abs().sum(dim=1)


def lasso_objective_numpy(X, code, dictionary, alpha):
    """Per-sample Lasso objective in float64 numpy, for reporting and scoring."""
    X = np.asarray(X, dtype=np.float64)
    code = np.asarray(code, dtype=np.float64)
    dictionary = np.asarray(dictionary, dtype=np.float64)
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
    group_term = sum(
        penalty * np.linalg.norm(code[:, group], axis=1)
        for group, penalty in zip(groups, group_penalties, strict=True)
    )
    return lasso_objective_numpy(X, code, dictionary, alpha) + group_term
