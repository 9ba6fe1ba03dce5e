"""The scale of the penalty: the smallest ``alpha`` whose optimal codes are all zero.

The Lasso code of ``x`` is zero exactly when every correlation ``|<x, d_k>|``
is at most ``alpha`` (zero is then a stationary point of the objective), so
``alpha_max = max |X D^T|`` is the value above which a model learns nothing;
scikit-learn's Lasso path starts there too. With group penalties ``s_g``, the
code is zero when, for every group, ``||soft(X D_g^T, alpha)||_2 <= s_g``.
With codes constrained to be nonnegative, only positive correlations count:
``max(X D^T)``, and the one-sided shrink in the group condition.
"""

import numpy as np
from sklearn.utils import check_array

from ._docstrings import fill_doc
from ._sklearn_compat import validate_params
from ._validation import check_dictionary, stable_row_norms
from ._warnings import warn

# Correlations within this relative margin of ``alpha`` count as equal to it:
# unit-norm rows drawn as atoms correlate with themselves at 1 up to rounding.
_MARGIN = 1e-6
# Rows per chunk of the correlations ``X D^T`` (bounded memory on large inputs).
_CHUNK_ROWS = 4096


@validate_params(
    {"X": ["array-like"], "dictionary": ["array-like"], "positive": ["boolean"]},
    prefer_skip_nested_validation=True,
)
@fill_doc
def lasso_alpha_max(X, dictionary, *, positive=False):
    """Return the smallest ``alpha`` for which every Lasso code of ``X`` is zero.

    That is the largest absolute correlation of a row of ``X`` with an atom,
    ``max |X D^T|``: at or above it, the exact codes (and so any encoder
    trained on the Lasso objective) are zero. Useful values of ``alpha``
    are fractions of it, as scikit-learn's Lasso path starts from it and
    decreases.

    %(signal_parameters)s

    dictionary : array-like of shape (n_components, n_features)
        Atoms, one per row.

    positive : bool, default=False
        For codes constrained to be nonnegative: the largest correlation
        ``<x, d_k>`` (zero when none is positive).

    Returns
    -------
    alpha_max : float
        The largest absolute correlation ``|<x, d_k>|`` (with ``positive``,
        the largest correlation).

    See Also
    --------
    sparse_encode : Exact codes for a given ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsc import lasso_alpha_max, sparse_encode
    >>> X = np.array([[3.0, 0.0], [0.0, 1.0]])
    >>> dictionary = np.eye(2)
    >>> lasso_alpha_max(X, dictionary)
    3.0
    >>> sparse_encode(X, dictionary, alpha=3.0)
    array([[0., 0.],
           [0., 0.]])
    """
    X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    dictionary = check_dictionary(dictionary, n_features=X.shape[1])
    return _largest_correlation(X, dictionary, positive)


def _correlation_chunks(X, dictionary):
    """``X D^T`` in float64, a chunk of rows at a time."""
    atoms = np.asarray(dictionary, dtype=np.float64)
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        yield np.asarray(X[start : start + _CHUNK_ROWS], dtype=np.float64) @ atoms.T


def _largest_correlation(X, dictionary, positive=False):
    largest = 0.0
    for correlation in _correlation_chunks(X, dictionary):
        magnitudes = correlation if positive else np.abs(correlation)
        largest = max(largest, float(magnitudes.max(initial=0.0)))
    return largest


def codes_all_zero(X, dictionary, alpha, group_index=None, group_penalties=None, positive=False):
    """Whether ``alpha`` (and the group penalties) make every exact code of ``X`` zero.

    ``group_index`` gives each atom's group, ``group_penalties`` each group's
    ``group_alpha * w_g``; without them, the Lasso. ``positive``: codes
    constrained to be nonnegative. Up to a relative rounding margin of
    ``1e-6``.
    """
    for correlation in _correlation_chunks(X, dictionary):
        magnitudes = correlation if positive else np.abs(correlation)
        shrunk = np.maximum(magnitudes - alpha * (1 + _MARGIN), 0.0)
        if group_index is None:
            if np.any(shrunk > 0):
                return False
            continue
        energies = np.zeros((shrunk.shape[0], len(group_penalties)))
        np.add.at(energies.T, group_index, np.square(shrunk).T)
        if np.any(np.sqrt(energies) > np.asarray(group_penalties) * (1 + _MARGIN)):
            return False
    return True


def warn_if_codes_vanish(estimator, X, dictionary, group_index=None, group_penalties=None):
    """Warn when ``estimator.alpha`` zeroes every code of the training rows ``X``.

    Such a model trains to all-zero codes without any other sign; the
    message gives ``alpha_max`` so that the user can pick a useful value.
    """
    positive = getattr(estimator, "positive", False)
    if not codes_all_zero(X, dictionary, estimator.alpha, group_index, group_penalties, positive):
        return
    alpha_max = _largest_correlation(X, dictionary, positive)
    correlation = "correlation" if positive else "absolute correlation"
    call = "X, dictionary, positive=True" if positive else "X, dictionary"
    if group_index is None:
        penalty, lower = f"alpha={estimator.alpha} makes", "'alpha'"
    else:
        penalty = f"alpha={estimator.alpha} and group_alpha={estimator.group_alpha} make"
        lower = "'alpha' or 'group_alpha'"
    warn(
        f"{type(estimator).__name__}: {penalty} every optimal code of the training data "
        f"zero, so the encoder learns nothing. The largest {correlation} of a "
        f"training row with an atom is alpha_max={alpha_max:.4g} "
        f"(sklearn_lsc.lasso_alpha_max({call})); lower {lower} (alpha_max / 10 "
        f"is a usual start).",
        UserWarning,
    )


def _power_of_two_near(value):
    if not (value > 0 and np.isfinite(value)):
        return 1.0
    return float(2.0 ** round(np.log2(value)))


def _mean_square_row_norm(X, peak):
    """The mean squared row norm of ``X`` divided by ``peak**2`` (no overflow), in chunks."""
    total = 0.0
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        rows = X[start : start + _CHUNK_ROWS].astype(np.float64) / peak
        total += float(np.sum(rows * rows))
    return total / X.shape[0]


def signal_scale(X):
    """A power of two near the root mean square norm of the rows of ``X``.

    The learned encoders and :func:`~sklearn_lsc.sparse_encode` work on
    ``X / scale`` with ``alpha / scale`` (an equivalent problem whose codes
    are the original's divided by ``scale``), so that their weights,
    thresholds, tolerances and learning rates mean the same at any scale of
    the data. A power of two makes the division and the multiplication back
    exact. 1.0 for all-zero (or empty) ``X``; computed without overflow.
    """
    X = np.asarray(X)
    peak = float(np.max(np.abs(X))) if X.size else 0.0
    if not (peak > 0 and np.isfinite(peak)):
        return 1.0
    return _power_of_two_near(peak * np.sqrt(_mean_square_row_norm(X, peak)))


def typical_row_norm(X):
    """The median Euclidean norm of the nonzero rows of ``X`` (1.0 when every row is zero).

    The classifiers' default penalties are this times a factor: Lasso codes
    scale with the signals, so a penalty in the signals' units codes data of
    any scale alike. The median, so that a few outlying rows do not set it;
    of the nonzero rows, so that padding or silent frames do not.
    """
    norms = stable_row_norms(X)
    norms = norms[norms > 0]
    if not norms.size:
        return 1.0
    return float(np.median(norms))


def atom_scale(dictionary):
    """A power of two near the largest norm of an atom (a row of ``dictionary``)."""
    norms = stable_row_norms(dictionary)
    return _power_of_two_near(float(np.max(norms)) if norms.size else 0.0)


def typical_atom_scale(dictionary):
    """A power of two near the root mean square norm of the atoms (1.0 for none, or all zero)."""
    norms = stable_row_norms(dictionary)
    peak = float(np.max(norms)) if norms.size else 0.0
    if not (peak > 0 and np.isfinite(peak)):
        return 1.0
    return _power_of_two_near(peak * float(np.sqrt(np.mean(np.square(norms / peak)))))
