"""The scale of alpha: lasso_alpha_max, the all-zero warning, early_stopping="auto"."""

import warnings

import numpy as np
import pytest

from sklearn_lsc import (
    LearnedHiLassoEncoder,
    LearnedLassoEncoder,
    OnlineSparseModeler,
    lasso_alpha_max,
    sparse_encode,
)
from sklearn_lsc._scale import codes_all_zero


def unit_rows(seed=0, n_samples=60, n_features=8):
    X = np.random.default_rng(seed).standard_normal((n_samples, n_features))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_alpha_max_is_where_the_exact_codes_vanish():
    X = unit_rows(1)
    D = np.random.default_rng(2).standard_normal((12, 8))
    alpha_max = lasso_alpha_max(X, D)
    assert alpha_max == pytest.approx(np.abs(X @ D.T).max(), rel=1e-12)
    # The exact solver, independently: zero codes at alpha_max, not just below.
    at = sparse_encode(X, D, alpha=alpha_max, max_iter=2000, tol=1e-10)
    below = sparse_encode(X, D, alpha=0.99 * alpha_max, max_iter=2000, tol=1e-10)
    assert np.all(at == 0) and np.count_nonzero(below) > 0


def test_alpha_max_reads_large_inputs_in_chunks(monkeypatch):
    X, D = unit_rows(3, n_samples=50), np.eye(8)
    whole = lasso_alpha_max(X, D)
    monkeypatch.setattr("sklearn_lsc._scale._CHUNK_ROWS", 7)
    assert lasso_alpha_max(X, D) == whole


def test_alpha_max_checks_its_inputs():
    with pytest.raises(ValueError, match="dictionary"):
        lasso_alpha_max(unit_rows(), np.ones((3, 5)))
    with pytest.raises(ValueError, match="dictionary"):
        lasso_alpha_max(unit_rows(), np.zeros((3, 8)))


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_the_group_condition_agrees_with_the_exact_hilasso_solver(factor):
    X = unit_rows(4, n_samples=40)
    D = np.random.default_rng(5).standard_normal((12, 8))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    groups, alpha = [list(range(4 * g, 4 * g + 4)) for g in range(3)], 0.3
    # The smallest group_alpha with zero codes, from the condition's own formula.
    shrunk = np.maximum(np.abs(X @ D.T) - alpha, 0.0)
    boundary = max(np.linalg.norm(shrunk[:, g], axis=1).max() for g in groups)
    group_alpha = factor * boundary
    index = np.repeat(np.arange(3), 4)
    predicted = codes_all_zero(X, D, alpha, index, np.full(3, group_alpha))
    exact = sparse_encode(
        X, D, alpha=alpha, groups=groups, group_alpha=group_alpha, max_iter=5000, tol=1e-12
    )
    assert predicted == (factor > 1) == (np.abs(exact).max() < 1e-9)


def test_default_alpha_on_unit_rows_warns_with_alpha_max():
    X = unit_rows(6)
    with pytest.warns(UserWarning, match=r"alpha=1.0 makes every optimal code .* alpha_max=1\b"):
        encoder = LearnedLassoEncoder(n_components=8, max_iter=2, random_state=0).fit(X)
    exact = sparse_encode(X, encoder.components_, alpha=1.0, max_iter=2000, tol=1e-10)
    assert np.abs(exact).max() < 1e-12  # zero up to rounding: rows are their own atoms


@pytest.mark.parametrize(
    "make",
    [
        lambda alpha: LearnedLassoEncoder(dictionary=np.eye(8), alpha=alpha, max_iter=1),
        lambda alpha: LearnedHiLassoEncoder(
            dictionary=np.eye(8), groups=2, alpha=alpha, group_alpha=0.1, max_iter=1
        ),
        lambda alpha: OnlineSparseModeler(dictionary_init=np.eye(8), alpha=alpha, random_state=0),
    ],
    ids=["lasso", "hilasso", "online"],
)
def test_only_an_alpha_that_zeroes_every_code_warns(make):
    X = unit_rows(7)
    alpha_max = lasso_alpha_max(X, np.eye(8))
    with pytest.warns(UserWarning, match="alpha_max"):
        make(1.01 * alpha_max).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        make(0.5 * alpha_max).fit(X)


def test_a_discriminative_objective_is_not_warned_about():
    X = unit_rows(8)
    y = np.zeros((60, 2))
    y[:, 0] = 1
    encoder = LearnedHiLassoEncoder(
        dictionary=np.eye(8), groups=2, alpha=5.0, objective="discriminative", max_iter=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        encoder.fit(X, y)


@pytest.mark.parametrize(
    ("n_samples", "setting", "expected"),
    [(499, "auto", False), (500, "auto", True), (2000, False, False), (100, True, True)],
)
def test_early_stopping_auto_sets_rows_aside_only_when_there_are_enough(
    n_samples, setting, expected
):
    X = unit_rows(9, n_samples=n_samples)
    encoder = LearnedLassoEncoder(
        dictionary=np.eye(8), alpha=0.1, early_stopping=setting, max_iter=2, random_state=0
    ).fit(X)
    assert encoder.early_stopping_ is expected
    assert (encoder.validation_loss_curve_ is not None) is expected
    assert encoder.early_stopping == setting  # the parameter itself is never changed


def test_partial_fit_never_sets_rows_aside():
    X = unit_rows(10, n_samples=600)
    encoder = LearnedLassoEncoder(dictionary=np.eye(8), alpha=0.1, random_state=0)
    assert encoder.partial_fit(X).early_stopping_ is False


@pytest.mark.parametrize(
    ("n_samples", "expected"), [(100, 0.5), (2000, 0.5), (8000, 0.25), (50_000, 0.1)]
)
def test_input_noise_auto_falls_with_the_training_rows(n_samples, expected):
    encoder = LearnedLassoEncoder(dictionary=np.eye(8), alpha=0.1)
    assert encoder._resolved_input_noise(n_samples) == pytest.approx(expected)


def test_input_noise_auto_is_reported_and_an_explicit_value_wins():
    X = unit_rows(11, n_samples=3000)
    params = dict(dictionary=np.eye(8), alpha=0.1, max_iter=1, random_state=0)
    auto = LearnedLassoEncoder(**params).fit(X)
    assert auto.input_noise == "auto"
    assert auto.input_noise_ == pytest.approx(0.5 * np.sqrt(2000 / 3000))
    explicit = LearnedLassoEncoder(**params, input_noise=0.0).fit(X)
    assert explicit.input_noise_ == 0.0
    # The same data and seed: only the noise differs, so do the training
    # losses (with this orthonormal dictionary the untrained network is exact,
    # so both fits keep it).
    assert not np.allclose(auto.loss_curve_, explicit.loss_curve_)
    # partial_fit resolves it for the rows of each call.
    assert LearnedLassoEncoder(**params).partial_fit(X[:100]).input_noise_ == 0.5


def test_auto_choices_are_reproducible_under_random_state():
    X = unit_rows(12, n_samples=600)
    params = dict(dictionary=np.eye(8), alpha=0.1, max_iter=3, random_state=3)
    first = LearnedLassoEncoder(**params).fit(X)
    second = LearnedLassoEncoder(**params).fit(X)
    assert first.early_stopping_ and second.early_stopping_
    np.testing.assert_array_equal(first.transform(X), second.transform(X))
    assert first.validation_loss_curve_ == second.validation_loss_curve_
