"""Model-selection scores: against independent references, in GridSearchCV and Pipelines."""

import pickle

import numpy as np
import pytest
from sklearn.decomposition import sparse_encode as sklearn_sparse_encode
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

from sklearn_lsc import LearnedHiLassoEncoder, LearnedLassoEncoder, sparse_encode
from sklearn_lsc.metrics import (
    make_reconstruction_scorer,
    neg_relative_gap_scorer,
    relative_gap,
    sparse_reconstruction_error,
)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((60, 8))
D = RNG.standard_normal((12, 8))
D /= np.linalg.norm(D, axis=1, keepdims=True)


def lasso_value(X, code, D, alpha):
    return np.mean(0.5 * ((X - code @ D) ** 2).sum(1) + alpha * np.abs(code).sum(1))


def test_relative_gap_against_scikit_learns_optimum():
    rough = sparse_encode(X, D, alpha=0.3, max_iter=4, tol=0.0)
    # scikit-learn's coordinate descent, run far, is the independent optimum.
    optimum = sklearn_sparse_encode(X, D, algorithm="lasso_cd", alpha=0.3, max_iter=20000)
    expected = lasso_value(X, rough, D, 0.3) / lasso_value(X, optimum, D, 0.3) - 1
    assert relative_gap(X, rough, D, alpha=0.3) == pytest.approx(expected, rel=1e-4)
    assert expected > 1e-3
    assert abs(relative_gap(X, optimum, D, alpha=0.3)) < 1e-6


def test_relative_gap_of_structured_codes_uses_the_group_penalty():
    penalty = dict(alpha=0.1, groups=3, group_alpha=0.4)
    exact = sparse_encode(X, D, **penalty, max_iter=5000, tol=1e-10)
    assert abs(relative_gap(X, exact, D, **penalty)) < 1e-6
    lasso_exact = sparse_encode(X, D, alpha=0.1, max_iter=5000, tol=1e-10)
    # The Lasso's optimum is not the HiLasso's: a positive gap under groups.
    assert relative_gap(X, lasso_exact, D, **penalty) > 1e-3


def test_relative_gap_of_nonnegative_codes_against_scikit_learns_positive_optimum():
    rough = np.abs(sparse_encode(X, D, alpha=0.3, positive=True, max_iter=4, tol=0.0))
    optimum = sklearn_sparse_encode(
        X, D, algorithm="lasso_cd", alpha=0.3, max_iter=20000, positive=True
    )
    expected = lasso_value(X, rough, D, 0.3) / lasso_value(X, optimum, D, 0.3) - 1
    gap = relative_gap(X, rough, D, alpha=0.3, positive=True)
    assert gap == pytest.approx(expected, rel=1e-4)
    assert abs(relative_gap(X, optimum, D, alpha=0.3, positive=True)) < 1e-6
    # Measured against the unconstrained optimum, exact nonnegative codes
    # would look far from it.
    assert relative_gap(X, optimum, D, alpha=0.3) > 1e-2


def test_relative_gap_refuses_negative_codes_under_positive():
    code = sparse_encode(X, D, alpha=0.3)
    assert (code < 0).any()
    with pytest.raises(ValueError, match="'code'.*positive=True"):
        relative_gap(X, code, D, alpha=0.3, positive=True)


def test_relative_gap_of_zero_signals_is_zero():
    zeros = np.zeros((3, 8))
    assert relative_gap(zeros, np.zeros((3, 12)), D, alpha=0.1) == 0.0


def reconstruction_reference(X, code, D, k):
    """Per row: least squares on the atoms of the k largest nonzero coefficients."""
    total = 0.0
    for x, z in zip(X, code, strict=True):
        order = np.argsort(-np.abs(z), kind="stable")[:k]
        support = [j for j in order if z[j] != 0]
        if support:
            coefficients, *_ = np.linalg.lstsq(D[support].T, x, rcond=None)
            residual = x - coefficients @ D[support]
        else:
            residual = x
        total += residual @ residual
    return total / (X**2).sum()


@pytest.mark.parametrize("k", [1, 3, 12, 50])
def test_sparse_reconstruction_error_against_a_per_row_reference(k):
    code = sparse_encode(X, D, alpha=0.4)
    code[5] = 0.0  # a row that uses no atom
    expected = reconstruction_reference(X, code, D, k)
    assert sparse_reconstruction_error(X, code, D, n_nonzero=k) == pytest.approx(expected)
    assert 0.0 < expected < 1.0


def test_sparse_reconstruction_error_in_batches_equals_at_once(monkeypatch):
    import sklearn_lsc.metrics as metrics

    code = sparse_encode(X, D, alpha=0.2)
    whole = sparse_reconstruction_error(X, code, D, n_nonzero=3)
    monkeypatch.setattr(metrics, "_BATCH_ELEMENTS", 7 * 3 * 8)  # batches of 7 rows
    assert sparse_reconstruction_error(X, code, D, n_nonzero=3) == pytest.approx(whole)


def test_sparse_reconstruction_error_bounds():
    assert sparse_reconstruction_error(X, np.zeros((60, 12)), D, n_nonzero=3) == pytest.approx(1.0)
    assert sparse_reconstruction_error(np.zeros((2, 8)), np.ones((2, 12)), D, n_nonzero=3) == 0.0
    exact_rows = np.eye(12)[:4] @ D
    error = sparse_reconstruction_error(exact_rows, np.eye(12)[:4], D, n_nonzero=1)
    assert error == pytest.approx(0.0, abs=1e-20)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sparse_reconstruction_error(X, np.zeros((60, 12)), D, n_nonzero=0), "n_nonzero"),
        (lambda: sparse_reconstruction_error(X, np.zeros((60, 5)), D, n_nonzero=2), "do not fit"),
        (lambda: relative_gap(X, np.zeros((59, 12)), D, alpha=0.1), "do not fit"),
        (lambda: relative_gap(X, np.zeros((60, 12)), D, alpha=-1.0), "alpha"),
        (lambda: make_reconstruction_scorer(n_nonzero=0), "n_nonzero"),
        (lambda: relative_gap(X, np.zeros((60, 12)), D, alpha=0.1, device="gpu9"), "device"),
    ],
)
def test_bad_arguments_are_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_scorers_on_an_encoder_and_on_a_pipeline_ending_in_one():
    encoder = LearnedLassoEncoder(dictionary=D, alpha=0.2, max_iter=3, random_state=0)
    pipeline = make_pipeline(Normalizer(), encoder).fit(X)
    X_normalized = Normalizer().fit_transform(X)
    code = encoder.transform(X_normalized)
    expected_gap = relative_gap(X_normalized, code, D, alpha=0.2)
    assert neg_relative_gap_scorer(pipeline, X) == pytest.approx(-expected_gap)
    assert neg_relative_gap_scorer(encoder, X_normalized) == pytest.approx(-expected_gap)
    scorer = pickle.loads(pickle.dumps(make_reconstruction_scorer(n_nonzero=2)))
    expected = sparse_reconstruction_error(X_normalized, code, D, n_nonzero=2)
    assert scorer(pipeline, X) == pytest.approx(-expected)


def test_the_gap_scorer_reads_a_structured_encoders_penalty():
    params = dict(dictionary=D, groups=3, alpha=0.05, group_alpha=0.3, max_iter=2)
    encoder = LearnedHiLassoEncoder(**params, random_state=0).fit(X)
    code = encoder.transform(X)
    expected = relative_gap(X, code, D, alpha=0.05, groups=3, group_alpha=0.3)
    assert neg_relative_gap_scorer(encoder, X) == pytest.approx(-expected)
    assert expected != pytest.approx(relative_gap(X, code, D, alpha=0.05))


def test_the_gap_scorer_reads_a_nonnegative_encoders_constraint():
    encoder = LearnedLassoEncoder(dictionary=D, alpha=0.05, positive=True, max_iter=3)
    code = encoder.set_params(random_state=0).fit(X).transform(X)
    expected = relative_gap(X, code, D, alpha=0.05, positive=True)
    assert neg_relative_gap_scorer(encoder, X) == pytest.approx(-expected)
    assert expected < relative_gap(X, code, D, alpha=0.05) - 1e-3


def test_grid_search_with_the_gap_scorer_prefers_the_deeper_network():
    search = GridSearchCV(
        LearnedLassoEncoder(dictionary=D, alpha=0.2, max_iter=20, random_state=0),
        {"n_layers": [1, 5]},
        scoring=neg_relative_gap_scorer,
        cv=3,
    ).fit(X)
    assert search.best_params_ == {"n_layers": 5}
    assert np.all(search.cv_results_["mean_test_score"] <= 0)
