"""Nonnegative codes (``positive``) and atoms (``positive_dict``): solvers, networks, models."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from _reference import positive_hilasso_kkt_violation
from sklearn.decomposition import NMF
from sklearn.linear_model import Lasso

from sklearn_lsc import (
    LearnedHiLassoEncoder,
    LearnedLassoEncoder,
    OnlineSparseModeler,
    hilasso_objective,
    lasso_alpha_max,
    lasso_objective,
    sparse_encode,
)
from sklearn_lsc._networks import REGISTRY, STRUCTURED_NETWORKS
from sklearn_lsc._penalties import HiLassoPenalty, L1Penalty

GROUPS = [np.arange(0, 3), np.arange(3, 8), np.arange(8, 12)]


def problem(seed=0, n_samples=40, n_components=12, n_features=8):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    return rng.standard_normal((n_samples, n_features)), D


def nonnegative_problem(seed=0, n_samples=400, n_components=16, n_features=12):
    """Nonnegative rows built from a few of ``n_components`` nonnegative atoms."""
    rng = np.random.default_rng(seed)
    D = np.abs(rng.standard_normal((n_components, n_features)))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    codes = np.abs(rng.standard_normal((n_samples, n_components)))
    codes *= rng.random((n_samples, n_components)) < 0.2
    X = codes @ D + 0.05 * np.abs(rng.standard_normal((n_samples, n_features)))
    return X, D


@pytest.mark.parametrize("algorithm", ["fista", "ista", "cod", "bcofb"])
def test_every_solver_matches_scikit_learns_nonnegative_lasso(algorithm):
    X, D = problem()
    # scikit-learn's Lasso on each row, converged tightly: its objective is
    # ours divided by n_features, hence alpha / n_features.
    lasso = Lasso(alpha=0.2 / X.shape[1], positive=True, fit_intercept=False, tol=1e-12)
    expected = np.array([lasso.set_params(max_iter=100_000).fit(D.T, x).coef_ for x in X])
    code = sparse_encode(
        X, D, alpha=0.2, positive=True, algorithm=algorithm, max_iter=20_000, tol=1e-10
    )
    assert code.min() == 0.0 and (code > 0).any()
    np.testing.assert_allclose(code, expected, atol=1e-5)
    assert lasso_objective(X, code, D, 0.2) <= lasso_objective(X, expected, D, 0.2) + 1e-9
    # Without the constraint some codes are negative: the option changes the problem.
    assert sparse_encode(X, D, alpha=0.2, algorithm=algorithm, max_iter=2000).min() < 0


@pytest.mark.parametrize("algorithm", ["fista", "ista", "bcofb"])
def test_nonnegative_hilasso_codes_meet_the_optimality_conditions(algorithm):
    X, D = problem(1)
    weights = np.array([1.0, 2.0, 0.5])
    code = sparse_encode(
        X, D, alpha=0.1, groups=GROUPS, group_alpha=0.3, group_weights=weights,
        positive=True, algorithm=algorithm, max_iter=50_000, tol=1e-12,
    )  # fmt: skip
    violation = positive_hilasso_kkt_violation(X, code, D, 0.1, GROUPS, 0.3 * weights)
    assert violation < 1e-5
    # Some groups are off, some on: the conditions are checked on both branches.
    norms = np.stack([np.linalg.norm(code[:, g], axis=1) for g in GROUPS], axis=1)
    assert (norms == 0).any() and (norms > 0).any()


def test_a_negative_warm_start_is_refused_with_nonnegative_codes():
    X, D = problem()
    with pytest.raises(ValueError, match="'init' parameter has negative entries"):
        sparse_encode(X, D, alpha=0.2, positive=True, init=-np.ones((X.shape[0], 12)))


def test_nonnegative_alpha_max_counts_positive_correlations_only():
    X = np.array([[-3.0, 1.0]])
    assert lasso_alpha_max(X, np.eye(2)) == 3.0
    assert lasso_alpha_max(X, np.eye(2), positive=True) == 1.0
    # Just above it every nonnegative code is zero, just below one is not.
    assert not sparse_encode(X, np.eye(2), alpha=1.001, positive=True).any()
    assert sparse_encode(X, np.eye(2), alpha=0.999, positive=True).any()


def test_an_encoder_warns_when_no_positive_correlation_exceeds_alpha():
    X = -np.abs(np.random.default_rng(0).standard_normal((30, 4)))
    encoder = LearnedLassoEncoder(dictionary=np.eye(4), alpha=0.01, positive=True, max_iter=1)
    with pytest.warns(UserWarning, match=r"lasso_alpha_max\(X, dictionary, positive=True\)"):
        encoder.fit(X)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_network_codes_nonnegative_with_a_nonnegative_penalty(name):
    X, D = problem(2)
    index = torch.as_tensor(np.repeat([0, 1, 2], [3, 5, 4]))
    if name in STRUCTURED_NETWORKS or name == "rescaled_lista":
        penalty = HiLassoPenalty(0.1, index, torch.tensor([0.2, 0.1, 0.3]), positive=True)
    else:
        penalty = L1Penalty(0.1, positive=True)
    network = REGISTRY[name](torch.tensor(D), penalty, 4).double()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # parameters moved off the algorithm's values
        for parameter in network.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
            parameter.add_(0.1 * noise)
    X_tensor = torch.tensor(X)
    autograd = network(X_tensor)
    with torch.no_grad():
        inference = network(X_tensor)
    assert autograd.min() >= 0 and (autograd > 0).any()
    torch.testing.assert_close(inference, autograd.detach())


def test_rescaled_lista_keeps_its_plane_points_nonnegative():
    # Its layers combine a G + b Z with b of either sign: a point with a
    # negative entry must not be taken (the Lasso network takes it).
    X, D = problem(3, n_samples=200)
    outputs = {}
    for positive in (False, True):
        network = REGISTRY["rescaled_lista"](
            torch.tensor(D), L1Penalty(0.05, positive=positive), 5
        ).double()
        with torch.no_grad():
            network.momentum.fill_(0.9)  # large steps: b < 0 on some rows
            # The fused kernels' pass where numba is installed, and the torch pass.
            outputs[positive] = network(torch.tensor(X))
            torch_pass = network._forward_in_place_torch(torch.tensor(X))
        if positive:
            assert torch_pass.min() >= 0
    assert outputs[True].min() >= 0 and outputs[False].min() < 0


@pytest.mark.parametrize("estimator_class", [LearnedLassoEncoder, LearnedHiLassoEncoder])
def test_encoders_code_nonnegative_and_near_the_exact_nonnegative_codes(estimator_class):
    X, D = nonnegative_problem()
    X_train, X_test = X[:300], X[300:]
    params = dict(dictionary=D, alpha=0.05, positive=True, max_iter=60, random_state=0)
    if estimator_class is LearnedHiLassoEncoder:
        params.update(groups=4, group_alpha=0.05)
    encoder = estimator_class(**params).fit(X_train)
    code = encoder.transform(X_test)
    assert code.min() >= 0 and (code > 0).mean() > 0.05
    groups = dict(groups=4, group_alpha=0.05) if estimator_class is LearnedHiLassoEncoder else {}
    exact = sparse_encode(X_test, D, alpha=0.05, positive=True, **groups)
    untrained = estimator_class(**{**params, "max_iter": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        untrained.fit(X_train)
    # The score is the objective of the constrained problem: trained codes get
    # closer to its optimum than the untrained network (its algorithm).
    if groups:
        optimum = -hilasso_objective(X_test, exact, D, alpha=0.05, **groups)
    else:
        optimum = -lasso_objective(X_test, exact, D, 0.05)
    assert optimum >= encoder.score(X_test) > untrained.score(X_test)


def test_a_learned_nonnegative_dictionary_stays_nonnegative():
    X, _ = nonnegative_problem(1)
    X = X - 0.3  # rows with negative entries: atoms must still be nonnegative
    encoder = LearnedLassoEncoder(
        n_components=10, alpha=0.05, positive=True, positive_dict=True, max_iter=5, random_state=0
    ).fit(X)
    atoms = encoder.components_
    assert atoms.min() >= 0 and np.all(np.linalg.norm(atoms, axis=1) <= 1 + 1e-6)
    assert encoder.transform(X).min() >= 0
    signed = LearnedLassoEncoder(n_components=10, alpha=0.05, max_iter=5, random_state=0).fit(X)
    assert signed.components_.min() < 0  # without the option, atoms take any sign


def test_online_nonnegative_factorization():
    X, _ = nonnegative_problem(2, n_samples=600)
    modeler = OnlineSparseModeler(
        n_components=10, alpha=0.05, positive=True, positive_dict=True,
        window_size=200, step_size=100, random_state=0,
    )  # fmt: skip
    for start in range(0, 600, 200):
        modeler.partial_fit(X[start : start + 200])
    assert modeler.components_.min() >= 0 and modeler.transform(X).min() >= 0
    restored = pickle.loads(pickle.dumps(modeler))
    assert restored._dictionary_update.positive
    np.testing.assert_array_equal(restored.transform(X), modeler.transform(X))


@pytest.mark.parametrize(
    "estimator",
    [
        LearnedLassoEncoder(dictionary=-np.eye(4), fit_dictionary=True, positive_dict=True),
        OnlineSparseModeler(dictionary_init=-np.eye(4), positive_dict=True),
    ],
    ids=["encoder", "online"],
)
def test_a_negative_dictionary_to_adapt_nonnegatively_is_refused(estimator):
    X = np.abs(np.random.default_rng(0).standard_normal((20, 4)))
    name = "dictionary" if isinstance(estimator, LearnedLassoEncoder) else "dictionary_init"
    with pytest.raises(ValueError, match=f"'{name}' parameter has negative entries"):
        estimator.fit(X)
    assert not hasattr(estimator, "components_")  # the failed fit left it unfitted
    # A fixed dictionary is not adapted: its signs do not matter.
    if isinstance(estimator, LearnedLassoEncoder):
        estimator.set_params(fit_dictionary=False, max_iter=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator.fit(X)


def test_a_nonnegative_encoder_saves_and_loads():
    X, D = nonnegative_problem(3)
    encoder = LearnedLassoEncoder(dictionary=D, alpha=0.05, positive=True, max_iter=3).fit(X)
    restored = pickle.loads(pickle.dumps(encoder))
    assert restored.network_.penalty.positive
    np.testing.assert_array_equal(restored.transform(X), encoder.transform(X))


def test_a_fitted_nmf_maps_to_a_nonnegative_encoder():
    # scikit-learn's NMF.transform minimises, per row and with l1_ratio=1,
    # 0.5 ||x - w H||^2 + alpha_W * n_features * ||w||_1 over w >= 0: the
    # nonnegative Lasso with alpha = alpha_W * n_features.
    # (alpha_H="same" also penalises the atoms, which keeps their norms
    # comparable: with free atoms NMF's scale ambiguity can give norms a
    # hundred times apart, a badly conditioned problem for any few-layer code.)
    X, _ = nonnegative_problem(4, n_samples=300)
    alpha_W = 0.001
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NMF's own convergence warning
        nmf = NMF(
            n_components=8, alpha_W=alpha_W, l1_ratio=1.0, init="nndsvda", max_iter=2000,
            tol=1e-8, random_state=0,
        ).fit(X[:200])  # fmt: skip
        nmf_codes = nmf.transform(X[200:])
    alpha = alpha_W * X.shape[1]
    exact = sparse_encode(X[200:], nmf.components_, alpha=alpha, positive=True, tol=1e-10)
    np.testing.assert_allclose(exact, nmf_codes, atol=1e-4)
    encoder = LearnedLassoEncoder(  # default training
        dictionary=nmf.components_, alpha=alpha, positive=True, random_state=0
    ).fit(X[:200])
    code = encoder.transform(X[200:])
    assert code.min() >= 0
    optimum = lasso_objective(X[200:], exact, nmf.components_, alpha)
    reached = lasso_objective(X[200:], code, nmf.components_, alpha)
    assert optimum <= reached < 1.05 * optimum


@pytest.mark.parametrize("estimator_class", [LearnedLassoEncoder, OnlineSparseModeler])
def test_models_saved_before_the_nonnegative_options_load_with_them_off(estimator_class):
    X, D = nonnegative_problem(5, n_samples=200)
    params = {"dictionary": D} if estimator_class is LearnedLassoEncoder else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimator_class(alpha=0.05, random_state=0, **params).fit(X)
    state = model.__getstate__()
    del state["positive"], state["positive_dict"]  # as an older version saved it
    loaded = estimator_class.__new__(estimator_class)
    loaded.__setstate__(state)
    assert loaded.get_params()["positive"] is False and repr(loaded)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
