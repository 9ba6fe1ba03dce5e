"""The same problem at any scale: exact solvers and learned encoders are equivariant."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import sklearn_lsc.solvers as solvers_module
from sklearn_lsc import LearnedHiLassoEncoder, LearnedLassoEncoder, sparse_encode
from sklearn_lsc.solvers import lasso_objective


def problem(seed=0, n_samples=300, n_features=16, n_components=32):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    codes = rng.standard_normal((n_samples, n_components))
    codes *= rng.random((n_samples, n_components)) < 0.1
    return codes @ D + 0.05 * rng.standard_normal((n_samples, n_features)), D


SOLVERS = [
    ("fista", {}),
    ("ista", {}),
    ("cod", {}),
    ("bcofb", {"groups": 8, "group_alpha": 0.1}),
    ("fista", {"groups": 8, "group_alpha": 0.1}),
]


@pytest.mark.parametrize("algorithm, groups", SOLVERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "x_factor, d_factor", [(1e-8, 1.0), (1e8, 1.0), (1e6, 1e-4), (1e-12, 1e4), (1.0, 1e20)]
)
def test_exact_codes_follow_the_scale_of_signals_and_atoms(
    algorithm, groups, dtype, x_factor, d_factor
):
    # min 0.5||x - zD||^2 + a||z||_1 (+ group term): scaling x by s and D by
    # c, with every penalty times s c, scales the codes by s / c.
    # A fixed number of iterations (tol=0): each iterate is equivariant, so
    # the codes match to rounding, and the test stays fast.
    X, D = problem(n_samples=100)
    X, D = X.astype(dtype), D.astype(dtype)
    options = dict(algorithm=algorithm, tol=0.0, max_iter=60)
    reference = sparse_encode(X, D, alpha=0.1, **options, **groups)
    assert 0 < np.count_nonzero(reference) < reference.size
    factor = x_factor * d_factor
    scaled_groups = {**groups, "group_alpha": groups["group_alpha"] * factor} if groups else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow, no NaN
        code = sparse_encode(
            (X * x_factor).astype(dtype), (D * d_factor).astype(dtype), alpha=0.1 * factor,
            **options, **scaled_groups,
        )  # fmt: skip
    assert np.all(np.isfinite(code))
    rtol = 1e-5 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(
        code * d_factor / x_factor, reference, rtol=0, atol=rtol * np.abs(reference).max()
    )


def test_sparse_encode_warns_when_it_stops_at_max_iter():
    X, D = problem()
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        sparse_encode(X, D, alpha=0.1, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sparse_encode(X, D, alpha=0.1, max_iter=3, tol=0.0)  # a fixed count, as asked
        sparse_encode(X, D, alpha=0.1)  # converges


@pytest.mark.parametrize("algorithm", ["fista", "cod", "bcofb"])
def test_sparse_encode_in_batches_gives_the_codes_of_one_batch(algorithm, monkeypatch):
    X, D = problem(n_samples=250)
    whole = sparse_encode(X, D, alpha=0.1, algorithm=algorithm, max_iter=40, tol=0.0)
    calls = []
    original = solvers_module._solve

    def counting(X_batch, *args):
        calls.append(X_batch.shape[0])
        return original(X_batch, *args)

    monkeypatch.setattr(solvers_module, "_solve", counting)
    monkeypatch.setattr(solvers_module, "_BATCH_ELEMENTS", {"cpu": 48 * 100})
    batched = sparse_encode(X, D, alpha=0.1, algorithm=algorithm, max_iter=40, tol=0.0)
    assert calls == [100, 100, 50]
    np.testing.assert_allclose(batched, whole, rtol=0, atol=1e-12)


@pytest.mark.parametrize("Encoder", [LearnedLassoEncoder, LearnedHiLassoEncoder])
@pytest.mark.parametrize("factor", [2.0**-30, 2.0**30])
def test_an_equivalent_problem_scaled_by_a_power_of_two_trains_to_the_same_codes(Encoder, factor):
    X, D = problem()
    params = dict(n_components=16, max_iter=4, random_state=0)
    if Encoder is LearnedHiLassoEncoder:
        params.update(groups=4)
        scaled = dict(alpha=0.1 * factor, group_alpha=0.1 * factor)
        plain = dict(alpha=0.1, group_alpha=0.1)
    else:
        scaled, plain = dict(alpha=0.1 * factor), dict(alpha=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = Encoder(**params, **plain).fit(X)
        encoder = Encoder(**params, **scaled).fit(X * factor)
    assert encoder.signal_scale_ == reference.signal_scale_ * factor
    np.testing.assert_array_equal(encoder.transform(X * factor), reference.transform(X) * factor)
    np.testing.assert_array_equal(encoder.loss_curve_, np.array(reference.loss_curve_) * factor**2)
    assert encoder.score(X * factor) == pytest.approx(reference.score(X) * factor**2, rel=1e-12)


def test_the_similarity_objective_is_scale_free_too():
    X, _ = problem(n_samples=120)
    y = (X[:, 0] > 0).astype(int)
    factor = 2.0**20
    params = dict(n_components=8, objective="similarity", max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = LearnedLassoEncoder(**params, alpha=0.1, margin=1.0).fit(X, y)
        scaled = LearnedLassoEncoder(**params, alpha=0.1 * factor, margin=factor).fit(
            X * factor, y
        )
    np.testing.assert_array_equal(scaled.transform(X * factor), reference.transform(X) * factor)


def _relative_gap(X, code, D, alpha):
    optimum = sparse_encode(X, D, alpha=alpha, tol=1e-10, max_iter=5000)
    best = lasso_objective(X, optimum, D, alpha)
    return (lasso_objective(X, code, D, alpha) - best) / best


def test_the_relative_gap_is_the_same_at_any_scale():
    # Scales that are not powers of two: the problems inside differ by a
    # factor under sqrt(2), so the networks differ, but not their accuracy.
    # (Each scale's gap is a mean over three seeds: one training run's gap
    # varies by several percent with its seed, whatever the scale.)
    X, D = problem(n_samples=900)
    X_train, X_test = X[:600], X[600:]
    gaps = []
    for factor in (1e-6, 1.0, 1e6):
        runs = []
        for seed in range(3):
            encoder = LearnedLassoEncoder(dictionary=D, alpha=0.1 * factor, random_state=seed)
            encoder.set_params(max_iter=40).fit(X_train * factor)
            code = encoder.transform(X_test * factor)
            runs.append(_relative_gap(X_test * factor, code, D, 0.1 * factor))
        gaps.append(np.mean(runs))
    assert min(gaps) > 0 and max(gaps) < 1.1 * min(gaps) + 1e-4
    assert max(gaps) < 0.1  # and the network did learn (its untrained gap is ~30%)
