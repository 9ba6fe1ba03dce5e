"""LearnedHiLassoEncoder: structured training, objectives, group energies, the contract."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_lsc import (
    LearnedHiLassoEncoder,
    LearnedLassoEncoder,
    hilasso_objective,
    sparse_encode,
)
from sklearn_lsc import solvers as solvers_module
from sklearn_lsc._networks import NETWORKS, STRUCTURED_NETWORKS
from sklearn_lsc.datasets import make_group_sparse_signals

GROUPS = 4
PROBLEM = dict(alpha=0.05, groups=GROUPS, group_alpha=0.1)


@pytest.fixture(scope="module")
def group_problem():
    """Group-sparse signals (4 groups of 8 atoms, 24 features), split 800 / 200."""
    X, D, _, active = make_group_sparse_signals(
        1000, n_features=24, n_groups=GROUPS, group_size=8, n_active_groups=1,
        n_nonzero_per_group=3, noise=0.01, random_state=0,
    )  # fmt: skip
    X, D = X.astype(np.float32), D.astype(np.float32)
    return X[:800], X[800:], active[:800], active[800:], D


def relative_gap(X, code, D):
    exact = sparse_encode(X.astype(np.float64), D, tol=1e-10, max_iter=5000, **PROBLEM)
    optimum = hilasso_objective(X, exact, D, **PROBLEM)
    return (hilasso_objective(X, code, D, **PROBLEM) - optimum) / optimum


def recovery(energies, active):
    """Fraction of samples whose largest group energies are exactly the active groups."""
    n_active = int(active.sum(axis=1)[0])
    top = np.argsort(-energies, axis=1)[:, :n_active]
    truth = np.argsort(-active, axis=1, kind="stable")[:, :n_active]
    return np.mean(np.all(np.sort(top, axis=1) == np.sort(truth, axis=1), axis=1))


def small_data(seed=0, n_samples=60, n_features=6, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal((n_samples, n_features)).astype(dtype)


# ----------------------------------------------------------------- training
@pytest.mark.parametrize("architecture", ["bcofb", "ista", "rescaled_lista"])
def test_training_beats_the_untrained_network_and_fista(group_problem, architecture):
    X_train, X_test, _, _, D = group_problem
    params = dict(PROBLEM, dictionary=D, architecture=architecture, n_layers=3, random_state=0)
    untrained = LearnedHiLassoEncoder(**params, learning_rate=1e-12, max_iter=1).fit(X_train)
    trained = LearnedHiLassoEncoder(**params, max_iter=30).fit(X_train)
    fista = sparse_encode(X_test, D, max_iter=3, tol=0.0, **PROBLEM)
    trained_gap = relative_gap(X_test, trained.transform(X_test), D)
    assert trained_gap < 0.5 * relative_gap(X_test, fista, D)
    assert trained_gap < 0.5 * relative_gap(X_test, untrained.transform(X_test), D)
    assert trained.loss_curve_[-1] < trained.loss_curve_[0]


def test_structured_network_beats_the_unstructured_one(group_problem):
    X_train, X_test, _, _, D = group_problem
    params = dict(PROBLEM, dictionary=D, n_layers=3, max_iter=30, random_state=0)
    gaps = {
        architecture: relative_gap(
            X_test,
            LearnedHiLassoEncoder(**params, architecture=architecture)
            .fit(X_train)
            .transform(X_test),
            D,
        )
        for architecture in ("bcofb", "lcod")
    }
    assert gaps["bcofb"] < 0.5 * gaps["lcod"]


def test_hilasso_objective_never_runs_an_exact_solver(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an exact solver ran")

    for name in ("_solve", "ista", "cod", "bcofb", "sparse_encode"):
        monkeypatch.setattr(solvers_module, name, refuse)
    X = small_data()
    encoder = LearnedHiLassoEncoder(n_components=6, groups=3, max_iter=3, random_state=0)
    encoder.fit(X).partial_fit(X)
    assert encoder.n_iter_ == 4


def test_regression_objective_regresses_exact_hilasso_codes(group_problem):
    X_train, X_test, _, _, D = group_problem
    exact = sparse_encode(X_test, D, **PROBLEM)
    params = dict(PROBLEM, dictionary=D, n_layers=3, objective="regression", random_state=0)
    untrained = LearnedHiLassoEncoder(**params, learning_rate=1e-12, max_iter=1).fit(X_train)
    trained = LearnedHiLassoEncoder(**params, max_iter=20).fit(X_train)

    def error(encoder):
        return np.sum((encoder.transform(X_test) - exact) ** 2)

    assert error(trained) < 0.5 * error(untrained)


def test_training_loss_is_the_hilasso_objective(group_problem):
    X_train, _, _, _, D = group_problem
    X, D = X_train[:100].astype(np.float64), D.astype(np.float64)
    encoder = LearnedHiLassoEncoder(
        **PROBLEM, dictionary=D, n_layers=2, max_iter=1, batch_size=100
    )
    code = encoder.fit(X).transform(X)
    # In the units the encoder trains in: X and codes over signal_scale_.
    objective = encoder._training_objective(torch.device("cpu"), torch.float64)
    scale = encoder.signal_scale_
    signals, codes = torch.from_numpy(X / scale), torch.from_numpy(code / scale)
    loss = objective(signals, codes, torch.from_numpy(D), None) * scale**2
    expected = hilasso_objective(X, code, D, **PROBLEM)
    np.testing.assert_allclose(loss.mean().item(), expected, rtol=1e-10)


def test_discriminative_loss_flips_the_sign_of_known_active_groups(group_problem):
    X_train, _, active_train, _, D = group_problem
    X, y = X_train[:50].astype(np.float64), active_train[:50]
    D = D.astype(np.float64)
    encoder = LearnedHiLassoEncoder(
        **PROBLEM, dictionary=D, objective="discriminative", n_layers=2, max_iter=1
    ).fit(X, y)
    code = encoder.transform(X)
    # In the units the encoder trains in: X and codes over signal_scale_.
    objective = encoder._training_objective(torch.device("cpu"), torch.float64)
    scale = encoder.signal_scale_
    tensors = (X / scale, code / scale, D, y.astype(np.float64))
    loss = objective(*(torch.from_numpy(a) for a in tensors)) * scale**2
    # By hand: lasso part, then -group_alpha on active groups and +group_alpha on the others.
    lasso = 0.5 * np.sum((X - code @ D) ** 2, axis=1) + 0.05 * np.abs(code).sum(axis=1)
    norms = np.linalg.norm(code.reshape(50, GROUPS, 8), axis=2)
    expected = lasso + 0.1 * np.sum(np.where(y == 1, -norms, norms), axis=1)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-10)


def test_discriminative_early_stopping_scores_set_aside_rows_with_their_groups(
    group_problem, monkeypatch
):
    # The validation loss of the kept network is the discriminative loss of
    # the set-aside rows with their own known groups (found by the rows the
    # training epochs did not see).
    X_train, _, active_train, _, D = group_problem
    X, y = X_train[:100].astype(np.float64), active_train[:100]
    seen = []
    original = LearnedHiLassoEncoder._train_epoch

    def spy(self, X_rows, *args):
        seen.append(X_rows.numpy() * self.signal_scale_)  # trained on X / scale (exact)
        return original(self, X_rows, *args)

    monkeypatch.setattr(LearnedHiLassoEncoder, "_train_epoch", spy)
    encoder = LearnedHiLassoEncoder(
        **PROBLEM, dictionary=D.astype(np.float64), objective="discriminative", n_layers=2,
        early_stopping=True, validation_fraction=0.2, max_iter=6, n_iter_no_change=100,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    trained = [int(np.flatnonzero(np.all(X == row, axis=1))[0]) for row in seen[0]]
    held_out = np.setdiff1d(np.arange(100), trained)
    assert held_out.size == 20
    objective = encoder._training_objective(torch.device("cpu"), torch.float64)
    X_val, y_val = X[held_out], y[held_out].astype(np.float64)
    scale = encoder.signal_scale_  # the objective's units: X and codes over the scale
    tensors = (X_val / scale, encoder.transform(X_val) / scale, D.astype(np.float64), y_val)
    loss = objective(*(torch.from_numpy(a) for a in tensors)) * scale**2
    assert float(loss.mean()) == pytest.approx(encoder.best_validation_loss_, rel=1e-10)
    assert encoder.best_validation_loss_ == min(encoder.validation_loss_curve_)


def test_discriminative_training_puts_more_energy_in_known_active_groups():
    X, D, _, active = make_group_sparse_signals(
        800, n_features=24, n_groups=GROUPS, group_size=8, n_active_groups=1,
        n_nonzero_per_group=3, noise=0.3, random_state=1,
    )  # fmt: skip
    params = dict(PROBLEM, dictionary=D, n_layers=2, max_iter=30, random_state=0)
    hilasso = LearnedHiLassoEncoder(**params).fit(X)
    discriminative = LearnedHiLassoEncoder(**params, objective="discriminative").fit(X, active)

    def active_energy_share(encoder):
        energies = encoder.group_energies(X)
        return np.mean(np.sum(energies * active, axis=1) / (energies.sum(axis=1) + 1e-12))

    assert active_energy_share(discriminative) > active_energy_share(hilasso)
    assert recovery(discriminative.group_energies(X), active) >= recovery(
        hilasso.group_energies(X), active
    )


def test_rescaled_codes_are_the_best_multiples_for_the_hilasso_objective(group_problem):
    # Each code is the best multiple of itself for the HiLasso objective (group
    # term included): scaling it by 1 +- 1e-3 never lowers that objective.
    X_train, X_test, _, _, D = group_problem
    encoder = LearnedHiLassoEncoder(
        **PROBLEM, dictionary=D, architecture="rescaled_lista", max_iter=5, random_state=0
    ).fit(X_train)
    assert encoder.network_.grouped
    X, code = X_test.astype(np.float64), encoder.transform(X_test).astype(np.float64)
    groups = [np.arange(8 * g, 8 * g + 8) for g in range(GROUPS)]

    def per_sample(scale):
        scaled = scale * code
        group_term = sum(np.linalg.norm(scaled[:, group], axis=1) for group in groups)
        return (
            0.5 * ((X - scaled @ D) ** 2).sum(1)
            + PROBLEM["alpha"] * np.abs(scaled).sum(1)
            + PROBLEM["group_alpha"] * group_term
        )

    nonzero = np.abs(code).sum(1) > 0
    assert nonzero.mean() > 0.9
    for scale in (1 - 1e-3, 1 + 1e-3):
        assert np.all(per_sample(scale)[nonzero] >= per_sample(1.0)[nonzero] - 1e-9)


def test_unstructured_network_without_group_penalty_is_the_lasso_encoder():
    X = small_data(1)
    common = dict(n_components=6, alpha=0.1, architecture="lista", max_iter=4, random_state=0)
    # The two classes' training defaults differ: the same training for both.
    common.update(input_noise=0.0, n_iter_no_change=10, early_stopping=False)
    hilasso = LearnedHiLassoEncoder(**common, groups=3, group_alpha=0.0).fit(X)
    lasso = LearnedLassoEncoder(**common).fit(X)
    np.testing.assert_allclose(hilasso.components_, lasso.components_, atol=1e-12)
    np.testing.assert_allclose(hilasso.transform(X), lasso.transform(X), atol=1e-12)


# ------------------------------------------------------ groups and energies
def test_groups_energies_and_score(group_problem):
    X_train, X_test, _, active_test, D = group_problem
    encoder = LearnedHiLassoEncoder(
        **PROBLEM, dictionary=D, n_layers=3, max_iter=20, random_state=0
    ).fit(X_train)
    assert [group.tolist() for group in encoder.groups_] == [
        list(range(8 * g, 8 * g + 8)) for g in range(GROUPS)
    ]
    code = encoder.transform(X_test)
    energies = encoder.group_energies(X_test)
    assert energies.shape == (200, GROUPS) and energies.dtype == np.float32
    np.testing.assert_allclose(
        energies, np.linalg.norm(code.reshape(200, GROUPS, 8), axis=2), rtol=1e-6
    )
    assert recovery(energies, active_test) > 0.9
    np.testing.assert_allclose(
        encoder.score(X_test), -hilasso_objective(X_test, code, D, **PROBLEM), rtol=1e-6
    )


def test_explicit_partition_matches_the_permuted_problem():
    """Groups given as index lists: same codes as contiguous groups on permuted atoms."""
    X = small_data(2)
    D = np.random.default_rng(3).standard_normal((6, 6))
    permutation = np.array([4, 0, 5, 2, 1, 3])
    groups = [permutation[:2], permutation[2:4], permutation[4:]]
    common = dict(alpha=0.1, group_alpha=0.2, n_layers=2, max_iter=3, random_state=0)
    scattered = LearnedHiLassoEncoder(**common, dictionary=D, groups=groups).fit(X)
    contiguous = LearnedHiLassoEncoder(**common, dictionary=D[permutation], groups=3).fit(X)
    np.testing.assert_allclose(
        scattered.transform(X)[:, permutation], contiguous.transform(X), atol=1e-10
    )
    np.testing.assert_allclose(
        scattered.group_energies(X), contiguous.group_energies(X), atol=1e-10
    )


def test_group_weights_enter_the_objective():
    X = small_data(3)
    D = np.random.default_rng(4).standard_normal((6, 6))
    weights = np.array([1.0, 3.0, 0.5])
    encoder = LearnedHiLassoEncoder(
        dictionary=D, groups=3, alpha=0.1, group_alpha=0.2, group_weights=weights, max_iter=2
    ).fit(X)
    expected = hilasso_objective(
        X, encoder.transform(X), D, alpha=0.1, groups=3, group_alpha=0.2, group_weights=weights
    )
    np.testing.assert_allclose(encoder.score(X), -expected, rtol=1e-10)


def test_default_groups_are_singletons():
    encoder = LearnedHiLassoEncoder(n_components=5, max_iter=1).fit(small_data(4))
    assert [group.tolist() for group in encoder.groups_] == [[0], [1], [2], [3], [4]]


# ------------------------------------------------------------- the contract
@pytest.mark.parametrize("architecture", sorted({*STRUCTURED_NETWORKS, *NETWORKS}))  # the registry
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved_and_inputs_are_untouched(architecture, dtype):
    X = small_data(5, dtype=dtype)
    X_before = X.copy()
    encoder = LearnedHiLassoEncoder(
        n_components=6, groups=2, architecture=architecture, max_iter=2, random_state=0
    ).fit(X)
    assert encoder.transform(X).dtype == dtype
    assert encoder.group_energies(X).dtype == dtype
    np.testing.assert_array_equal(X, X_before)


@pytest.mark.parametrize("architecture", ["bcofb", "ista"])
def test_pickle_round_trip_and_partial_fit(architecture):
    X = small_data(6)
    encoder = LearnedHiLassoEncoder(
        n_components=6, groups=3, architecture=architecture, max_iter=2, random_state=0
    ).fit(X)
    restored = pickle.loads(pickle.dumps(encoder))
    np.testing.assert_array_equal(restored.transform(X), encoder.transform(X))
    encoder.partial_fit(X)
    restored.partial_fit(X)
    np.testing.assert_allclose(restored.transform(X), encoder.transform(X), atol=1e-12)
    assert restored.n_iter_ == 3


def test_partial_fit_discriminative_needs_y_every_call(group_problem):
    X_train, _, active_train, _, D = group_problem
    encoder = LearnedHiLassoEncoder(**PROBLEM, dictionary=D, objective="discriminative")
    encoder.partial_fit(X_train[:100], active_train[:100])
    encoder.partial_fit(X_train[100:200], active_train[100:200])
    assert encoder.n_iter_ == 2
    with pytest.raises(ValueError, match="needs y"):
        encoder.partial_fit(X_train[:100])


def test_pipeline_and_grid_search(group_problem):
    X_train, _, _, _, D = group_problem
    pipeline = make_pipeline(
        StandardScaler(with_std=False),
        LearnedHiLassoEncoder(**PROBLEM, dictionary=D, n_layers=2, max_iter=3, random_state=0),
    )
    search = GridSearchCV(
        pipeline, {"learnedhilassoencoder__architecture": ["bcofb", "lcod"]}, cv=2
    ).fit(X_train[:300])
    assert search.best_params_["learnedhilassoencoder__architecture"] in ("bcofb", "lcod")
    assert search.transform(X_train[:5]).shape == (5, 32)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, match",
    [
        ({"groups": 4}, "groups"),  # 6 atoms are not 4 equal groups
        # (Nested groups and atoms in no group make a tree: tests/test_tree.py.)
        ({"groups": [[0, 1, 2], [2, 3, 4, 5]]}, "groups.*overlap without one holding"),
        ({"groups": [[0, 1], [1, 0]]}, "groups.*same group twice"),
        ({"groups": [[0, 1, 2], [3, 4, 9]]}, "groups.*out of range"),
        ({"groups": [[0, 1, 2], [], [3, 4, 5]]}, "groups.*empty"),
        ({"groups": 0}, "groups"),
        ({"group_alpha": -0.1}, "group_alpha"),
        ({"groups": 3, "group_weights": [1.0, -1.0, 1.0]}, "group_weights"),
        ({"groups": 3, "group_weights": [1.0, 1.0]}, "group_weights"),
        ({"architecture": "lstm"}, "architecture"),
        ({"objective": "lasso"}, "objective"),
        ({"alpha": -1.0}, "alpha"),
    ],
)
def test_bad_parameters_are_refused_naming_them(params, match):
    with pytest.raises(ValueError, match=match):
        LearnedHiLassoEncoder(n_components=6, max_iter=1, **params).fit(small_data(7))


@pytest.mark.parametrize(
    "y, match",
    [
        (None, "needs y"),
        (np.zeros(60), r"shape \(n_samples, n_groups\)"),
        (np.zeros((60, 2)), r"shape \(n_samples, n_groups\)"),
        (np.zeros((59, 3)), r"shape \(n_samples, n_groups\)"),
        (np.full((60, 3), 2.0), "only 0 and 1"),
        (np.full((60, 3), np.nan), "NaN"),
    ],
)
def test_discriminative_refuses_missing_or_misshaped_y(y, match):
    encoder = LearnedHiLassoEncoder(n_components=6, groups=3, objective="discriminative")
    with pytest.raises(ValueError, match=match):
        encoder.fit(small_data(8), y)
    assert not hasattr(encoder, "network_")


def test_unsupervised_objectives_ignore_y():
    X = small_data(9)
    common = dict(n_components=6, groups=3, max_iter=2, random_state=0)
    with_y = LearnedHiLassoEncoder(**common).fit(X, np.arange(60))
    without_y = LearnedHiLassoEncoder(**common).fit(X)
    np.testing.assert_array_equal(with_y.transform(X), without_y.transform(X))


@pytest.mark.parametrize("architecture", ["bcofb", "ista"])
def test_bfloat16_transform_keeps_the_codes_objective(group_problem, architecture):
    X_train, X_test, _, _, D = group_problem
    encoder = LearnedHiLassoEncoder(
        **PROBLEM, dictionary=D, architecture=architecture, n_layers=3, max_iter=10,
        random_state=0,
    ).fit(X_train)  # fmt: skip
    full = encoder.transform(X_test)
    rounded = encoder.set_params(transform_dtype="bfloat16").transform(X_test)
    assert rounded.dtype == np.float32 and not np.array_equal(rounded, full)
    assert hilasso_objective(X_test, rounded, D, **PROBLEM) == pytest.approx(
        hilasso_objective(X_test, full, D, **PROBLEM), rel=0.02
    )
