"""Dictionary initialization and the online dictionary step of Mairal et al.

The dictionary step never computes codes: it takes codes from the caller (the
encoder network), so dictionary learning runs without any iterative solver.
"""

import numpy as np
import torch

from . import _fused
from ._validation import stable_row_norms
from ._warnings import warn


def init_dictionary_from_samples(X, n_components, random_state, positive=False):
    """``n_components`` distinct nonzero rows of ``X``, normalized to unit norm.

    Rows of zero norm cannot be atoms, and repeated rows (and multiples of
    one another, of either sign) give one atom; when ``X`` has fewer such rows than
    ``n_components``, the remaining atoms are random Gaussian directions.
    ``positive``: the rows' positive parts (and the random directions'
    absolute values), for a nonnegative dictionary. Returns a new float
    array of ``X``'s dtype.
    """
    if positive:
        X = np.maximum(X, 0)
    norms = stable_row_norms(X)  # in float64: no overflow for huge rows
    usable = np.flatnonzero(norms > 0)
    chosen = _distinct_rows(X, norms, usable, n_components, random_state, signed=not positive)
    n_from_rows = chosen.size
    atoms = [X[chosen] / norms[chosen, None]]
    if n_from_rows < n_components:
        warn(
            f"n_components={n_components} atoms, but the data has only {n_from_rows} "
            f"distinct nonzero rows to start them from: {n_components - n_from_rows} atoms "
            "start as random directions. Pass more rows, or fewer components.",
            UserWarning,
        )
        extra = random_state.standard_normal((n_components - n_from_rows, X.shape[1]))
        extra = np.abs(extra) if positive else extra
        atoms.append(extra / np.linalg.norm(extra, axis=1, keepdims=True))
    return np.concatenate(atoms).astype(X.dtype, copy=False)


def _distinct_rows(X, norms, usable, n_components, random_state, signed):
    """Up to ``n_components`` of the ``usable`` rows, in random order, no two of one direction.

    Two atoms of one direction code nothing the other does not, and split
    the codes between them; with ``signed`` codes, ``d`` and ``-d`` are one
    direction too. Directions are compared rounded (a row's multiple
    normalizes to the same atom up to rounding). The rows are
    walked in the order of one random permutation, so that without repeats
    the draw is that of ``random_state.choice(usable, n_components,
    replace=False)``; only the rows walked are normalized.
    """
    order = usable[random_state.permutation(usable.size)]
    seen, chosen = set(), []
    for start in range(0, order.size, 4 * n_components):
        block = order[start : start + 4 * n_components]
        # (+ 0.0: -0.0 and 0.0 are one value, not two keys.)
        keys = (X[block] / norms[block, None]).round(6) + 0.0
        if signed:  # each key's first nonzero entry made positive
            first = np.take_along_axis(keys, (keys != 0).argmax(axis=1)[:, None], axis=1)
            keys = np.where(first < 0, -keys, keys) + 0.0
        for row, key in zip(block, keys, strict=True):
            key = key.tobytes()
            if key not in seen:
                seen.add(key)
                chosen.append(row)
                if len(chosen) == n_components:
                    return np.asarray(chosen)
    return np.asarray(chosen, dtype=np.intp)


def check_nonnegative_atoms(dictionary, name):
    """Refuse a dictionary with negative entries where the atoms must stay nonnegative."""
    if np.any(np.asarray(dictionary) < 0):
        raise ValueError(
            f"The '{name}' parameter has negative entries, but positive_dict=True keeps "
            "the atoms nonnegative: give nonnegative atoms (or set positive_dict=False)."
        )


class OnlineDictionaryUpdate:
    """Online dictionary learning step (Mairal, Bach, Ponce & Sapiro 2009).

    Keeps the sufficient statistics ``A = sum Z^T Z`` and ``B = sum X^T Z``
    with forgetting and updates the atoms by one pass of block-coordinate
    descent, projecting each atom onto the unit ball.

    Parameters
    ----------
    n_components, n_features : int
    forgetting_factor : float or None
        Weight of the past statistics at each step. None uses Mairal's
        schedule (the one of scikit-learn's ``MiniBatchDictionaryLearning``),
        which forgets quickly at first and less and less later.
    dtype, device : torch dtype and device of the statistics.
    positive : bool, default=False
        Whether to keep the atoms nonnegative (each update is clipped at
        zero before its projection onto the unit ball, as scikit-learn's
        ``positive_dict``).
    """

    def __init__(
        self, n_components, n_features, *, forgetting_factor=None, dtype, device, positive=False
    ):
        self.forgetting_factor = forgetting_factor
        self.positive = bool(positive)
        self.A = torch.zeros(n_components, n_components, dtype=dtype, device=device)
        self.B = torch.zeros(n_features, n_components, dtype=dtype, device=device)
        self.n_steps = 0

    def _beta(self, batch_size):
        if self.forgetting_factor is not None:
            return self.forgetting_factor
        step = self.n_steps + 1
        theta = step * batch_size if step < batch_size else batch_size**2 + step - batch_size
        return (theta + 1 - batch_size) / (theta + 1)

    def to(self, device):
        self.A, self.B = self.A.to(device), self.B.to(device)
        return self

    @torch.no_grad()
    def step(self, dictionary, X, code, rng=None):
        """Accumulate ``(X, code)`` and update ``dictionary`` (a tensor) in place.

        With ``rng`` (a numpy ``RandomState``), the atoms the codes have not
        used (:func:`resample_unused_atoms`) are first redrawn from the rows
        of ``X``, those the codes represent worst the likeliest (and not
        updated this step). Returns the boolean mask of the redrawn atoms
        (all False without ``rng``).
        """
        batch_size = X.shape[0]
        beta = self._beta(batch_size)
        self.A.mul_(beta).addmm_(code.T, code, alpha=1.0 / batch_size)
        self.B.mul_(beta).addmm_(X.T, code, alpha=1.0 / batch_size)
        self.n_steps += 1
        # The atom updates are sequential (each reads the atoms updated before
        # it): a loop of small products, run on the host (compiled where numba
        # is installed, else in numpy, where one small operation costs a
        # fraction of a torch dispatch); the statistics accumulate on the device.
        atoms = dictionary.cpu().numpy().astype(np.float64)
        A = self.A.cpu().numpy().astype(np.float64)
        redrawn = np.zeros(atoms.shape[0], dtype=bool)
        if rng is not None:
            signals = X.cpu().numpy().astype(np.float64)
            residuals = (X - code @ dictionary).cpu().numpy().astype(np.float64)
            redrawn = resample_unused_atoms(atoms, A, signals, rng, self.positive, residuals)
        B_T = self.B.T.cpu().numpy().astype(np.float64)
        atoms = update_atoms(atoms, A, B_T, positive=self.positive, skip=redrawn)
        dictionary.copy_(torch.from_numpy(atoms))
        return redrawn


def update_atoms(dictionary, A, B_T, positive=False, skip=None):
    """One pass of Mairal's block-coordinate atom updates, in place; returns the atoms.

    ``u_k = d_k + (b_k - A_k D) / A_kk``, then ``d_k = u_k / max(1, ||u_k||)``
    (projection onto the unit ball), for ``k = 0, 1, ...`` in turn. Atoms that
    no code has used yet (``A_kk = 0``), and those of the boolean mask
    ``skip``, are left as they are. ``positive``: ``u_k`` is clipped at zero
    first (the projection onto the nonnegative part of the unit ball).

    With numba installed (the ``fast`` extra) the loop runs compiled
    (in :mod:`sklearn_lsc._fused_kernels`): the same atoms up to rounding,
    without a numpy call per atom. ``SKLEARN_LSC_NUMBA=0`` turns it off.
    """
    n_atoms = dictionary.shape[0]
    if A.shape != (n_atoms, n_atoms) or B_T.shape != dictionary.shape:
        raise ValueError(
            f"A {A.shape} and B_T {B_T.shape} do not match the atoms {dictionary.shape}"
        )
    kernels = _fused.compiled_kernels()
    if kernels is not None:
        from numba.core.errors import NumbaError  # numba is installed: the kernels imported

        mask = np.zeros(n_atoms, dtype=bool) if skip is None else skip
        atoms = np.ascontiguousarray(dictionary, dtype=np.float64)
        try:
            updated = kernels.update_atoms(
                atoms,
                np.ascontiguousarray(A, dtype=np.float64),
                np.ascontiguousarray(B_T, dtype=np.float64),
                bool(positive),
                np.ascontiguousarray(mask, dtype=bool),
            )
        except NumbaError as error:
            _fused.disable(error)
        else:
            if updated is not dictionary:
                dictionary[...] = updated
            return dictionary
    for k, a_kk in enumerate(np.diagonal(A).tolist()):
        if a_kk <= 1e-12 or (skip is not None and skip[k]):
            continue
        atom = dictionary[k] + (B_T[k] - A[k] @ dictionary) / a_kk
        if positive:
            atom = np.maximum(atom, 0.0)
        dictionary[k] = atom / max(1.0, float(np.sqrt(atom @ atom)))
    return dictionary


# An atom is unused when its A_kk is under this fraction of the largest A_jj.
UNUSED_ENERGY = 1e-6


def resample_unused_atoms(dictionary, A, signals, rng, positive=False, residuals=None):
    """Redraw, in place, the atoms the codes have not used from rows of ``signals``.

    Atom ``k`` is unused when ``A_kk`` (its codes' accumulated energy, which
    forgetting decays) is under ``UNUSED_ENERGY`` times the largest ``A_jj``;
    nothing is redrawn while no atom is used. Each redrawn atom is a nonzero
    row drawn at random plus Gaussian noise of 1% of its standard deviation
    (so that two atoms drawn from one row differ), as scikit-learn's
    dictionary learning does, normalized to unit norm; with ``positive``, its
    positive part (rows with no positive entry are not drawn). Returns the
    boolean mask of the redrawn atoms.

    With ``residuals`` (``signals`` less their codes' approximations), a row
    is drawn with probability proportional to its residual's squared norm
    (uniformly when every residual is zero): a row that a used atom already
    represents is seldom drawn, so a redrawn atom is seldom a near-copy of a
    used one (such a pair made a learned coordinate descent blow up).
    """
    diagonal = np.diagonal(A)
    unused = diagonal <= UNUSED_ENERGY * diagonal.max()
    rows = np.maximum(signals, 0.0) if positive else signals
    drawable = np.any(rows != 0, axis=1)
    rows = rows[drawable]
    if diagonal.max() <= 0 or not unused.any() or rows.shape[0] == 0:
        return np.zeros_like(unused)
    weights = None
    if residuals is not None:
        energies = np.square(residuals[drawable]).sum(axis=1)
        total = energies.sum()
        if np.isfinite(total) and total > 0:
            weights = energies / total
    for k in np.flatnonzero(unused):
        if weights is None:
            row = rows[rng.randint(rows.shape[0])]
        else:
            row = rows[rng.choice(rows.shape[0], p=weights)]
        atom = row + rng.normal(0.0, 0.01 * (row.std() or 1.0), size=row.shape)
        if positive:
            atom = np.maximum(atom, 0.0)
        if not np.any(atom):
            atom = row
        dictionary[k] = atom / np.linalg.norm(atom)
    return unused
