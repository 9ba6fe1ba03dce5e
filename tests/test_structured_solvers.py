"""HiLasso (sparse-group Lasso) exact solvers and group validation."""

import functools
import warnings

import numpy as np
import pytest
import torch
from _reference import cod_reference, soft
from sklearn.exceptions import ConvergenceWarning

from sklearn_lsc import hilasso_objective, lasso_objective, sparse_encode
from sklearn_lsc._penalties import HiLassoPenalty, L1Penalty

GROUPS = [np.arange(0, 6), np.arange(6, 10), np.arange(10, 18), np.arange(18, 24)]


def problem(seed=0, n_samples=25, n_components=24, n_features=20, unit_atoms=False):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features))
    if unit_atoms:
        D /= np.linalg.norm(D, axis=1, keepdims=True)
    else:
        D *= rng.uniform(0.5, 1.5, size=(n_components, 1))
    return rng.standard_normal((n_samples, n_features)), D


def numpy_fista_hilasso(X, D, alpha, groups, penalties, n_iter=30000):
    """Independent reference: plain numpy FISTA on the whole batch."""
    L = np.linalg.eigvalsh(D @ D.T).max()

    def prox(V):
        Z = soft(V, alpha / L)
        for group, penalty in zip(groups, penalties, strict=True):
            norms = np.linalg.norm(Z[:, group], axis=1, keepdims=True)
            Z[:, group] *= np.maximum(0.0, 1.0 - (penalty / L) / np.maximum(norms, 1e-300))
        return Z

    Z = Y = np.zeros((X.shape[0], D.shape[0]))
    t = 1.0
    for _ in range(n_iter):
        Z_new = prox(Y - (Y @ D - X) @ D.T / L)
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        Y = Z_new + (t - 1) / t_new * (Z_new - Z)
        Z, t = Z_new, t_new
    return Z


def sparse_group_kkt_violation(X, Z, D, alpha, groups, penalties):
    """Largest violation of the sparse-group Lasso optimality conditions.

    With ``g = (x - z D) D^T``: an inactive group needs
    ``||soft(g_g, alpha)|| <= penalty_g``; in an active group, a nonzero
    coefficient needs ``g_j = alpha sign(z_j) + penalty_g z_j / ||z_g||`` and a
    zero one ``|g_j| <= alpha``.
    """
    G = (X - Z @ D) @ D.T
    worst = 0.0
    for group, penalty in zip(groups, penalties, strict=True):
        for g, z in zip(G[:, group], Z[:, group], strict=True):
            norm = np.linalg.norm(z)
            if norm == 0:
                worst = max(worst, np.linalg.norm(soft(g, alpha)) - penalty)
                continue
            active = z != 0
            expected = alpha * np.sign(z[active]) + penalty * z[active] / norm
            worst = max(worst, np.abs(g[active] - expected).max(initial=0.0))
            worst = max(worst, (np.abs(g[~active]) - alpha).max(initial=0.0))
    return worst


@functools.cache
def reference_optimum(weights):
    """The reference optimum of ``problem()`` (slow: computed once per weights)."""
    X, D = problem()
    penalties = 0.6 * (np.ones(4) if weights is None else np.array(weights))
    code = numpy_fista_hilasso(X, D, 0.2, GROUPS, penalties)
    return hilasso_objective(
        X, code, D, alpha=0.2, groups=GROUPS, group_alpha=0.6, group_weights=weights
    )


@pytest.mark.parametrize("algorithm", ["fista", "ista", "bcofb"])
@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 0.5, 1.5]])
def test_reaches_the_reference_optimum(algorithm, weights):
    X, D = problem()
    alpha, group_alpha = 0.2, 0.6
    penalties = group_alpha * (np.ones(4) if weights is None else np.array(weights))
    params = dict(alpha=alpha, groups=GROUPS, group_alpha=group_alpha, group_weights=weights)
    code = sparse_encode(
        X, D, algorithm=algorithm, max_iter=20000 if algorithm == "ista" else 3000, **params
    )
    params.pop("group_weights")
    ours = hilasso_objective(X, code, D, group_weights=weights, **params)
    reference = reference_optimum(None if weights is None else tuple(weights))
    assert abs(ours - reference) / reference < 1e-6
    assert sparse_group_kkt_violation(X, code, D, alpha, GROUPS, penalties) < 1e-3
    # The group term is active: some whole groups are zero, others not.
    group_zero = np.array([[not code[i, g].any() for g in GROUPS] for i in range(len(X))])
    assert group_zero.any() and not group_zero.all()


@pytest.mark.parametrize("algorithm", ["fista", "ista", "bcofb"])
def test_without_group_term_it_is_the_lasso(algorithm):
    X, D = problem(1, n_components=16)
    groups = [range(0, 5), range(5, 16)]
    params = dict(alpha=0.3, algorithm=algorithm, max_iter=20000)
    code = sparse_encode(X, D, groups=groups, group_alpha=0.0, **params)
    if algorithm != "bcofb":  # the very same iterations as without groups
        np.testing.assert_array_equal(code, sparse_encode(X, D, **params))
    optimum = lasso_objective(X, sparse_encode(X, D, alpha=0.3, tol=1e-12), D, 0.3)
    hilasso = hilasso_objective(X, code, D, alpha=0.3, groups=groups, group_alpha=0.0)
    assert hilasso == pytest.approx(lasso_objective(X, code, D, 0.3), rel=1e-12)
    assert abs(hilasso - optimum) / optimum < 1e-6


@pytest.mark.parametrize("positive", [False, True])
def test_bcofb_stops_once_converged_when_a_row_codes_zero(positive):
    # A row whose optimal code is zero has converged at once; the others
    # decide when the batch stops (it used to run to max_iter and warn).
    X, D = problem(3, n_samples=12, n_components=12, unit_atoms=True)
    X[0] = 0.0
    X[1] = 0.01 * D[0]  # a correlation under alpha: a zero code too
    groups, weights = GROUPS[:1] + [np.arange(6, 12)], np.array([1.0, 2.0])
    params = dict(alpha=0.1, groups=groups, group_alpha=0.3, group_weights=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        code = sparse_encode(
            X, D, algorithm="bcofb", positive=positive, max_iter=2000, tol=1e-10, **params
        )
    assert not code[:2].any() and code[2:].any()
    optimum = sparse_encode(
        X, D, algorithm="fista", positive=positive, max_iter=20000, tol=1e-14, **params
    )
    params.pop("group_weights")
    ours = hilasso_objective(X, code, D, group_weights=weights, **params)
    best = hilasso_objective(X, optimum, D, group_weights=weights, **params)
    assert abs(ours - best) / best < 1e-8


@pytest.mark.parametrize("n_iter", [1, 3])
def test_bcofb_with_singleton_groups_is_cod(n_iter):
    X, D = problem(2, n_samples=8, n_components=12, unit_atoms=True)
    singletons = [[atom] for atom in range(12)]
    bcofb = sparse_encode(
        X, D, alpha=0.2, algorithm="bcofb", groups=singletons, max_iter=n_iter, tol=0.0
    )
    cod = sparse_encode(X, D, alpha=0.2, algorithm="cod", max_iter=n_iter, tol=0.0)
    np.testing.assert_allclose(bcofb, cod, atol=1e-12)
    np.testing.assert_allclose(bcofb, cod_reference(X, D, 0.2, 12 * n_iter), atol=1e-12)
    no_groups = sparse_encode(X, D, alpha=0.2, algorithm="bcofb", max_iter=n_iter, tol=0.0)
    np.testing.assert_array_equal(no_groups, bcofb)


def test_int_groups_are_equal_contiguous_blocks():
    X, D = problem(3)
    params = dict(alpha=0.1, group_alpha=0.5, algorithm="bcofb", max_iter=50, tol=0.0)
    by_int = sparse_encode(X, D, groups=4, **params)
    by_lists = sparse_encode(X, D, groups=[range(i, i + 6) for i in (0, 6, 12, 18)], **params)
    np.testing.assert_array_equal(by_int, by_lists)


def test_dtype_and_inputs():
    X, D = problem(4)
    X_before = X.copy()
    code = sparse_encode(X.astype(np.float32), D, alpha=0.1, groups=4, group_alpha=0.3)
    assert code.dtype == np.float32
    np.testing.assert_array_equal(X, X_before)


def test_hilasso_objective_by_hand():
    X = np.array([[1.0, 0.0, 0.0]])
    code = np.array([[0.5, 0.0, 2.0]])
    # residual (0.5, 0, -2): 0.5 * 4.25; l1: 0.1 * 2.5; groups {0,1}: 0.5, {2}: 2.0
    expected = 2.125 + 0.25 + 0.3 * (1.0 * 0.5 + 2.0 * 2.0)
    assert hilasso_objective(
        X, code, np.eye(3), alpha=0.1, groups=[[0, 1], [2]], group_alpha=0.3, group_weights=[1, 2]
    ) == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        # (Nested groups and atoms in no group make a tree: tests/test_tree.py.)
        ({"groups": [[0, 1], [1, 2, 3]]}, "overlap without one holding"),
        ({"groups": [[0, 1], [0, 1]]}, "same group twice"),
        ({"groups": [[0, 1], [2, 3, 4]]}, "out of range"),
        ({"groups": [[0, 1, 2, 3], []]}, "empty"),
        ({"groups": 3}, "divisor"),
        ({"groups": 0}, "groups"),
        ({"groups": [[0.5, 1], [2, 3]]}, "integer"),
        ({"group_alpha": -1.0}, "group_alpha"),
        ({"group_weights": [1.0, -1.0]}, "group_weights"),
        ({"group_weights": [1.0, 1.0, 1.0]}, "group_weights"),
        ({"groups": None, "group_alpha": 1.0}, "groups"),
        ({"algorithm": "cod"}, "cod"),
    ],
)
def test_bad_groups_are_refused_naming_the_parameter(kwargs, match):
    arguments = {"groups": 2, "group_alpha": 0.5, **kwargs}
    with pytest.raises(ValueError, match=match):
        sparse_encode(np.ones((2, 3)), np.eye(4, 3) + 0.1, **arguments)


@pytest.mark.parametrize("layout", ["lasso", "contiguous", "scattered"])
def test_in_place_prox_equals_the_prox(layout):
    # The exact FISTA's in-place prox against the plain one, an all-zero row
    # and a group thresholded to zero included.
    rng = np.random.default_rng(0)
    values = torch.from_numpy(rng.standard_normal((7, 12)))
    values[0] = 0.0
    if layout == "lasso":
        penalty = L1Penalty(0.3)
    else:
        index = np.arange(12) // 4
        index = index if layout == "contiguous" else rng.permutation(index)
        penalty = HiLassoPenalty(0.3, torch.from_numpy(index), torch.tensor([0.5, 2.0, 0.0]))
        assert (penalty.group_size is not None) == (layout == "contiguous")
    expected = penalty.prox(values, 0.7)
    result = values.clone()
    assert penalty.prox_in_place(result, 0.7, torch.empty_like(values)) is result
    torch.testing.assert_close(result, expected, rtol=0, atol=1e-15)
    assert torch.count_nonzero(expected) < torch.count_nonzero(values)
