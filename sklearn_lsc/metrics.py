"""Scores for model selection: closeness to the exact optimum, reconstruction at a sparsity.

An encoder's :meth:`~sklearn_lsc.LearnedLassoEncoder.score` is minus its mean
objective, which grows with ``alpha``: comparing it across values of
``alpha`` picks the smallest. These scores compare what users tune for. Each
metric takes arrays; each scorer is a callable ``scorer(estimator, X, y=None)``
(higher is better) for ``GridSearchCV(scoring=...)``, and accepts a fitted
encoder or a :class:`~sklearn.pipeline.Pipeline` that ends in one.
"""

import numbers

import numpy as np
import torch
from sklearn.utils import check_array

from ._docstrings import fill_doc
from ._sklearn_compat import Interval, validate_params
from .solvers import hilasso_objective, lasso_objective, sparse_encode

# Elements of the selected atoms held at once by sparse_reconstruction_error.
_BATCH_ELEMENTS = 2**22

__all__ = [
    "make_reconstruction_scorer",
    "neg_relative_gap_scorer",
    "relative_gap",
    "sparse_reconstruction_error",
]


@validate_params(
    {
        "X": ["array-like"],
        "code": ["array-like"],
        "dictionary": ["array-like"],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "groups": ["array-like", Interval(numbers.Integral, 1, None, closed="left"), None],
        "group_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "group_weights": ["array-like", None],
        "positive": ["boolean"],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "device": [str, torch.device],
    },
    # sparse_encode validates the penalty passed on to it.
    prefer_skip_nested_validation=False,
)
@fill_doc
def relative_gap(
    X,
    code,
    dictionary,
    *,
    alpha,
    groups=None,
    group_alpha=0.0,
    group_weights=None,
    positive=False,
    max_iter=5000,
    tol=1e-8,
    device="cpu",
):
    """Relative gap of the codes' mean objective to the exact optimum's.

    ``(F(code) - F(z*)) / F(z*)`` with ``F`` the mean Lasso (or HiLasso, when
    ``groups`` is given) objective over the rows and ``z*`` the exact codes
    of :func:`~sklearn_lsc.sparse_encode` (FISTA run to ``tol``; nonnegative
    with ``positive``, as the codes of a ``positive=True`` encoder). Zero for
    exact codes; the quantity the benchmarks report. Comparable across
    ``alpha``: each value is measured against its own optimum.

    Read more in the :ref:`User Guide <model_selection>`.

    %(metric_parameters)s
    alpha : float
        Weight of the l1 penalty.
    groups : int or array-like, default=None
        The groups of atoms of the HiLasso penalty (as for
        :func:`~sklearn_lsc.sparse_encode`); None for the Lasso.
    group_alpha : float, default=0.0
        Weight of the group penalty.
    group_weights : array-like of shape (n_groups,), default=None
        Positive per-group weights; ones when None.
    positive : bool, default=False
        Whether the codes are constrained to be nonnegative: the optimum is
        then the constrained problem's, and ``code`` must be nonnegative
        (up to rounding).
    max_iter : int, default=5000
        Iterations of the exact solver.
    tol : float, default=1e-8
        Tolerance of the exact solver.
    device : str or torch.device, default="cpu"
        Where the exact solver runs (as for :func:`~sklearn_lsc.sparse_encode`).

    Returns
    -------
    gap : float
        The relative gap; negative only where the exact solver stopped short.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsc import sparse_encode
    >>> from sklearn_lsc.metrics import relative_gap
    >>> rng = np.random.default_rng(0)
    >>> X, D = rng.standard_normal((20, 8)), rng.standard_normal((12, 8))
    >>> rough = sparse_encode(X, D, alpha=0.5, max_iter=3, tol=0.0)
    >>> bool(relative_gap(X, rough, D, alpha=0.5) > 0)
    True
    """
    X, code, dictionary = _check_shapes(X, code, dictionary)
    # (Entries negative by rounding only, as a network's may be, are kept.)
    if positive and np.any(code < -1e-6 * np.max(np.abs(code), initial=0.0)):
        raise ValueError(
            "The 'code' parameter has negative entries, but positive=True constrains the "
            "codes to be nonnegative: its objective is infinite."
        )
    penalty = dict(alpha=alpha, groups=groups, group_alpha=group_alpha)
    optimum_code = sparse_encode(
        X,
        dictionary,
        **penalty,
        group_weights=group_weights,
        positive=positive,
        max_iter=max_iter,
        tol=tol,
        device=device,
    )
    reached = _mean_objective(X, code, dictionary, penalty, group_weights)
    optimum = _mean_objective(X, optimum_code, dictionary, penalty, group_weights)
    if optimum <= 0:  # every row zero: any code of zero objective is exact
        return 0.0 if reached <= 0 else float("inf")
    return float(reached / optimum - 1.0)


def _check_shapes(X, code, dictionary):
    """The three arrays in float64, refused by name unless their shapes fit."""
    X = check_array(X, dtype=np.float64, input_name="X")
    code = check_array(code, dtype=np.float64, input_name="code")
    dictionary = check_array(dictionary, dtype=np.float64, input_name="dictionary")
    if code.shape != (X.shape[0], dictionary.shape[0]) or dictionary.shape[1] != X.shape[1]:
        raise ValueError(
            f"X {X.shape}, code {code.shape} and dictionary {dictionary.shape} do not fit: "
            "code must be (n_samples, n_components), dictionary (n_components, n_features)."
        )
    return X, code, dictionary


def _mean_objective(X, code, dictionary, penalty, group_weights):
    if penalty["groups"] is None:
        return lasso_objective(X, code, dictionary, penalty["alpha"])
    return hilasso_objective(X, code, dictionary, **penalty, group_weights=group_weights)


@validate_params(
    {
        "X": ["array-like"],
        "code": ["array-like"],
        "dictionary": ["array-like"],
        "n_nonzero": [Interval(numbers.Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
@fill_doc
def sparse_reconstruction_error(X, code, dictionary, *, n_nonzero):
    """Relative reconstruction error from each code's ``n_nonzero`` largest coefficients.

    Each row keeps the atoms of its ``n_nonzero`` largest coefficients (in
    magnitude; fewer where the code has fewer nonzeros), refits their
    coefficients by least squares, and the error is ``sum ||x - z D||^2 /
    sum ||x||^2`` over the rows. The refit removes the shrinkage of the l1
    penalty, so codes of different ``alpha`` are compared by the atoms they
    select, at the same sparsity.

    Read more in the :ref:`User Guide <model_selection>`.

    %(metric_parameters)s
    n_nonzero : int
        The number of atoms each row may use.

    Returns
    -------
    error : float
        In [0, 1] (0: exact reconstruction; 1: nothing reconstructed).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsc.metrics import sparse_reconstruction_error
    >>> D = np.eye(3)
    >>> X = np.array([[3.0, 1.0, 0.0]])
    >>> code = np.array([[2.0, 0.5, 0.0]])
    >>> print(round(sparse_reconstruction_error(X, code, D, n_nonzero=1), 3))
    0.1
    """
    X, code, dictionary = _check_shapes(X, code, dictionary)
    total = float(np.einsum("ij,ij->", X, X))
    if total == 0.0:
        return 0.0
    k = min(n_nonzero, dictionary.shape[0])
    residual = 0.0
    # In batches: the selected atoms of a batch take rows * k * n_features floats.
    rows_per_batch = max(1, _BATCH_ELEMENTS // (k * dictionary.shape[1]))
    for start in range(0, X.shape[0], rows_per_batch):
        rows = slice(start, start + rows_per_batch)
        residual += _refit_residual(X[rows], code[rows], dictionary, k)
    return residual / total


def _refit_residual(X, code, dictionary, k):
    """``sum ||x - z D||^2`` after refitting each row on its ``k`` largest coefficients."""
    support = np.argsort(-np.abs(code), axis=1, kind="stable")[:, :k]
    used = np.take_along_axis(code, support, axis=1) != 0
    # Per row: least squares on the selected atoms (unused slots: zero atoms,
    # whose coefficients the minimum-norm solution leaves at zero).
    atoms = torch.from_numpy(dictionary[support] * used[:, :, None]).transpose(1, 2)
    signals = torch.from_numpy(X)[:, :, None]
    coefficients = torch.linalg.lstsq(atoms, signals, driver="gelsd").solution
    return float((signals - atoms @ coefficients).pow(2).sum())


def _final_step(estimator, X):
    """The encoder at the end of ``estimator`` and ``X`` as it reaches it."""
    if hasattr(estimator, "steps"):  # a Pipeline: the last step codes
        for _, step in estimator.steps[:-1]:
            if step is not None and step != "passthrough":
                X = step.transform(X)
        estimator = estimator.steps[-1][1]
    return estimator, X


def neg_relative_gap_scorer(estimator, X, y=None):
    """Score a fitted encoder by minus the relative gap of its codes of ``X``.

    The gap is :func:`~sklearn_lsc.metrics.relative_gap`'s. For
    ``GridSearchCV(scoring=neg_relative_gap_scorer)``: the encoder's own
    penalty (``alpha``, and ``groups_``, ``group_alpha``, ``group_weights``
    of a structured encoder) and its ``positive`` (nonnegative codes) set
    the exact problem. Higher is better; 0 is exact.

    Read more in the :ref:`User Guide <model_selection>`.

    Parameters
    ----------
    estimator : estimator
        A fitted encoder with ``transform``, ``components_`` and ``alpha``,
        or a Pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
        The signals to code.
    y : None
        Ignored.

    Returns
    -------
    score : float
        Minus the relative gap.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsc import LearnedLassoEncoder
    >>> from sklearn_lsc.metrics import neg_relative_gap_scorer
    >>> X = np.random.default_rng(0).standard_normal((100, 6))
    >>> encoder = LearnedLassoEncoder(n_components=8, alpha=0.1, max_iter=3).fit(X)
    >>> bool(neg_relative_gap_scorer(encoder, X) < 0)
    True
    """
    encoder, X = _final_step(estimator, X)
    code = encoder.transform(X)
    groups = getattr(encoder, "groups_", None)
    structured = {}
    if groups is not None:
        structured = dict(
            groups=groups, group_alpha=encoder.group_alpha, group_weights=encoder.group_weights
        )
    device = getattr(encoder, "device", "cpu")  # the exact solver runs where the encoder does
    positive = bool(getattr(encoder, "positive", False))  # the encoder's problem's optimum
    return -relative_gap(
        X,
        code,
        encoder.components_,
        alpha=encoder.alpha,
        positive=positive,
        device=device,
        **structured,
    )


class _ReconstructionScorer:
    def __init__(self, n_nonzero):
        self.n_nonzero = n_nonzero

    def __call__(self, estimator, X, y=None):
        encoder, X = _final_step(estimator, X)
        code = encoder.transform(X)
        return -sparse_reconstruction_error(X, code, encoder.components_, n_nonzero=self.n_nonzero)

    def __repr__(self):
        return f"make_reconstruction_scorer(n_nonzero={self.n_nonzero})"


@validate_params(
    {"n_nonzero": [Interval(numbers.Integral, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def make_reconstruction_scorer(n_nonzero):
    """A scorer: minus the sparse reconstruction error of an encoder's codes.

    Compares encoders (any ``alpha``, architecture or depth) by how well the
    ``n_nonzero`` atoms each selects reconstruct the signals (the error of
    :func:`~sklearn_lsc.metrics.sparse_reconstruction_error`).

    Read more in the :ref:`User Guide <model_selection>`.

    Parameters
    ----------
    n_nonzero : int
        The number of atoms each row may use.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None)``, higher is better; picklable.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_lsc import LearnedLassoEncoder
    >>> from sklearn_lsc.metrics import make_reconstruction_scorer
    >>> X = np.random.default_rng(0).standard_normal((90, 6))
    >>> search = GridSearchCV(
    ...     LearnedLassoEncoder(n_components=8, max_iter=2, random_state=0),
    ...     {"alpha": [0.05, 0.2]},
    ...     scoring=make_reconstruction_scorer(n_nonzero=3),
    ...     cv=3,
    ... ).fit(X)
    >>> sorted(search.best_params_)
    ['alpha']
    """
    return _ReconstructionScorer(n_nonzero)
