"""Exact batched sparse-coding solvers: the references every network is measured against.

All samples are solved at once: one iteration is a handful of matrix products
over the whole batch, on CPU or GPU.
"""

import numbers

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array

from ._docstrings import fill_doc
from ._groups import check_group_tree, check_group_weights
from ._objectives import objective_numpy
from ._penalties import L1Penalty, as_penalty, group_penalty
from ._prox import group_norms, group_sums, keep_group
from ._scale import atom_scale, signal_scale
from ._sets import check_sets, compact_labels, set_batches
from ._sklearn_compat import Interval, StrOptions, validate_params
from ._torch_utils import argmax_rows, resolve_device, to_tensor, torch_dtype
from ._validation import check_code, check_dictionary
from ._warnings import warn

__all__ = ["sparse_encode", "lasso_objective", "hilasso_objective"]

# Guards a relative change against division by zero for all-zero codes.
_TINY = 1e-30

# Elements (rows times atoms plus features) per batch of sparse_encode: the
# solvers keep a few buffers of a batch's codes, so memory stays bounded.
_BATCH_ELEMENTS = {"cpu": 2**20, "cuda": 2**24}


def ista_operators(dictionary, norm_floor=None):
    """``W = D^T P``, ``S = I - G P`` and the steps ``P`` of ISTA (torch).

    ``G = D D^T``. With ``norm_floor`` None, ``P = 1 / L`` (a scalar
    tensor), ``L`` the largest eigenvalue of ``G``: the Lipschitz constant
    of the gradient of the quadratic term. Otherwise ``P`` is diagonal, one
    step per atom (a tensor of shape (n_components,)): atom ``k`` steps as
    an atom of norm ``r_k = max(||d_k||, norm_floor)`` would,
    ``P_k = 1 / (r_k^2 L_r)`` with ``L_r`` the largest eigenvalue of
    ``R^-1 G R^-1`` (``R = diag(r)``), so that ``P^1/2 G P^1/2`` has
    largest eigenvalue one and ISTA still descends. A floor at or above the
    largest norm gives ``1 / L`` for every atom; at or below the smallest,
    the Jacobi steps ``1 / (||d_k||^2 L_r)``, which on atoms of very
    different norms converge far faster than ``1 / L`` (the small atoms'
    coefficients move at their own scale) and on others slower (see
    :func:`sklearn_lsc._step_scaling.choose_norm_floor`).
    """
    gram = dictionary @ dictionary.T
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    if norm_floor is None:
        lipschitz = torch.linalg.eigvalsh(gram)[-1]
        return dictionary.T / lipschitz, eye - gram / lipschitz, 1.0 / lipschitz
    if not norm_floor > 0:
        raise ValueError(f"norm_floor must be positive (a zero atom's step); got {norm_floor}.")
    norms = torch.diagonal(gram).sqrt().clamp_min(float(norm_floor))
    scaled = gram / norms[:, None] / norms[None, :]
    step = 1.0 / (norms.square() * torch.linalg.eigvalsh(scaled)[-1])
    return dictionary.T * step, eye - gram * step, step


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


def _relative_size(change, code):
    """Largest over samples of ``||change|| / ||code||`` (a host float)."""
    size = torch.linalg.vector_norm(change, dim=1)
    scale = torch.linalg.vector_norm(code, dim=1).clamp_min(_TINY)
    return float((size / scale).max()) if code.shape[0] else 0.0


def ista(X, dictionary, penalty, *, max_iter, tol, init=None, accelerated=True, norm_floor=None):
    """Batched ISTA / FISTA on torch tensors; returns ``(code, n_iter)``.

    FISTA uses Beck & Teboulle's momentum with O'Donoghue & Candes' adaptive
    restart, per sample: a sample whose momentum points uphill restarts it.
    Every iteration works in the same four buffers: on the CPU, fresh
    full-size temporaries cost page faults, and more time than the product.
    ``norm_floor``: per-atom steps (see :func:`ista_operators`; the Lasso's
    penalty only, whose prox takes a step per coefficient).
    """
    W, S, step = ista_operators(dictionary, norm_floor)
    if norm_floor is None:
        step = float(step)  # once: on a GPU, reading it back every iteration would sync
    B = X @ W
    code = torch.zeros_like(B) if init is None else init.clone()
    extrapolated = code.clone()
    new_code, change = torch.empty_like(B), torch.empty_like(B)
    momentum = torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        torch.addmm(B, extrapolated, S, out=new_code)
        penalty.prox_in_place(new_code, step, change)
        torch.sub(new_code, code, out=change)
        if accelerated:
            # Uphill when (extrapolated - new_code) . (new_code - code) > 0;
            # ``extrapolated`` is free to overwrite from here on.
            uphill = extrapolated.sub_(new_code).mul_(change).sum(1, keepdim=True)
            uphill = penalty.joint(uphill)  # with sets, each set restarts as one
            momentum = torch.where(uphill > 0, torch.ones_like(momentum), momentum)
            next_momentum = 0.5 * (1.0 + torch.sqrt(1.0 + 4.0 * momentum**2))
            torch.addcmul(new_code, (momentum - 1.0) / next_momentum, change, out=extrapolated)
            momentum = next_momentum
        else:
            extrapolated.copy_(new_code)
        converged = _relative_size(change, new_code) < tol
        code, new_code = new_code, code
        if converged:
            break
    return code, n_iter


def coordinate_buffers(B):
    """Buffers every greedy coordinate step reuses (fresh temporaries cost page
    faults on the CPU): the row indices and three arrays shaped like ``B``."""
    rows = torch.arange(B.shape[0], device=B.device)
    return (rows, *(torch.empty_like(B) for _ in range(3)))


def coordinate_step_in_place(B, code, S, threshold, buffers, penalty):
    """One greedy coordinate step of every row; ``B`` is updated, ``code`` is not.

    ``h`` is ``penalty``'s prox with the per-coefficient ``threshold``.
    Picks per row the coordinate ``k`` where ``h(B)`` moves farthest from
    ``code`` and adds ``(h(B)_k - code_k) S[k]`` to ``B`` (rounded as
    ``B + change * S[k]``). Returns ``(k, h(B)_k, change)``, one per row;
    the caller writes the code (CoD adds the change, LCoD sets the value).
    """
    rows, code_bar, scratch, update = buffers
    penalty.shrink_in_place(code_bar.copy_(B), threshold, scratch)
    selected = argmax_rows(torch.sub(code_bar, code, out=scratch).abs_(), scratch)
    new_value = code_bar[rows, selected]
    change = new_value - code[rows, selected]
    B.add_(torch.index_select(S, 0, selected, out=update).mul_(change[:, None]))
    return selected, new_value, change


def cod(X, dictionary, penalty, *, max_iter, tol, init=None):
    """Batched greedy coordinate descent (Li & Osher); returns ``(code, n_iter)``.

    Each sample updates, at each step, the coordinate whose exact minimiser is
    farthest from its current value. One iteration is ``n_components`` such
    steps: the same arithmetic per sample as one ISTA iteration. ``penalty``
    is separable (no group term): each coordinate's prox is exact.
    """
    W, S, inv_diag = cod_operators(dictionary)
    threshold, _ = penalty.thresholds(inv_diag)
    code = torch.zeros(X.shape[0], W.shape[1], dtype=X.dtype, device=X.device)
    if init is not None:
        code = init.clone()
    B = torch.addmm(X @ W, code, S)
    buffers = coordinate_buffers(B)
    rows = buffers[0]
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        for _ in range(W.shape[1]):
            selected, _, change = coordinate_step_in_place(B, code, S, threshold, buffers, penalty)
            code.index_put_((rows, selected), change, accumulate=True)
        # Largest pending coordinate move, relative to the code: zero at the optimum.
        pending = (penalty.shrink(B, threshold) - code).abs().amax(dim=1)
        scale = code.abs().amax(dim=1).clamp_min(_TINY)
        if float((pending / scale).max()) < tol:
            break
    return penalty.shrink(B, threshold), n_iter


def bcofb_operators(dictionary, group_index, n_groups):
    """``W = D^T / mu``, ``S = I - G / mu`` and the step ``1 / mu`` of BCoFB.

    ``mu`` is the largest block Lipschitz constant: the largest eigenvalue of
    the Gram matrices ``D_g D_g^T`` of the groups (``group_index`` gives the
    group of each atom).
    """
    gram = dictionary @ dictionary.T
    members = [torch.nonzero(group_index == g).squeeze(1) for g in range(n_groups)]
    mu = max(torch.linalg.eigvalsh(gram[group][:, group])[-1] for group in members)
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return dictionary.T / mu, eye - gram / mu, 1.0 / mu


def bcofb(X, dictionary, penalty, *, max_iter, tol, init=None):
    """Batched block-coordinate forward-backward (Sprechmann et al., Algorithm 2).

    Each sample updates, at each step, the group whose proximal step moves
    farthest: ``Zt = prox(B)``, ``r = argmax_g ||Zt_g - Z_g||``,
    ``B += (Zt_r - Z_r) S[r, :]``, ``Z_r = Zt_r``. One iteration is
    ``n_groups`` such steps. Returns ``(prox(B), n_iter)``.

    The update of the selected group is written as a product with the change
    masked to that group: memory stays ``O(n_samples n_components)`` whatever
    the group sizes (this is the reference solver, not the fast network).
    """
    # Blocks: the groups of a partition, the root groups of a tree (the
    # penalty is separable over them, so one block's prox is exact).
    group_index, group_size = penalty.block_index, penalty.block_size
    n_groups = penalty.n_blocks
    W, S, step = bcofb_operators(dictionary, group_index, n_groups)
    code = torch.zeros(X.shape[0], W.shape[1], dtype=X.dtype, device=X.device)
    if init is not None:
        code = init.clone()
    B = torch.addmm(X @ W, code, S)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        for _ in range(n_groups):
            change = penalty.prox(B, step) - code
            norms = group_norms(change, group_index, n_groups, group_size)
            if penalty.sets is not None:  # each set moves the block it moves most, as one
                norms = penalty.joint(norms * norms)
            change = keep_group(change, group_index, norms.argmax(dim=1, keepdim=True), group_size)
            B.addmm_(change, S)
            code += change
        pending = penalty.prox(B, step) - code
        # Unclamped norms (group_norms floors them for its gradient): a row
        # whose code is zero and stays zero has converged.
        pending = group_sums(pending * pending, group_index, n_groups, group_size).amax(dim=1)
        pending = pending.sqrt()
        scale = torch.linalg.vector_norm(code, dim=1).clamp_min(_TINY)
        if float((pending / scale).max()) < tol:
            break
    return penalty.prox(B, step), n_iter


_ALGORITHMS = ("ista", "fista", "cod", "bcofb")


@validate_params(
    {
        "X": ["array-like"],
        "dictionary": ["array-like"],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "algorithm": [StrOptions(set(_ALGORITHMS))],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "init": ["array-like", None],
        "groups": [Interval(numbers.Integral, 1, None, closed="left"), "array-like", None],
        "group_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "group_weights": ["array-like", None],
        "positive": ["boolean"],
        "device": [str, torch.device],
        "sets": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
@fill_doc
def sparse_encode(
    X,
    dictionary,
    *,
    alpha=1.0,
    algorithm="fista",
    max_iter=1000,
    tol=1e-6,
    init=None,
    groups=None,
    group_alpha=0.0,
    group_weights=None,
    positive=False,
    device="cpu",
    sets=None,
):
    """Compute exact sparse codes of the rows of ``X``, all samples at once.

    Rows are solved in batches (memory stays near the output's size), in
    units where rows and atoms have norms near one (the same problem,
    rescaled by powers of two): any scale of ``X`` and ``dictionary`` gives
    the same codes, rescaled, without overflow or underflow.

    Solves, for each row ``x`` of ``X``, the Lasso problem::

        min_z 0.5 * ||x - z D||_2^2 + alpha * ||z||_1

    with the same scaling as :func:`sklearn.decomposition.sparse_encode`; with
    ``groups`` and ``group_alpha > 0``, the HiLasso (sparse-group Lasso)
    problem, which adds ``group_alpha * sum_g w_g * ||z_g||_2``. With
    ``positive=True`` the codes are constrained to be nonnegative (as
    scikit-learn's ``positive=True``, and the codes of a non-negative
    matrix factorization). With ``sets``, the collaborative HiLasso
    problem: rows of one set share group activity (see ``sets``).

    Read more in the :ref:`User Guide <exact_solvers>`.

    %(signal_parameters)s

    dictionary : array-like of shape (n_components, n_features)
        Atoms, one per row. Used as given (not normalized; entries under
        2**-100 of their atom's largest are zeroed); no atom may be zero.

    alpha : float, default=1.0
        Weight of the l1 penalty.

    algorithm : {"fista", "ista", "cod", "bcofb"}, default="fista"
        ``"ista"``: proximal gradient with step ``1/L``. ``"fista"``: ISTA with
        Nesterov momentum and adaptive restart. ``"cod"``: greedy coordinate
        descent (Lasso only), one iteration being ``n_components`` coordinate
        updates. ``"bcofb"``: greedy block-coordinate forward-backward over the
        groups (singletons when ``groups`` is None), one iteration being
        ``n_groups`` block updates.

    max_iter : int, default=1000
        Maximum number of iterations. Reaching it before ``tol`` (when
        ``tol > 0``) raises a ``ConvergenceWarning``.

    tol : float, default=1e-6
        Stop when, for every sample, the relative change of the code in one
        iteration (``"cod"``, ``"bcofb"``: the largest pending coordinate or
        group move, relative to the code) falls under ``tol``.

    init : array-like of shape (n_samples, n_components), default=None
        Codes to start from (warm start). Zeros when None.

    groups : int or sequence of sequences of int, default=None
        The groups: an int ``k`` for ``k`` equal contiguous groups, or the
        atom indices of each group. Any two groups are disjoint or nested
        (a partition, or a tree of groups as in Jenatton et al. 2011, whose
        atoms may belong to no group); the group term sums over every
        listed group, and ``"bcofb"`` updates one root group at a time.

    group_alpha : float, default=0.0
        Weight of the group penalty (needs ``groups``).

    group_weights : array-like of shape (n_groups,), default=None
        Positive per-group weights ``w_g``; ones when None.

    positive : bool, default=False
        Whether to constrain the codes to be nonnegative: every algorithm
        then uses the one-sided shrink ``max(v - t, 0)``.

    device : str or torch.device, default="cpu"
        Where to compute: ``"auto"`` (the accelerator torch
        can use, else the CPU) or any device torch names: ``"cpu"``,
        ``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"xpu"``. Apple's ``"mps"``
        has no float64: give it float32 data.

    %(sets)s

    Returns
    -------
    code : ndarray of shape (n_samples, n_components)
        The sparse codes, in the dtype of ``X`` (float32 or float64).

    See Also
    --------
    lasso_objective : The Lasso objective these codes minimise.
    hilasso_objective : The HiLasso objective, with groups.
    sklearn.decomposition.sparse_encode : Scikit-learn's per-sample solvers.

    References
    ----------
    A. Beck and M. Teboulle, "A fast iterative shrinkage-thresholding algorithm
    for linear inverse problems", SIAM J. Imaging Sciences, 2009.

    Y. Li and S. Osher, "Coordinate descent optimization for l1 minimization
    with application to compressed sensing; a greedy algorithm", Inverse
    Problems and Imaging, 2009.

    %(sprechmann_2012)s

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsc import sparse_encode
    >>> rng = np.random.default_rng(0)
    >>> dictionary = rng.standard_normal((8, 5))
    >>> X = rng.standard_normal((3, 5))
    >>> sparse_encode(X, dictionary, alpha=0.5).shape
    (3, 8)
    >>> code = sparse_encode(
    ...     X, dictionary, alpha=0.1, groups=4, group_alpha=0.5, algorithm="bcofb"
    ... )
    >>> code.shape
    (3, 8)
    """
    X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    dictionary = check_dictionary(dictionary, n_features=X.shape[1], dtype=X.dtype)
    n_components = dictionary.shape[0]
    if init is not None:
        init = check_code(
            init, n_samples=X.shape[0], n_components=n_components, dtype=X.dtype, name="init"
        )
        if positive and np.any(init < 0):
            raise ValueError(
                "The 'init' parameter has negative entries, but positive=True constrains "
                "the codes to be nonnegative."
            )
    labels = check_sets(sets, X.shape[0])
    parsed_groups = None if groups is None else check_group_tree(groups, n_components)
    if group_alpha > 0 and parsed_groups is None:
        raise ValueError("The 'group_alpha' parameter is positive but 'groups' is None.")
    if algorithm == "cod" and group_alpha > 0:
        raise ValueError(
            "The 'algorithm' parameter 'cod' solves the Lasso only; use 'bcofb', "
            "'fista' or 'ista' when group_alpha > 0."
        )
    if parsed_groups is None and algorithm == "bcofb":
        parsed_groups = [np.array([atom]) for atom in range(n_components)]
    weights = None
    if parsed_groups is not None:
        weights = check_group_weights(group_weights, len(parsed_groups))
    torch_device = resolve_device(device)
    dtype = torch_dtype(X.dtype)
    # Solved in units where rows and atoms have norms near one: X / x_scale,
    # D / d_scale, penalties / (x_scale d_scale), codes / (x_scale / d_scale),
    # an equivalent problem (powers of two: exact) free of overflow and
    # underflow, whose tolerances mean the same at any scale.
    x_scale, d_scale = signal_scale(X), atom_scale(dictionary)
    code_scale, penalty_scale = x_scale / d_scale, 1.0 / (x_scale * d_scale)

    def tensor(array, divisor=1.0):
        values = to_tensor(array, device=torch_device, dtype=dtype)
        return values if divisor == 1.0 else values.div_(divisor)

    penalty = L1Penalty(alpha * penalty_scale, positive=positive)
    if parsed_groups is not None:
        penalty = group_penalty(
            alpha * penalty_scale,
            parsed_groups,
            n_components,
            tensor(group_alpha * weights * penalty_scale),
            positive=positive,
        )
    # Rows in batches: peak memory is about the output's, whatever the rows.
    kind = torch_device.type if torch_device.type in _BATCH_ELEMENTS else "cuda"  # accelerators
    elements = _BATCH_ELEMENTS[kind]
    rows_per_batch = max(1, elements // (n_components + X.shape[1]))
    code = np.empty((X.shape[0], n_components), dtype=X.dtype)
    unconverged = 0
    if labels is None:
        batches = [
            slice(start, start + rows_per_batch) for start in range(0, X.shape[0], rows_per_batch)
        ]
    else:  # whole sets per batch
        batches = set_batches(labels, rows_per_batch)
    with torch.inference_mode():
        atoms = tensor(dictionary, d_scale)
        for rows in batches:
            batch_init = None if init is None else tensor(init[rows], code_scale)
            batch_penalty = penalty
            if labels is not None:
                batch_penalty = penalty.with_sets(
                    compact_labels(torch.as_tensor(labels[rows], device=torch_device))
                )
            batch_code, n_iter = _solve(
                tensor(X[rows], x_scale),
                atoms,
                batch_penalty,
                algorithm,
                max_iter,
                tol,
                batch_init,
            )
            if n_iter >= max_iter and tol > 0:
                unconverged += batch_code.shape[0]
            if code_scale != 1.0:
                batch_code.mul_(code_scale)
            if labels is None:
                torch.from_numpy(code[rows]).copy_(batch_code)
            else:
                code[rows] = batch_code.cpu().numpy()
    if unconverged:
        warn(
            f"sparse_encode stopped at max_iter={max_iter} iterations before the codes' "
            f"relative change fell under tol={tol} (in batches holding {unconverged} of "
            f"the {X.shape[0]} rows). Raise 'max_iter' or 'tol'.",
            ConvergenceWarning,
        )
    return code


def _solve(X, dictionary, penalty, algorithm, max_iter, tol, init):
    """Dispatch to one algorithm on validated tensors; returns ``(code, n_iter)``.

    ``penalty`` is a penalty of :mod:`._penalties` (a float means the
    Lasso's ``alpha``), on the device and in the dtype of ``X``.
    """
    penalty = as_penalty(penalty)
    options = dict(max_iter=max_iter, tol=tol, init=init)
    if algorithm == "cod":
        return cod(X, dictionary, penalty, **options)
    if algorithm == "bcofb":
        return bcofb(X, dictionary, penalty, **options)
    return ista(X, dictionary, penalty, accelerated=algorithm == "fista", **options)


def _finite_mean(per_sample):
    """The mean objective, or a ValueError when it overflows float64 (finite inputs)."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(np.mean(per_sample))
    if not np.isfinite(mean):
        raise ValueError(
            "The objective of X and code overflows float64: their values are too large "
            "to measure it. Scale X, code (and alpha) down by a common factor (the "
            "objective scales with its square)."
        )
    return mean


def _check_objective_inputs(X, code, dictionary):
    """``X``, ``code`` and ``dictionary`` as float64 arrays of matching shapes."""
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
    return X, code, dictionary


@validate_params(
    {
        "X": ["array-like"],
        "code": ["array-like"],
        "dictionary": ["array-like"],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
@fill_doc
def lasso_objective(X, code, dictionary, alpha):
    """Compute the mean Lasso objective of codes ``code`` for signals ``X``.

    The mean over samples of ``0.5 * ||x - z D||_2^2 + alpha * ||z||_1``,
    computed in float64.

    %(objective_parameters)s

    %(objective_returns)s

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
    X, code, dictionary = _check_objective_inputs(X, code, dictionary)
    return _finite_mean(objective_numpy(X, code, dictionary, L1Penalty(alpha)))


@validate_params(
    {
        "X": ["array-like"],
        "code": ["array-like"],
        "dictionary": ["array-like"],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "groups": [Interval(numbers.Integral, 1, None, closed="left"), "array-like"],
        "group_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "group_weights": ["array-like", None],
        "sets": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
@fill_doc
def hilasso_objective(
    X, code, dictionary, *, alpha, groups, group_alpha, group_weights=None, sets=None
):
    """Compute the mean HiLasso (sparse-group Lasso) objective of ``code`` for ``X``.

    The mean over samples of ``0.5 * ||x - z D||_2^2 + alpha * ||z||_1 +
    group_alpha * sum_g w_g * ||z_g||_2``, computed in float64 (with
    ``sets``, the collaborative objective).

    %(objective_parameters)s

    groups : int or sequence of sequences of int
        An int ``k`` for ``k`` equal contiguous groups, or the atom indices
        of each group; any two groups disjoint or nested (a tree of groups,
        atoms possibly in none).

    group_alpha : float
        Weight of the group penalty.

    group_weights : array-like of shape (n_groups,), default=None
        Positive per-group weights; ones when None.

    %(sets)s

    %(objective_returns)s

    See Also
    --------
    sparse_encode : Codes that minimise this objective (with ``groups``).
    lasso_objective : The objective without the group term.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsc import hilasso_objective
    >>> X = np.array([[1.0, 0.0]])
    >>> code = np.array([[0.6, 0.8]])
    >>> objective = hilasso_objective(
    ...     X, code, np.eye(2), alpha=0.0, groups=1, group_alpha=1.0
    ... )
    >>> round(objective, 6)  # 0.5 * (0.4**2 + 0.8**2) + 1.0 * ||(0.6, 0.8)||
    1.4
    """
    X, code, dictionary = _check_objective_inputs(X, code, dictionary)
    parsed_groups = check_group_tree(groups, dictionary.shape[0])
    weights = check_group_weights(group_weights, len(parsed_groups))
    penalty = group_penalty(
        alpha,
        parsed_groups,
        dictionary.shape[0],
        torch.as_tensor(group_alpha * weights, dtype=torch.float64),
    )
    labels = check_sets(sets, X.shape[0])
    if labels is not None:
        penalty = penalty.with_sets(compact_labels(torch.as_tensor(labels)))
    per_sample = objective_numpy(X, code, dictionary, penalty)
    return _finite_mean(per_sample)
