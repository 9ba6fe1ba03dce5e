"""Sparse-coding objectives, per sample, in torch and in numpy."""

import numpy as np


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
