"""The numba kernel of the dictionary step's atom updates (imported only with numba)."""

import numba
import numpy as np


@numba.njit(cache=True, fastmath={"contract"})
def update_atoms(dictionary, A, B_T, positive, skip):
    """:func:`sklearn_lsc._dictionary.update_atoms` in place, ``skip`` a boolean mask.

    The updates are sequential (each atom reads the atoms updated before
    it): one loop, no call per atom. Arrays C-contiguous, float64.
    """
    n_atoms, n_features = dictionary.shape
    atom = np.empty(n_features)
    for k in range(n_atoms):
        a_kk = A[k, k]
        if a_kk <= 1e-12 or skip[k]:
            continue
        # u_k = d_k + (b_k - A_k D) / A_kk
        for f in range(n_features):
            atom[f] = B_T[k, f]
        for j in range(n_atoms):
            weight = A[k, j]
            for f in range(n_features):
                atom[f] -= weight * dictionary[j, f]
        squared = 0.0
        for f in range(n_features):
            value = dictionary[k, f] + atom[f] / a_kk
            if positive:
                value = max(value, 0.0)
            atom[f] = value
            squared += value * value
        scale = max(1.0, np.sqrt(squared))
        for f in range(n_features):
            dictionary[k, f] = atom[f] / scale
    return dictionary
