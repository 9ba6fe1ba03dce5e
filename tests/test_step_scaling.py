"""ISTA's steps per atom for atoms that differ in norm, and rates that follow them."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from _reference import fista_reference, ista_reference, per_atom_steps
from sklearn.exceptions import ConvergenceWarning

import sklearn_lsc._base as base_module
from sklearn_lsc import (
    LearnedHiLassoEncoder,
    LearnedLassoEncoder,
    OnlineSparseModeler,
    hilasso_objective,
    lasso_alpha_max,
    lasso_objective,
    sparse_encode,
)
from sklearn_lsc._networks import LISTA, RescaledLISTA, StepLISTA, reset_atoms
from sklearn_lsc._penalties import L1Penalty
from sklearn_lsc._persistence import optimizer_from_state, optimizer_state
from sklearn_lsc._step_scaling import choose_norm_floor, norm_floor_candidates
from sklearn_lsc._training import make_optimizer
from sklearn_lsc.datasets import make_group_sparse_signals
from sklearn_lsc.solvers import ista, ista_operators


def scaled_atoms(seed=0, n_components=24, n_features=12, low=0.1, high=10.0):
    """Gaussian atoms of norms spread log-uniformly over [low, high]."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    return D * np.exp(rng.uniform(np.log(low), np.log(high), size=(n_components, 1)))


def signals(D, n_samples, seed=1, n_nonzero=3):
    """Rows made of a few atoms each, with weights that give every atom a similar share."""
    rng = np.random.default_rng(seed)
    norms = np.linalg.norm(D, axis=1)
    code = np.zeros((n_samples, D.shape[0]))
    support = np.argsort(rng.random((n_samples, D.shape[0])), axis=1)[:, :n_nonzero]
    weights = rng.standard_normal((n_samples, n_nonzero)) / norms[support]
    np.put_along_axis(code, support, weights, axis=1)
    return code @ D + 0.01 * rng.standard_normal((n_samples, D.shape[1]))


@pytest.mark.parametrize("norm_floor", [0.05, 0.5, 2.0, 20.0])
def test_per_atom_steps_keep_the_step_condition(norm_floor):
    D = torch.tensor(scaled_atoms(n_components=10, n_features=6, low=0.2, high=5.0))
    W, S, step = ista_operators(D, norm_floor)
    gram = D @ D.T
    root = step.sqrt()
    top = torch.linalg.eigvalsh(root[:, None] * gram * root[None, :])[-1]
    assert float(top) == pytest.approx(1.0, rel=1e-10)
    np.testing.assert_allclose(step.numpy(), per_atom_steps(D.numpy(), norm_floor), rtol=1e-12)
    # One ISTA step: X W + Z S = Z - (Z G - X D^T) P.
    rng = np.random.default_rng(3)
    X, Z = torch.tensor(rng.standard_normal((4, 6))), torch.tensor(rng.standard_normal((4, 10)))
    expected = Z - (Z @ gram - X @ D.T) * step
    np.testing.assert_allclose((X @ W + Z @ S).numpy(), expected.numpy(), atol=1e-12)


def test_floors_beyond_the_norms_give_one_step_or_jacobis():
    D = torch.tensor(scaled_atoms(n_components=10, n_features=6, low=0.2, high=5.0))
    norms = torch.linalg.vector_norm(D, dim=1)
    _, _, plain = ista_operators(D)
    _, _, above = ista_operators(D, float(norms.max()) * 1.01)
    np.testing.assert_allclose(above.numpy(), np.full(10, float(plain)), rtol=1e-12)
    _, _, below = ista_operators(D, float(norms.min()) * 0.99)
    scaled = (below * norms.square()).numpy()  # Jacobi: every atom's step times its norm^2
    np.testing.assert_allclose(scaled, np.full(10, scaled[0]), rtol=1e-12)


def test_a_zero_atom_gets_a_finite_step():
    D = scaled_atoms(n_components=6, n_features=4)
    D[2] = 0.0
    _, _, step = ista_operators(torch.tensor(D), 0.5)
    assert torch.isfinite(step).all()


@pytest.mark.parametrize("positive", [False, True], ids=["signed", "nonnegative"])
@pytest.mark.parametrize("norm_floor", [0.3, 3.0])
def test_untrained_networks_with_a_floor_equal_their_algorithm(norm_floor, positive):
    D = scaled_atoms(n_components=16, n_features=10, low=0.2, high=5.0)
    X = np.random.default_rng(2).standard_normal((12, 10))
    penalty = L1Penalty(0.3, positive=positive)
    lista = LISTA(torch.tensor(D), penalty, 4, norm_floor=norm_floor).double()
    step = StepLISTA(torch.tensor(D), penalty, 4, norm_floor=norm_floor).double()
    with torch.no_grad():
        lista_code = lista(torch.tensor(X)).numpy()
        lista_in_place = lista._forward_in_place(torch.tensor(X)).numpy()
        step_code = step(torch.tensor(X)).numpy()
        step_in_place = step._forward_in_place(torch.tensor(X)).numpy()
    expected = ista_reference(X, D, 0.3, 4, positive, norm_floor=norm_floor)
    np.testing.assert_allclose(lista_code, expected, atol=1e-12)
    np.testing.assert_allclose(lista_in_place, expected, atol=1e-12)
    expected, _ = fista_reference(
        X, D, 0.3, 4, restart=False, positive=positive, norm_floor=norm_floor
    )
    np.testing.assert_allclose(step_code, expected, atol=1e-12)
    np.testing.assert_allclose(step_in_place, expected, atol=1e-12)


def test_fista_with_a_floor_equals_the_reference():
    D = scaled_atoms(n_components=16, n_features=10)
    X = np.random.default_rng(4).standard_normal((12, 10))
    code, _ = ista(
        torch.tensor(X), torch.tensor(D), L1Penalty(0.3), max_iter=30, tol=0.0, norm_floor=0.5
    )
    expected, _ = fista_reference(X, D, 0.3, 30, norm_floor=0.5)
    np.testing.assert_allclose(code.numpy(), expected, atol=1e-10)


def test_the_candidates_halve_from_the_largest_norm_to_below_the_smallest():
    assert norm_floor_candidates(torch.ones(5)) == [None]
    assert norm_floor_candidates(torch.tensor([1.0, 1.0 + 1e-5])) == [None]
    assert norm_floor_candidates(torch.zeros(3)) == [None]
    assert norm_floor_candidates(torch.tensor([1.0, 0.3, 0.0])) == [None, 0.5, 0.25]


def test_the_floor_is_chosen_where_the_data_gain_from_it():
    # Atoms whose norms span two decades, every atom used: Jacobi-like steps
    # code far better than 1 / L, which barely moves the small atoms.
    D = scaled_atoms()
    X = signals(D, 400)
    penalty = L1Penalty(0.02)
    floor = choose_norm_floor(torch.tensor(X), torch.tensor(D), penalty, 5)
    assert floor is not None

    def objective(norm_floor):
        code, _ = ista(
            torch.tensor(X), torch.tensor(D), penalty, max_iter=5, tol=0.0, norm_floor=norm_floor
        )
        return lasso_objective(X, code.numpy(), D, 0.02)

    assert objective(floor) < 0.9 * objective(None)


def test_one_step_is_kept_where_the_faint_atoms_go_unused():
    # Strong atoms code the data; faint atoms, nearly parallel to each other,
    # never enter the codes. Steps scaled up for them would force the strong
    # atoms' steps down: 1 / L codes best, and is kept.
    rng = np.random.default_rng(5)
    strong = rng.standard_normal((12, 10))
    strong /= np.linalg.norm(strong, axis=1, keepdims=True)
    direction = rng.standard_normal(10)
    faint = direction + 0.05 * rng.standard_normal((12, 10))
    faint *= 0.02 / np.linalg.norm(faint, axis=1, keepdims=True)
    D = np.vstack([strong, faint])
    X = signals(strong, 300)
    floor = choose_norm_floor(torch.tensor(X), torch.tensor(D), L1Penalty(0.05), 5)
    assert floor is None


def _gap(X, code, D, alpha):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        optimum = sparse_encode(X, D, alpha=alpha, max_iter=20000, tol=1e-12)
    best = lasso_objective(X, optimum, D, alpha)
    return (lasso_objective(X, code, D, alpha) - best) / best


def test_the_chosen_floor_lowers_the_held_out_gap(monkeypatch):
    # Rows made of unit-norm atoms, coded on the same atoms with norms spread
    # over [0.1, 10]: the large atoms code them, the small ones move slowly
    # under 1 / L.
    rng = np.random.default_rng(0)
    D = rng.standard_normal((32, 16))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    code = np.zeros((900, 32))
    support = np.argsort(rng.random(code.shape), axis=1)[:, :3]
    np.put_along_axis(code, support, rng.standard_normal((900, 3)), axis=1)
    X = code @ D + 0.01 * rng.standard_normal((900, 16))
    D *= np.exp(rng.uniform(-np.log(10), np.log(10), size=(32, 1)))
    X_train, X_test = X[:600], X[600:]
    alpha = 0.1 * lasso_alpha_max(X_train, D)
    params = dict(dictionary=D, alpha=alpha, max_iter=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder = LearnedLassoEncoder(**params).fit(X_train)
        assert encoder.norm_floor_ is not None
        assert encoder.network_.norm_floor == encoder.norm_floor_
        monkeypatch.setattr(base_module, "choose_norm_floor", lambda *args: None)
        plain = LearnedLassoEncoder(**params).fit(X_train)
    assert plain.norm_floor_ is None
    chosen_gap = _gap(X_test, encoder.transform(X_test), D, alpha)
    plain_gap = _gap(X_test, plain.transform(X_test), D, alpha)
    assert chosen_gap < 0.5 * plain_gap


@pytest.mark.parametrize("architecture", ["auto", "lcod", "alista", "hyper_lista"])
@pytest.mark.parametrize("factor", [2.0**-8, 2.0**8])
def test_the_relative_gap_is_the_same_at_any_scale_of_the_atoms(factor, architecture):
    # The same problem with atoms and alpha c times larger has codes, weights
    # and thresholds c times smaller: with the rates scaled alike (and the
    # analytic networks' thresholds divided by the atoms' squared norms),
    # training goes as with unit-norm atoms.
    rng = np.random.default_rng(0)
    D = rng.standard_normal((32, 16))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    codes = rng.standard_normal((600, 32)) * (rng.random((600, 32)) < 0.1)
    X = codes @ D + 0.05 * rng.standard_normal((600, 16))
    X_train, X_test = X[:400], X[400:]
    gaps = []
    for scale in (1.0, factor):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            encoder = LearnedLassoEncoder(
                dictionary=D * scale,
                alpha=0.1 * scale,
                architecture=architecture,
                max_iter=40,
                random_state=0,
            ).fit(X_train)
        assert encoder.norm_floor_ is None  # atoms of equal norms
        gaps.append(_gap(X_test, encoder.transform(X_test), D * scale, 0.1 * scale))
    # Within a tenth: Adam's eps is not scaled, so smaller gradients move a
    # little less.
    assert gaps[1] == pytest.approx(gaps[0], rel=0.1)
    assert gaps[0] < 0.2


@pytest.mark.parametrize("architecture", ["bcofb", "ista"])
@pytest.mark.parametrize("factor", [2.0**-6, 2.0**6])
def test_the_structured_networks_relative_gap_is_the_same_at_any_scale_of_the_atoms(
    factor, architecture
):
    # As above, for the HiLasso: thresholds t and s in the codes' units.
    X, D, _, _ = make_group_sparse_signals(
        n_samples=500, n_features=16, n_groups=4, group_size=8, random_state=0
    )
    X_train, X_test = X[:400], X[400:]
    objectives = []
    for scale in (1.0, factor):
        params = dict(alpha=0.05 * scale, groups=4, group_alpha=0.1 * scale)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            encoder = LearnedHiLassoEncoder(
                dictionary=D * scale,
                architecture=architecture,
                n_layers=3,
                max_iter=40,
                random_state=0,
                **params,
            ).fit(X_train)
            optimum = sparse_encode(X_test, D * scale, max_iter=20000, tol=1e-12, **params)
        best = hilasso_objective(X_test, optimum, D * scale, **params)
        reached = hilasso_objective(X_test, encoder.transform(X_test), D * scale, **params)
        objectives.append((reached - best) / best)
    assert objectives[1] == pytest.approx(objectives[0], rel=0.1)
    assert objectives[0] < 0.2


def test_unit_norm_atoms_train_every_parameter_at_the_given_rate():
    D = torch.tensor(scaled_atoms(low=1.0, high=1.0))
    network = RescaledLISTA(D, L1Penalty(0.1), 3)
    optimizer = make_optimizer("adam", network, 1e-3)
    assert {group["lr"] for group in optimizer.param_groups} == {1e-3}
    assert sum(len(group["params"]) for group in optimizer.param_groups) == len(
        list(network.parameters())
    )


def _rates(optimizer):
    return {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}


def test_the_rates_of_weights_and_thresholds_follow_the_atoms_scale():
    D = torch.tensor(8.0 * scaled_atoms(low=1.0, high=1.0))
    network = RescaledLISTA(D, L1Penalty(0.1), 3)
    rates = _rates(make_optimizer("adam", network, 1e-3, atom_scale=8.0))
    assert rates[id(network.W)] == pytest.approx(1e-3 / 8)
    assert rates[id(network.theta)] == pytest.approx(1e-3 / 8)
    assert rates[id(network.momentum)] == pytest.approx(1e-3)
    assert rates[id(network.correction)] == pytest.approx(1e-3)


@pytest.mark.parametrize("fit_dictionary", [False, True])
def test_a_fixed_dictionarys_scale_sets_the_rates_a_learned_ones_does_not(fit_dictionary):
    D = 8.0 * scaled_atoms(low=1.0, high=1.0)
    X = signals(D, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder = LearnedLassoEncoder(
            dictionary=D, alpha=0.05, fit_dictionary=fit_dictionary,
            architecture="rescaled_lista", random_state=0,
        ).partial_fit(X)  # fmt: skip
    rates = _rates(encoder._optimizer)
    expected = 1e-3 if fit_dictionary else 1e-3 / 8
    assert rates[id(encoder.network_.W)] == pytest.approx(expected)
    assert rates[id(encoder.network_.momentum)] == pytest.approx(1e-3)


def test_an_optimizer_saved_in_one_group_loads_as_saved():
    # Saved before the rates followed the atoms' norms: one group, where a
    # rescaled LISTA's optimizer now has two (its weights and thresholds apart).
    D = torch.tensor(8.0 * scaled_atoms(low=1.0, high=1.0))
    network = RescaledLISTA(D, L1Penalty(0.1), 2)
    assert len(make_optimizer("adam", network, 1e-3).param_groups) == 2
    old = make_optimizer("adam", network, 1e-3, by_power=False)
    network(torch.ones(3, D.shape[1], dtype=D.dtype)).sum().backward()
    old.step()
    loaded = optimizer_from_state(optimizer_state(old), network)
    assert len(loaded.param_groups) == 1
    assert loaded.param_groups[0]["lr"] == 1e-3
    for index in old.state_dict()["state"]:
        torch.testing.assert_close(
            loaded.state_dict()["state"][index]["exp_avg"],
            old.state_dict()["state"][index]["exp_avg"],
        )


def test_models_whose_atoms_change_scale_in_training_still_pickle():
    # The optimizer's groups do not depend on the atoms' scale, which a
    # learned dictionary changes (its atoms projected onto the unit ball).
    D = 8.0 * scaled_atoms(low=1.0, high=1.0)
    X = signals(D, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder = LearnedLassoEncoder(
            dictionary=D, alpha=0.05, fit_dictionary=True, architecture="rescaled_lista",
            random_state=0,
        ).partial_fit(X).partial_fit(X)  # fmt: skip
        model = OnlineSparseModeler(
            dictionary_init=D, n_components=D.shape[0], alpha=0.05,
            architecture="rescaled_lista", window_size=100, step_size=50, random_state=0,
        ).partial_fit(X)  # fmt: skip
    for estimator in (encoder, model):
        assert np.linalg.norm(estimator.components_, axis=1).max() < 2.0  # rescaled
        loaded = pickle.loads(pickle.dumps(estimator))
        np.testing.assert_array_equal(loaded.transform(X), estimator.transform(X))
        copy.deepcopy(estimator)


def _fitted_on_scaled_atoms(n_samples, max_iter):
    """A default encoder briefly fitted on atoms of spread norms, and its rows."""
    D = scaled_atoms()
    X = signals(D, n_samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder = LearnedLassoEncoder(dictionary=D, alpha=0.02, max_iter=max_iter, random_state=0)
        return encoder.fit(X), X


def test_a_model_pickled_before_the_steps_per_atom_has_no_floor():
    encoder, _ = _fitted_on_scaled_atoms(200, max_iter=2)
    state = encoder.__getstate__()
    del state["norm_floor_"]
    loaded = LearnedLassoEncoder.__new__(LearnedLassoEncoder)
    loaded.__setstate__(state)
    assert loaded.norm_floor_ is None


@pytest.mark.parametrize("norm_floor", [0.0, -1.0])
def test_a_floor_must_be_positive(norm_floor):
    with pytest.raises(ValueError, match="norm_floor must be positive"):
        ista_operators(torch.tensor(scaled_atoms()), norm_floor)


def test_few_floors_are_tried_on_atoms_of_very_different_norms():
    candidates = norm_floor_candidates(torch.tensor([1e3, 1.0, 1e-10]))
    assert len(candidates) == 13
    assert candidates[-1] == pytest.approx(1e3 / 2**12)


def test_a_redrawn_atom_starts_from_the_networks_own_steps():
    D = torch.tensor(scaled_atoms())
    network = LISTA(D, L1Penalty(0.1), 3, norm_floor=0.5)
    with torch.no_grad():
        network.W.mul_(1.5)
        network.theta.mul_(1.5)
    reset_atoms(network, torch.tensor([2, 7]), D)
    fresh = LISTA(D, L1Penalty(0.1), 3, norm_floor=0.5)
    torch.testing.assert_close(network.W[:, :, [2, 7]], fresh.W[:, :, [2, 7]])
    torch.testing.assert_close(network.theta[:, [2, 7]], fresh.theta[:, [2, 7]])
    torch.testing.assert_close(network.W[:, :, 0], 1.5 * fresh.W[:, :, 0])


def test_the_steps_survive_pickling():
    encoder, X = _fitted_on_scaled_atoms(300, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        loaded = pickle.loads(pickle.dumps(encoder))
        loaded.partial_fit(X)  # its optimizer's groups too
    assert loaded.norm_floor_ == encoder.norm_floor_ is not None
    assert loaded.network_.norm_floor == encoder.norm_floor_
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(encoder)).transform(X), encoder.transform(X)
    )


def test_the_online_modeler_chooses_a_floor_for_its_given_atoms():
    D = scaled_atoms()
    X = signals(D, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = OnlineSparseModeler(
            dictionary_init=D, n_components=D.shape[0], alpha=0.02, random_state=0
        ).partial_fit(X)
    assert model.norm_floor_ is not None
    assert np.isfinite(model.transform(X)).all()


def test_group_penalties_keep_one_step():
    D = scaled_atoms(n_components=16)
    X = signals(D, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder = LearnedHiLassoEncoder(
            dictionary=D, groups=4, alpha=0.02, group_alpha=0.02,
            architecture="rescaled_lista", max_iter=2, random_state=0,
        ).fit(X)  # fmt: skip
    assert encoder.norm_floor_ is None
