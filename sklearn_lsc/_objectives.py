"""Sparse-coding objectives per sample: the penalised least squares and the contrastive term."""

import copy

import numpy as np
import torch


def sparse_coding_loss(X, code, dictionary, penalty):
    """Per-sample objective ``0.5 ||x - z D||^2 + P(z)`` (torch, differentiable).

    ``penalty`` is one of :mod:`._penalties` (``P``), on the device and in
    the dtype of ``code``.
    """
    residual = X - code @ dictionary
    return 0.5 * residual.pow(2).sum(dim=1) + penalty.value(code)


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


def objective_numpy(X, code, dictionary, penalty):
    """:func:`sparse_coding_loss` of arrays, in float64 on the CPU, as a numpy array.

    For reporting and scoring; values that overflow float64 come back as
    infinities (callers check).
    """
    arrays = (X, code, dictionary)
    # (Copies: torch warns on read-only arrays, and nothing here writes.)
    tensors = [torch.from_numpy(np.array(value, dtype=np.float64)) for value in arrays]
    with torch.no_grad():
        penalty = copy.deepcopy(penalty).to("cpu", torch.float64)  # not the caller's
        per_sample = sparse_coding_loss(*tensors, penalty)
    return per_sample.numpy()
