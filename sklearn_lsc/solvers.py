"""Exact batched sparse-coding solvers: the references every network is measured against.

All samples are solved at once: one iteration is a handful of matrix products
over the whole batch, on CPU or GPU.
"""

import numbers

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._objectives import lasso_objective_numpy
from ._prox import soft_threshold
from ._torch_utils import resolve_device, to_numpy, to_tensor, torch_dtype
from ._validation import check_code, check_dictionary

__all__ = ["sparse_encode", "lasso_objective"]

# Guards a relative change against division by zero for all-zero codes.
_TINY = 1e-30


def ista_operators(dictionary):
    """``W = D^T / L``, ``S = I - G / L`` and the step ``1 / L`` of ISTA (torch).

    ``L`` is the largest eigenvalue of the Gram matrix ``G = D D^T``: the
    Lipschitz constant of the gradient of the quadratic term.
    """
    gram = dictionary @ dictionary.T
    lipschitz = torch.linalg.eigvalsh(gram)[-1]
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return dictionary.T / lipschitz, eye - gram / lipschitz, 1.0 / lipschitz


def cod_operators(dictionary):
    """``W``, ``S`` and per-coefficient step sizes of coordinate descent (torch).

    Exact minimisation along coordinate ``j`` divides by ``G_jj``, so
    ``W = D^T / diag(G)`` (column-wise), ``S_kj = delta_kj - G_kj / G_jj`` (zero
    diagonal) and the threshold of coefficient ``j`` is ``alpha / G_jj``. With
    unit-norm atoms these are Gregor & LeCun's ``W = D^T``, ``S = I - G``.
    """
    gram = dictionary @ dictionary.T
    inv_diag = 1.0 / torch.diagonal(gram)
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return dictionary.T * inv_diag, eye - gram * inv_diag, inv_diag


def _relative_change(new, old):
    """Largest over samples of ``||new - old|| / ||new||`` (a host float)."""
    change = torch.linalg.vector_norm(new - old, dim=1)
    scale = torch.linalg.vector_norm(new, dim=1).clamp_min(_TINY)
    return float((change / scale).max()) if new.shape[0] else 0.0


def ista(X, dictionary, alpha, *, max_iter, tol, init=None, accelerated=True):
    """Batched ISTA / FISTA on torch tensors; returns ``(code, n_iter)``.

    FISTA uses Beck & Teboulle's momentum with O'Donoghue & Candes' adaptive
    restart, per sample: a sample whose momentum points uphill restarts it.
    """
    W, S, step = ista_operators(dictionary)
    B = X @ W
    threshold = alpha * step
    code = torch.zeros_like(B) if init is None else init.clone()
    extrapolated = code
    momentum = torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        new_code = soft_threshold(torch.addmm(B, extrapolated, S), threshold)
        if accelerated:
            uphill = ((extrapolated - new_code) * (new_code - code)).sum(1, keepdim=True)
            momentum = torch.where(uphill > 0, torch.ones_like(momentum), momentum)
            next_momentum = 0.5 * (1.0 + torch.sqrt(1.0 + 4.0 * momentum**2))
            extrapolated = new_code + ((momentum - 1.0) / next_momentum) * (new_code - code)
            momentum = next_momentum
        else:
            extrapolated = new_code
        converged = _relative_change(new_code, code) < tol
        code = new_code
        if converged:
            break
    return code, n_iter


def cod(X, dictionary, alpha, *, max_iter, tol, init=None):
    """Batched greedy coordinate descent (Li & Osher); returns ``(code, n_iter)``.

    Each sample updates, at each step, the coordinate whose exact minimiser is
    farthest from its current value. One iteration is ``n_components`` such
    steps: the same arithmetic per sample as one ISTA iteration.
    """
    W, S, inv_diag = cod_operators(dictionary)
    threshold = alpha * inv_diag
    code = torch.zeros(X.shape[0], W.shape[1], dtype=X.dtype, device=X.device)
    if init is not None:
        code = init.clone()
    B = torch.addmm(X @ W, code, S)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        for _ in range(W.shape[1]):
            code_bar = soft_threshold(B, threshold)
            selected = (code_bar - code).abs().argmax(dim=1, keepdim=True)
            change = code_bar.gather(1, selected) - code.gather(1, selected)
            B.add_(change * S.index_select(0, selected.squeeze(1)))
            code.scatter_add_(1, selected, change)
        # Largest pending coordinate move, relative to the code: zero at the optimum.
        pending = (soft_threshold(B, threshold) - code).abs().amax(dim=1)
        scale = code.abs().amax(dim=1).clamp_min(_TINY)
        if X.shape[0] == 0 or float((pending / scale).max()) < tol:
            break
    return soft_threshold(B, threshold), n_iter


_ALGORITHMS = ("ista", "fista", "cod")


@validate_params(
    {
        "X": ["array-like"],
        "dictionary": ["array-like"],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "algorithm": [StrOptions(set(_ALGORITHMS))],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "init": ["array-like", None],
        "device": [str, torch.device],
    },
    prefer_skip_nested_validation=True,
)
def sparse_encode(
    X,
    dictionary,
    *,
    alpha=1.0,
    algorithm="fista",
    max_iter=1000,
    tol=1e-6,
    init=None,
    device="cpu",
):
    """Exact sparse codes of the rows of ``X``, all samples solved at once.

    Solves, for each row ``x`` of ``X``, the Lasso problem::

        min_z 0.5 * ||x - z D||_2^2 + alpha * ||z||_1

    with the same scaling as :func:`sklearn.decomposition.sparse_encode`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Signals, one per row.

    dictionary : array-like of shape (n_components, n_features)
        Atoms, one per row. Used as given (not normalized); no atom may be zero.

    alpha : float, default=1.0
        Weight of the l1 penalty.

    algorithm : {"fista", "ista", "cod"}, default="fista"
        ``"ista"``: proximal gradient with step ``1/L``. ``"fista"``: ISTA with
        Nesterov momentum and adaptive restart. ``"cod"``: greedy coordinate
        descent, one iteration being ``n_components`` coordinate updates.

    max_iter : int, default=1000
        Maximum number of iterations.

    tol : float, default=1e-6
        Stop when, for every sample, the relative change of the code in one
        iteration (``"cod"``: the largest pending coordinate move relative to
        the largest coefficient) falls under ``tol``.

    init : array-like of shape (n_samples, n_components), default=None
        Codes to start from (warm start). Zeros when None.

    device : str or torch.device, default="cpu"
        Where to compute: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    code : ndarray of shape (n_samples, n_components)
        The sparse codes, in the dtype of ``X`` (float32 or float64).

    See Also
    --------
    lasso_objective : The objective these codes minimise.
    sklearn.decomposition.sparse_encode : scikit-learn's (per-sample) solvers.

    References
    ----------
    A. Beck and M. Teboulle, "A fast iterative shrinkage-thresholding algorithm
    for linear inverse problems", SIAM J. Imaging Sciences, 2009.

    Y. Li and S. Osher, "Coordinate descent optimization for l1 minimization
    with application to compressed sensing; a greedy algorithm", Inverse
    Problems and Imaging, 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsc import sparse_encode
    >>> rng = np.random.default_rng(0)
    >>> dictionary = rng.standard_normal((8, 5))
    >>> X = rng.standard_normal((3, 5))
    >>> code = sparse_encode(X, dictionary, alpha=0.5)
    >>> code.shape
    (3, 8)
    """
    X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    dictionary = check_dictionary(dictionary, n_features=X.shape[1], dtype=X.dtype)
    if init is not None:
        init = check_code(
            init,
            n_samples=X.shape[0],
            n_components=dictionary.shape[0],
            dtype=X.dtype,
            name="init",
        )
    torch_device = resolve_device(device)
    dtype = torch_dtype(X.dtype)
    tensors = [to_tensor(a, device=torch_device, dtype=dtype) for a in (X, dictionary)]
    init_tensor = None if init is None else to_tensor(init, device=torch_device, dtype=dtype)
    with torch.inference_mode():
        code, _ = _solve(*tensors, alpha, algorithm, max_iter, tol, init_tensor)
    return to_numpy(code, X.dtype)


def _solve(X, dictionary, alpha, algorithm, max_iter, tol, init):
    """Dispatch to one algorithm on validated tensors; returns ``(code, n_iter)``."""
    if algorithm == "cod":
        return cod(X, dictionary, alpha, max_iter=max_iter, tol=tol, init=init)
    return ista(
        X,
        dictionary,
        alpha,
        max_iter=max_iter,
        tol=tol,
        init=init,
        accelerated=algorithm == "fista",
    )


@validate_params(
    {
        "X": ["array-like"],
        "code": ["array-like"],
        "dictionary": ["array-like"],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def lasso_objective(X, code, dictionary, alpha):
    """Mean Lasso objective of codes ``code`` for signals ``X``.

    The mean over samples of ``0.5 * ||x - z D||_2^2 + alpha * ||z||_1``,
    computed in float64.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Signals, one per row.

    code : array-like of shape (n_samples, n_components)
        Codes, one per row.

    dictionary : array-like of shape (n_components, n_features)
        Atoms, one per row.

    alpha : float
        Weight of the l1 penalty.

    Returns
    -------
    objective : float
        The mean objective.

    See Also
    --------
    sparse_encode : Codes that minimise this objective.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsc import lasso_objective
    >>> X = np.array([[1.0, 0.0]])
    >>> dictionary = np.eye(2)
    >>> float(lasso_objective(X, np.array([[0.5, 0.0]]), dictionary, alpha=1.0))
    0.625
    """
    X = check_array(X, dtype=np.float64, input_name="X")
    dictionary = check_array(dictionary, dtype=np.float64, input_name="dictionary")
    if dictionary.shape[1] != X.shape[1]:
        raise ValueError(
            f"The 'dictionary' parameter has {dictionary.shape[1]} features per atom, "
            f"but X has {X.shape[1]} features."
        )
    code = check_code(
        code,
        n_samples=X.shape[0],
        n_components=dictionary.shape[0],
        dtype=np.float64,
        name="code",
    )
    return float(lasso_objective_numpy(X, code, dictionary, alpha).mean())
