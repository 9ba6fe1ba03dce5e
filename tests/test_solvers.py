"""Exact solvers against scikit-learn, the optimality conditions and numpy references."""

import numpy as np
import pytest
from _reference import cod_reference, fista_reference, ista_reference, lasso_kkt_violation
from sklearn.decomposition import sparse_encode as sklearn_sparse_encode
from sklearn.linear_model import Lasso

from sklearn_lsc import lasso_objective, solvers, sparse_encode

ALGORITHMS = ["ista", "fista", "cod"]
# ISTA converges slowly; the others need far fewer iterations.
MAX_ITER = {"ista": 20000, "fista": 1000, "cod": 1000}


def random_problem(seed=0, n_samples=30, n_components=24, n_features=20, unit_atoms=False):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features))
    # Atoms of unequal norms exercise the general (non-unit) step sizes.
    D *= 1.0 if unit_atoms else rng.uniform(0.5, 2.0, size=(n_components, 1))
    if unit_atoms:
        D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((n_samples, n_features))
    return X, D


def tight_lasso(X, D, alpha):
    """Per-sample scikit-learn Lasso solved far below our tolerance."""
    n_features = X.shape[1]
    lasso = Lasso(alpha=alpha / n_features, fit_intercept=False, tol=1e-12, max_iter=100000)
    return np.array([lasso.fit(D.T, x).coef_.copy() for x in X])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("seed", [0, 1])
def test_reaches_sklearn_objective(algorithm, seed):
    X, D = random_problem(seed)
    alpha = 0.4
    code = sparse_encode(X, D, alpha=alpha, algorithm=algorithm, max_iter=MAX_ITER[algorithm])
    ours = lasso_objective(X, code, D, alpha)
    reference = lasso_objective(
        X,
        sklearn_sparse_encode(X, D, algorithm="lasso_cd", alpha=alpha, max_iter=100000),
        D,
        alpha,
    )
    assert ours <= reference * (1 + 1e-6)
    tight = lasso_objective(X, tight_lasso(X, D, alpha), D, alpha)
    assert abs(ours - tight) / tight < 1e-6


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_codes_satisfy_kkt_conditions(algorithm):
    X, D = random_problem(2, unit_atoms=True)
    alpha = 0.3
    code = sparse_encode(
        X, D, alpha=alpha, algorithm=algorithm, max_iter=MAX_ITER[algorithm], tol=1e-10
    )
    assert np.count_nonzero(code) > 0
    assert lasso_kkt_violation(X, code, D, alpha) < 1e-4


@pytest.mark.parametrize("n_iter", [1, 2, 7])
def test_ista_iterates_equal_reference(n_iter):
    X, D = random_problem(3, n_samples=5)
    code = sparse_encode(X, D, alpha=0.2, algorithm="ista", max_iter=n_iter, tol=0.0)
    np.testing.assert_allclose(code, ista_reference(X, D, 0.2, n_iter), atol=1e-12)


def test_first_fista_iterate_is_ista():
    X, D = random_problem(4, n_samples=5)
    fista = sparse_encode(X, D, alpha=0.2, algorithm="fista", max_iter=1, tol=0.0)
    np.testing.assert_allclose(fista, ista_reference(X, D, 0.2, 1), atol=1e-12)


@pytest.mark.parametrize("n_iter", [2, 5, 60])
def test_fista_iterates_equal_reference(n_iter):
    # Momentum and its adaptive restart, by hand per row.
    X, D = random_problem(8, n_samples=6)
    code = sparse_encode(X, D, alpha=0.2, algorithm="fista", max_iter=n_iter, tol=0.0)
    expected, restarts = fista_reference(X, D, 0.2, n_iter)
    np.testing.assert_allclose(code, expected, atol=1e-10)
    if n_iter == 60:
        assert restarts > 0  # so the restart is checked too


def test_cod_iteration_is_n_components_greedy_updates():
    X, D = random_problem(5, n_samples=6, n_components=10)
    for n_iter in (1, 2):
        code = sparse_encode(X, D, alpha=0.2, algorithm="cod", max_iter=n_iter, tol=0.0)
        expected = cod_reference(X, D, 0.2, n_updates=n_iter * D.shape[0])
        np.testing.assert_allclose(code, expected, atol=1e-12)


def test_cod_in_float32_picks_the_coordinates_of_torch_argmax(monkeypatch):
    # float32 on the CPU picks coordinates with argmax_rows; the same run
    # with torch's arg-max must give bit-identical codes.
    X, D = random_problem(6, n_samples=40, n_components=30)
    X[5] = 0.0
    X32, D32 = X.astype(np.float32), D.astype(np.float32)
    fast = sparse_encode(X32, D32, alpha=0.2, algorithm="cod", max_iter=3, tol=0.0)
    monkeypatch.setattr(solvers, "argmax_rows", lambda values, scratch: values.argmax(dim=1))
    plain = sparse_encode(X32, D32, alpha=0.2, algorithm="cod", max_iter=3, tol=0.0)
    np.testing.assert_array_equal(fast, plain)
    expected = cod_reference(X, D, 0.2, n_updates=3 * D.shape[0])
    np.testing.assert_allclose(fast, expected, atol=1e-4)


def test_fista_needs_fewer_iterations_than_ista_for_the_same_accuracy():
    X, D = random_problem(6)
    alpha = 0.3
    optimum = lasso_objective(X, tight_lasso(X, D, alpha), D, alpha)

    def gap(algorithm):
        code = sparse_encode(X, D, alpha=alpha, algorithm=algorithm, max_iter=100, tol=0.0)
        return lasso_objective(X, code, D, alpha) - optimum

    assert gap("fista") < 0.1 * gap("ista")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_warm_start_from_the_solution_stays_there(algorithm):
    X, D = random_problem(7)
    alpha = 0.4
    solution = tight_lasso(X, D, alpha)
    code = sparse_encode(X, D, alpha=alpha, algorithm=algorithm, max_iter=1, init=solution)
    np.testing.assert_allclose(code, solution, atol=1e-6)
    cold = sparse_encode(X, D, alpha=alpha, algorithm=algorithm, max_iter=1, tol=0.0)
    assert np.abs(cold - solution).max() > 1e-3  # one cold iteration is far from it


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(algorithm, dtype):
    X, D = random_problem(8)
    code = sparse_encode(X.astype(dtype), D, alpha=0.4, algorithm=algorithm, max_iter=50)
    assert code.dtype == dtype


def test_float32_and_float64_agree():
    X, D = random_problem(9)
    code64 = sparse_encode(X, D, alpha=0.4)
    code32 = sparse_encode(X.astype(np.float32), D.astype(np.float32), alpha=0.4)
    np.testing.assert_allclose(code32, code64, atol=1e-4)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_zero_rows_have_zero_codes_and_inputs_are_untouched(algorithm):
    X, D = random_problem(10)
    X[3] = 0.0
    X_before, D_before = X.copy(), D.copy()
    code = sparse_encode(X, D, alpha=0.4, algorithm=algorithm, max_iter=50)
    assert np.all(code[3] == 0)
    assert np.all(np.isfinite(code))
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(D, D_before)


def test_large_alpha_gives_all_zero_codes():
    X, D = random_problem(11)
    alpha = 1.01 * np.abs(X @ D.T).max()
    for algorithm in ALGORITHMS:
        assert not sparse_encode(X, D, alpha=alpha, algorithm=algorithm).any()


def test_lasso_objective_by_hand():
    X = np.array([[1.0, 2.0], [0.0, -1.0]])
    D = np.array([[1.0, 0.0], [0.0, 2.0]])
    Z = np.array([[0.5, 1.0], [0.0, -0.25]])
    # Row 0: residual (0.5, 0), 0.5*0.25 + 0.1*1.5; row 1: residual (0, -0.5), 0.125 + 0.025
    expected = ((0.125 + 0.15) + (0.125 + 0.025)) / 2
    assert lasso_objective(X, Z, D, alpha=0.1) == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"X": np.array([[np.nan, 1.0]])}, "NaN"),
        ({"X": np.array([[np.inf, 1.0]])}, "infinity"),
        ({"X": np.ones(2)}, "2D array"),
        ({"dictionary": np.ones((3, 5))}, "dictionary"),
        ({"dictionary": np.array([[1.0, np.nan], [0.0, 1.0]])}, "NaN"),
        ({"dictionary": np.array([[1.0, 0.0], [0.0, 0.0]])}, "zero norm"),
        ({"alpha": -1.0}, "alpha"),
        ({"algorithm": "lars"}, "algorithm"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": -1.0}, "tol"),
        ({"init": np.zeros((2, 3))}, "init"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_input_raises_value_error_naming_it(kwargs, match):
    arguments = {"X": np.ones((2, 2)), "dictionary": np.eye(2), **kwargs}
    with pytest.raises(ValueError, match=match):
        sparse_encode(arguments.pop("X"), arguments.pop("dictionary"), **arguments)


def test_device_of_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="device"):
        sparse_encode(np.ones((2, 2)), np.eye(2), device=3)


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="checks the error on CPU-only machines"
)
def test_cuda_without_gpu_raises_value_error():
    with pytest.raises(ValueError, match="device"):
        sparse_encode(np.ones((2, 2)), np.eye(2), device="cuda")
