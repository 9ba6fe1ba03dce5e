"""Plain numpy reference algorithms, one sample at a time, written from the papers.

They share no code with the package: the tests compare the package against them.
"""

import numpy as np


def soft(v, t):
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def ista_reference(X, D, alpha, n_iter):
    """``n_iter`` ISTA steps from zero, step 1/L, for each row separately."""
    L = np.linalg.eigvalsh(D @ D.T).max()
    codes = []
    for x in X:
        z = np.zeros(D.shape[0])
        for _ in range(n_iter):
            gradient = (z @ D - x) @ D.T
            z = soft(z - gradient / L, alpha / L)
        codes.append(z)
    return np.array(codes)


def cod_reference(X, D, alpha, n_updates):
    """Greedy coordinate descent: ``n_updates`` exact coordinate minimisations.

    Each update minimises the Lasso objective exactly along the coordinate
    whose minimiser is farthest from its current value; the result is the
    vector of all coordinate-wise minimisers at the end (Gregor & LeCun's
    output ``h(B)``).
    """
    norms2 = (D**2).sum(axis=1)
    codes = []
    for x in X:
        z = np.zeros(D.shape[0])
        for _ in range(n_updates):
            minimisers = _coordinate_minimisers(x, z, D, norms2, alpha)
            k = np.argmax(np.abs(minimisers - z))
            z[k] = minimisers[k]
        codes.append(_coordinate_minimisers(x, z, D, norms2, alpha))
    return np.array(codes)


def _coordinate_minimisers(x, z, D, norms2, alpha):
    """For each j, the minimiser over z_j alone, the other coordinates fixed."""
    residual = x - z @ D
    partial = (residual @ D.T) + z * norms2  # d_j . (x - sum_{i != j} z_i d_i)
    return soft(partial, alpha) / norms2


def lasso_kkt_violation(X, Z, D, alpha):
    """Largest violation of the Lasso optimality conditions, relative to alpha.

    With ``g = (x - z D) D^T``: ``g_j = alpha sign(z_j)`` where ``z_j != 0`` and
    ``|g_j| <= alpha`` where ``z_j == 0``.
    """
    G = (X - Z @ D) @ D.T
    active = Z != 0
    on_support = np.abs(G - alpha * np.sign(Z))[active]
    off_support = np.maximum(np.abs(G) - alpha, 0.0)[~active]
    worst = max(on_support.max(initial=0.0), off_support.max(initial=0.0))
    return worst / alpha
