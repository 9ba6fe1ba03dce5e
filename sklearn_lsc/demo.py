"""The demo of ``python -m sklearn_lsc demo``: learned encoders against exact solvers on digits.

Public so that the benchmarks and users can run it from Python: :func:`~sklearn_lsc.demo.run_demo`
returns the rows that :func:`format_table` prints.
"""

import numbers
import time
import warnings

import numpy as np
import torch
from sklearn.decomposition import sparse_encode as sklearn_sparse_encode
from sklearn.exceptions import ConvergenceWarning

from ._objectives import objective_numpy
from ._penalties import L1Penalty
from ._sklearn_compat import Interval, validate_params
from ._timing import median_time
from .datasets import load_digits_problem
from .encoders import LearnedLassoEncoder
from .solvers import sparse_encode

__all__ = ["format_table", "run_demo"]


@validate_params(
    {
        "n_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "architectures": [list, tuple],
        "encoder_params": [dict, None],
        "device": [str, torch.device],
        "repeats": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "log": [callable, None],
    },
    # The encoders it builds from these arguments validate their own.
    prefer_skip_nested_validation=False,
)
def run_demo(
    *,
    n_layers=5,
    alpha=0.1,
    n_components=128,
    architectures=("rescaled_lista", "lista"),
    encoder_params=None,
    device="cpu",
    repeats=5,
    random_state=0,
    log=print,
):
    """Train learned encoders on digits and time them beside exact solvers.

    The problem is :func:`~sklearn_lsc.datasets.load_digits_problem`: an
    encoder of each architecture is trained on the training rows, then every
    method (FISTA with as many iterations as layers and with 50,
    scikit-learn's ``lasso_lars`` and ``lasso_cd``, and the encoders) codes
    the held-out rows; gaps are relative to FISTA run to convergence.

    Parameters
    ----------
    n_layers : int, default=5
        Depth of every encoder, and FISTA's iteration count beside them.
    alpha : float, default=0.1
        Weight of the l1 penalty.
    n_components : int, default=128
        Number of atoms: training rows drawn as the dictionary.
    architectures : tuple of str, default=("rescaled_lista", "lista")
        The encoders' ``architecture`` values, one encoder each.
    encoder_params : dict, default=None
        Further parameters of every :class:`~sklearn_lsc.LearnedLassoEncoder`.
    device : str, default="cpu"
        The encoders' ``device``.
    repeats : int, default=5
        Timed calls of each method; the median is reported.
    random_state : int, RandomState instance or None, default=0
        Seed of the problem and of the encoders.
    log : callable or None, default=print
        Called with a line of progress text at each step; None: silent.

    Returns
    -------
    rows : list of dict
        One per method, with keys ``method``, ``steps``, ``objective``,
        ``gap`` (relative to the optimum), ``seconds`` and the speed-ups
        ``vs_lasso_lars``, ``vs_lasso_cd`` and ``vs_fista_same_steps``.
    encoders : dict
        The fitted encoders, by architecture.

    Examples
    --------
    >>> from sklearn_lsc.demo import run_demo
    >>> rows, encoders = run_demo(
    ...     architectures=("lista",), encoder_params={"max_iter": 2}, repeats=1, log=None
    ... )
    >>> [row["method"] for row in rows]
    ['FISTA (5 it.)', 'FISTA (50 it.)', 'sklearn lasso_lars', 'sklearn lasso_cd', 'LISTA']
    """
    if log is None:
        log = _silent
    X_train, X_test, dictionary = load_digits_problem(
        n_components=n_components, random_state=random_state
    )
    log(
        f"digits: {len(X_train)} training / {len(X_test)} held-out rows, "
        f"{dictionary.shape[0]} atoms, alpha={alpha}, float32"
    )
    # The optimum in float64, far past any method's accuracy.
    optimum_code = sparse_encode(
        X_test.astype(np.float64), dictionary, alpha=alpha, max_iter=20000, tol=1e-12
    )
    optimum = objective_numpy(X_test, optimum_code, dictionary, L1Penalty(alpha)).mean()

    methods = [
        (f"FISTA ({n_layers} it.)", n_layers, lambda: _fista(X_test, dictionary, alpha, n_layers)),
        ("FISTA (50 it.)", 50, lambda: _fista(X_test, dictionary, alpha, 50)),
        ("sklearn lasso_lars", "-", lambda: _sklearn(X_test, dictionary, alpha, "lasso_lars")),
        ("sklearn lasso_cd", "-", lambda: _sklearn(X_test, dictionary, alpha, "lasso_cd")),
    ]
    encoders = {}
    for architecture in architectures:
        encoder = LearnedLassoEncoder(
            alpha=alpha,
            dictionary=dictionary,
            architecture=architecture,
            n_layers=n_layers,
            device=device,
            random_state=random_state,
            **(encoder_params or {}),
        )
        start = time.perf_counter()
        encoder.fit(X_train)
        log(
            f"trained {architecture.upper()} ({n_layers} layers) in "
            f"{time.perf_counter() - start:.1f} s, {encoder.n_iter_} epochs"
        )
        encoders[architecture] = encoder
        methods.append((architecture.upper(), n_layers, lambda e=encoder: e.transform(X_test)))

    rows = []
    for method, steps, encode in methods:
        seconds, code = median_time(encode, repeats=repeats)
        objective = objective_numpy(X_test, code, dictionary, L1Penalty(alpha)).mean()
        rows.append(
            {
                "method": method,
                "steps": steps,
                "objective": objective,
                "gap": (objective - optimum) / optimum,
                "seconds": seconds,
            }
        )
    seconds_of = {row["method"]: row["seconds"] for row in rows}
    for row in rows:
        row["vs_lasso_lars"] = seconds_of["sklearn lasso_lars"] / row["seconds"]
        row["vs_lasso_cd"] = seconds_of["sklearn lasso_cd"] / row["seconds"]
        fista_seconds = seconds_of.get(f"FISTA ({row['steps']} it.)", float("nan"))
        row["vs_fista_same_steps"] = fista_seconds / row["seconds"]
    return rows, encoders


def _silent(*args, **kwargs):
    pass


def _fista(X, dictionary, alpha, n_iter):
    return sparse_encode(X, dictionary, alpha=alpha, max_iter=n_iter, tol=0.0)


def _sklearn(X, dictionary, alpha, algorithm):
    # In float32, lasso_cd's duality gap stalls just above its tolerance and
    # warns for every row; the table reports the gap it reaches instead.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return sklearn_sparse_encode(
            X, dictionary, algorithm=algorithm, alpha=alpha, max_iter=10000
        )


def format_table(rows):
    """The rows of :func:`~sklearn_lsc.demo.run_demo` as an aligned text table.

    Parameters
    ----------
    rows : list of dict
        The first value :func:`~sklearn_lsc.demo.run_demo` returns.

    Returns
    -------
    table : str
        One line per method, after a header line and a rule.

    Examples
    --------
    >>> from sklearn_lsc.demo import format_table
    >>> row = dict(method="LISTA", steps=5, objective=0.1, gap=0.02, seconds=0.01,
    ...            vs_lasso_lars=30.0, vs_lasso_cd=90.0, vs_fista_same_steps=1.1)
    >>> print(format_table([row]).splitlines()[-1])
    LISTA                         5    0.10000     2.00%      10.00     30.0     90.0      1.1
    """
    header = (
        f"{'method':<20} {'layers/it.':>10} {'objective':>10} {'rel. gap':>9} "
        f"{'time (ms)':>10} {'x lars':>8} {'x cd':>8} {'x FISTA':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        vs_fista = row["vs_fista_same_steps"]
        lines.append(
            f"{row['method']:<20} {row['steps']!s:>10} {row['objective']:>10.5f} "
            f"{row['gap']:>9.2%} {row['seconds'] * 1e3:>10.2f} "
            f"{row['vs_lasso_lars']:>8.1f} {row['vs_lasso_cd']:>8.1f} "
            f"{'-' if np.isnan(vs_fista) else f'{vs_fista:.1f}':>8}"
        )
    return "\n".join(lines)
