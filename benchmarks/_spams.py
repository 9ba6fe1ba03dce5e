"""SPAMS solvers (the optional ``spams-bin`` wheel) as zero-argument callables.

Each returns None when SPAMS is not installed, so a suite can leave it out.
SPAMS wants Fortran-ordered float64 arrays with one signal (atom) per column;
the callables take and return our row convention.
"""

import numpy as np


def _spams():
    try:
        import spams
    except ImportError:
        return None
    return spams


def hilasso_solver(X, dictionary, *, alpha, group_alpha, group_size, tol):
    """``spams.fistaFlat`` on the HiLasso problem with contiguous groups of ``group_size``."""
    spams = _spams()
    if spams is None:
        return None
    signals = np.asfortranarray(X.T, dtype=np.float64)
    atoms = np.asfortranarray(dictionary.T, dtype=np.float64)
    start = np.zeros((dictionary.shape[0], X.shape[0]), order="F")
    # A 1-based group label per atom, int32.
    labels = (np.arange(dictionary.shape[0]) // group_size + 1).astype(np.int32)

    def solve():
        # lambda1 weighs the group term, lambda2 the l1 term (SPAMS' convention).
        code = spams.fistaFlat(
            signals, atoms, start, loss="square", regul="sparse-group-lasso-l2",
            lambda1=group_alpha, lambda2=alpha, groups=labels, max_it=5000, tol=tol,
            it0=5000, numThreads=-1,
        )  # fmt: skip
        return np.asarray(code).T

    return solve


def lasso_solver(X, dictionary, *, alpha):
    """``spams.lasso`` with LARS: ``0.5 ||x - z D||^2 + alpha ||z||_1`` (``mode=2``)."""
    spams = _spams()
    if spams is None:
        return None
    signals = np.asfortranarray(X.T, dtype=np.float64)
    atoms = np.asfortranarray(dictionary.T, dtype=np.float64)
    return lambda: spams.lasso(signals, D=atoms, lambda1=alpha, mode=2, numThreads=-1).T.toarray()
