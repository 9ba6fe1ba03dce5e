"""Per-atom ISTA steps for dictionaries whose atoms differ in norm, chosen on the training rows.

ISTA's one step ``1 / L`` suits the atoms of the largest norm: an atom of a
tenth of their norm has its coefficient move a hundred times too slowly.
Steps scaled per atom (:func:`sklearn_lsc.solvers.ista_operators` with a
``norm_floor``) fix that, and on dictionaries such as an NMF's components
FISTA then converges far faster. But scaled steps are not always better:
among image patches taken as atoms, the faint ones are never used, and
scaling their steps up forces every step down (the faint patches are
coherent with each other), so FISTA slows down. Which is better depends on
which atoms the data use, so it is measured: the untrained network starts
from the candidate floor whose FISTA iterates code the training rows best.
"""

import torch

from .solvers import ista

# Atoms whose norms differ by less than this relative amount count as equal:
# every floor then gives ISTA's 1 / L (up to rounding), and none is tried.
_EQUAL_NORMS = 1e-3
# The candidates are tried on at most this many of the training rows.
_ROWS = 1000
# At most this many floors are tried (the lowest a 2^-12 of the largest norm):
# atoms fainter than that step as atoms of the lowest floor would.
_MAX_FLOORS = 12


def rows_tried(X):
    """At most :data:`_ROWS` evenly spaced rows of ``X`` (an array or a tensor)."""
    return X[:: max(1, X.shape[0] // _ROWS)][:_ROWS]


def norm_floor_candidates(norms):
    """``None`` (the step 1 / L), then floors halving from the largest norm to the smallest.

    The last floor is at or below the smallest nonzero norm (Jacobi's
    steps), or the :data:`_MAX_FLOORS`-th. Only ``None`` for atoms of equal
    norms (or all zero).
    """
    largest = float(norms.max()) if norms.numel() else 0.0
    smallest = float(norms[norms > 0].min()) if bool((norms > 0).any()) else 0.0
    candidates = [None]
    if largest <= 0 or largest <= smallest * (1.0 + _EQUAL_NORMS):
        return candidates
    floor = largest
    while floor > smallest and len(candidates) <= _MAX_FLOORS:
        floor /= 2.0
        candidates.append(floor)
    return candidates


def choose_norm_floor(X, dictionary, penalty, n_iter):
    """The candidate floor whose ``n_iter`` FISTA iterations code ``X`` best, or None.

    ``X`` (n_samples, n_features) and ``dictionary`` are tensors in the
    network's units, ``penalty`` the Lasso's (no group term: the group prox
    takes one step for all coefficients). The objective is compared as a
    sum over (at most :data:`_ROWS`, evenly spaced) rows; None, the plain
    step, wins ties.
    """
    with torch.no_grad():
        norms = torch.linalg.vector_norm(dictionary, dim=1)
        candidates = norm_floor_candidates(norms)
        if len(candidates) == 1:
            return None
        rows = rows_tried(X)
        best, best_objective = None, None
        for floor in candidates:
            code, _ = ista(rows, dictionary, penalty, max_iter=n_iter, tol=0.0, norm_floor=floor)
            residual = torch.addmm(rows, code, dictionary, alpha=-1.0)
            objective = float(0.5 * residual.square().sum() + penalty.value(code).sum())
            if best_objective is None or objective < best_objective:
                best, best_objective = floor, objective
        return best
