"""Training guards and transactions: no broken model is handed back, failures change nothing."""

import copy
import warnings

import numpy as np
import pytest
import torch
from _state import assert_same, snapshot
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from sklearn_lsc import (
    LearnedHiLassoEncoder,
    LearnedLassoEncoder,
    OnlineSparseModeler,
    SparseCodingClassifier,
    lasso_alpha_max,
    sparse_encode,
)
from sklearn_lsc import _trainer as trainer
from sklearn_lsc._dictionary import OnlineDictionaryUpdate
from sklearn_lsc._trainer import TrainerMixin
from sklearn_lsc._training import minibatch_epoch
from sklearn_lsc.solvers import hilasso_objective, lasso_objective


def sparse_problem(seed=0, n_samples=600, n_features=16, n_components=32, dtype=np.float64):
    """Rows that are sparse combinations of unit-norm atoms, plus noise."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    codes = rng.standard_normal((n_samples, n_components))
    codes *= rng.random((n_samples, n_components)) < 0.1
    X = codes @ D + 0.05 * rng.standard_normal((n_samples, n_features))
    return X.astype(dtype), D.astype(dtype)


def diverging(estimator_params):
    """SGD at a learning rate that sends LISTA's float32 weights to infinity."""
    return {**estimator_params, "architecture": "lista", "solver": "sgd", "learning_rate": 1e30}


# ------------------------------------------------------------- training guards
@pytest.mark.parametrize("architecture", ["lista", "lcod", "rescaled_lista"])
def test_a_huge_learning_rate_keeps_the_untrained_network_and_warns(architecture):
    X, D = sparse_problem()
    params = dict(dictionary=D, alpha=0.1, architecture=architecture, random_state=0)
    untrained = LearnedLassoEncoder(**params, learning_rate=1e-12, max_iter=1).fit(X)
    with pytest.warns(ConvergenceWarning, match="untrained network.*'learning_rate'"):
        encoder = LearnedLassoEncoder(**params, learning_rate=10.0, max_iter=20).fit(X)
    # Adam's first steps at this rate wreck the weights (codes of ~1e6 before
    # the guard); the model handed back is the untrained one (the reference
    # took one step at a rate of 1e-12).
    np.testing.assert_allclose(encoder.transform(X), untrained.transform(X), atol=1e-9)
    assert encoder.n_iter_ >= 1 and len(encoder.loss_curve_) == encoder.n_iter_
    # The optimizer is restored with it: Adam's moments as before any step.
    assert not encoder._optimizer.state_dict()["state"]


def test_the_guard_stays_silent_when_training_helps():
    X, D = sparse_problem()
    params = dict(dictionary=D, alpha=0.1, random_state=0)
    untrained = LearnedLassoEncoder(**params, learning_rate=1e-12, max_iter=1).fit(X)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        encoder = LearnedLassoEncoder(**params, max_iter=30).fit(X)
    assert not [w for w in record if issubclass(w.category, ConvergenceWarning)]
    gain = lasso_objective(X, untrained.transform(X), D, 0.1) - lasso_objective(
        X, encoder.transform(X), D, 0.1
    )
    assert gain > 0


def test_a_non_finite_minibatch_loss_ends_the_epoch_before_its_step():
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    losses = iter([1.0, float("nan"), 2.0])
    steps = []
    original_step = optimizer.step

    def counting_step(*args, **kwargs):
        steps.append(1)
        return original_step(*args, **kwargs)

    optimizer.step = counting_step

    def loss_of(rows):
        return weight.sum() * next(losses)

    loss = minibatch_epoch(
        loss_of, 30, batch_size=10, optimizer=optimizer,
        rng=np.random.RandomState(0), device=torch.device("cpu"), after_step=None,
    )  # fmt: skip
    assert np.isnan(loss) and len(steps) == 1
    assert torch.isfinite(weight).all()


# ---------------------------------------------------------------- transactions
def test_a_fit_that_diverges_leaves_an_unfitted_encoder_unfitted():
    X, _ = sparse_problem(n_samples=120, dtype=np.float32)
    encoder = LearnedLassoEncoder(**diverging(dict(n_components=8, alpha=0.1, max_iter=5)))
    with pytest.raises(ValueError, match="learning_rate"):
        encoder.fit(X)
    assert not [key for key in vars(encoder) if key.endswith("_") or key.startswith("_")]
    with pytest.raises(NotFittedError):
        encoder.transform(X)


@pytest.mark.parametrize("Encoder", [LearnedLassoEncoder, LearnedHiLassoEncoder])
def test_a_fit_that_diverges_leaves_a_fitted_encoder_as_it_was(Encoder):
    X, _ = sparse_problem(n_samples=120, dtype=np.float32)
    extra = {"groups": 4} if Encoder is LearnedHiLassoEncoder else {}
    encoder = Encoder(n_components=8, alpha=0.1, max_iter=3, random_state=0, **extra).fit(X)
    codes, before = encoder.transform(X), snapshot(encoder)
    encoder.set_params(**diverging({}))
    with pytest.raises(ValueError, match="learning_rate"):
        encoder.fit(X[:, :10])  # also a new number of features
    assert_same(snapshot(encoder), before)
    np.testing.assert_array_equal(encoder.transform(X), codes)


@pytest.mark.parametrize("Encoder", [LearnedLassoEncoder, LearnedHiLassoEncoder])
def test_a_partial_fit_that_diverges_changes_nothing(Encoder):
    X, _ = sparse_problem(n_samples=120, dtype=np.float32)
    extra = {"groups": 4, "architecture": "bcofb"} if Encoder is LearnedHiLassoEncoder else {}
    params = dict(n_components=8, alpha=0.1, solver="sgd", **{"architecture": "lista", **extra})
    encoder = Encoder(**params, learning_rate=1e-3, max_iter=3, random_state=0).fit(X)
    codes, before = encoder.transform(X), snapshot(encoder)
    encoder.set_params(learning_rate=1e30)  # partial_fit follows the current rate
    with pytest.raises(ValueError, match="learning_rate"):
        encoder.partial_fit(X)
    assert_same(snapshot(encoder), before)
    np.testing.assert_array_equal(encoder.transform(X), codes)
    # And it still trains normally afterwards.
    encoder.set_params(learning_rate=1e-3).partial_fit(X)
    assert encoder.n_iter_ == before["n_iter_"] + 1


@pytest.mark.parametrize("architecture", ["lista", "rescaled_lista"])
def test_a_first_partial_fit_that_blows_up_keeps_the_untrained_network_and_warns(architecture):
    # A finite but far worse network: no error to catch, the guard's job.
    X, D = sparse_problem()
    params = dict(dictionary=D, alpha=0.1, architecture=architecture, random_state=0)
    untrained = LearnedLassoEncoder(**params, learning_rate=1e-12).partial_fit(X)
    encoder = LearnedLassoEncoder(**params, learning_rate=10.0)
    with pytest.warns(ConvergenceWarning, match="blew up, and the untrained network was kept"):
        encoder.partial_fit(X)
    np.testing.assert_allclose(encoder.transform(X), untrained.transform(X), atol=1e-9)
    assert not encoder._optimizer.state_dict()["state"]  # Adam's moments as before any step
    # Unguarded, the pass's network is far worse than the untrained one.
    unguarded = LearnedLassoEncoder(**params, learning_rate=10.0)
    unguarded._undo_blown_up_pass = lambda *arguments: None
    unguarded.partial_fit(X)
    assert lasso_objective(X, unguarded.transform(X), D, 0.1) > 1.25 * lasso_objective(
        X, untrained.transform(X), D, 0.1
    )


def gap_problem():
    """Rows and atoms on which rescaled LISTA's first pass at a learning rate of
    0.1 multiplies the codes' gap while their objective rises by less than
    the loss guard's fraction (the optimum is most of it)."""
    rng = np.random.RandomState(0)
    X, D = rng.randn(500, 16), rng.randn(32, 16)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    alpha = 0.1 * lasso_alpha_max(X, D)
    optimum = lasso_objective(X, sparse_encode(X, D, alpha=alpha), D, alpha)
    return X, D, alpha, optimum


def test_a_partial_fit_that_multiplies_the_gap_keeps_the_untrained_network_and_warns(
    monkeypatch,
):
    X, D, alpha, optimum = gap_problem()
    params = dict(dictionary=D, alpha=alpha, architecture="rescaled_lista", random_state=0)
    untrained = LearnedLassoEncoder(**params, learning_rate=1e-12).partial_fit(X)
    untrained_objective = lasso_objective(X, untrained.transform(X), D, alpha)
    with pytest.warns(ConvergenceWarning, match="at the exact codes: training blew up, and the "):
        encoder = LearnedLassoEncoder(**params, learning_rate=0.1).partial_fit(X)
    np.testing.assert_allclose(encoder.transform(X), untrained.transform(X), atol=1e-9)
    # Judged on the loss alone the pass stands: its objective rose by less
    # than the loss guard's fraction, its excess over the optimum threefold.
    monkeypatch.setattr(trainer, "_GAP_RISE", np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        unguarded = LearnedLassoEncoder(**params, learning_rate=0.1).partial_fit(X)
    objective = lasso_objective(X, unguarded.transform(X), D, alpha)
    assert objective < (1 + trainer._STEP_RISE) * untrained_objective
    assert objective - optimum > 3 * (untrained_objective - optimum)


def counting_optimum_solves(monkeypatch):
    """Record each optimum the guard makes (``made``) and solves (``solved``, its value)."""
    made, solved = [], []
    original = TrainerMixin._optimal_loss_function

    def counted(self, *arguments):
        made.append(None)
        optimal_loss = original(self, *arguments)

        def spy():
            solved.append(optimal_loss())
            return solved[-1]

        return spy

    monkeypatch.setattr(TrainerMixin, "_optimal_loss_function", counted)
    return made, solved


def test_the_gap_guard_solves_for_the_optimum_only_on_a_given_dictionary_whose_loss_rose(
    monkeypatch,
):
    X, D, alpha, _ = gap_problem()
    made, solved = counting_optimum_solves(monkeypatch)
    # A pass that lowers the loss needs no optimum.
    LearnedLassoEncoder(dictionary=D, alpha=alpha, random_state=0).partial_fit(X)
    assert len(made) == 1 and not solved
    with pytest.warns(ConvergenceWarning, match="at the exact codes"):
        LearnedLassoEncoder(
            dictionary=D, alpha=alpha, architecture="rescaled_lista", learning_rate=0.1,
            random_state=0,
        ).partial_fit(X)  # fmt: skip
    assert len(solved) == 1
    # A learned dictionary moves the optimum: no gap guard there.
    made.clear()
    LearnedLassoEncoder(
        n_components=32, alpha=alpha, architecture="rescaled_lista", learning_rate=0.1,
        random_state=0,
    ).partial_fit(X)  # fmt: skip
    assert not made


def test_a_later_partial_fit_that_multiplies_the_gap_is_undone_whole(monkeypatch):
    X, D, alpha, _ = gap_problem()
    params = dict(dictionary=D, alpha=alpha, architecture="rescaled_lista", random_state=0)
    encoder = LearnedLassoEncoder(**params, max_iter=5).fit(X)
    codes, before = encoder.transform(X), snapshot(encoder)
    encoder.set_params(learning_rate=0.1)
    with pytest.warns(ConvergenceWarning, match="at the exact codes: .* the call was undone"):
        assert encoder.partial_fit(X) is encoder
    assert_same(snapshot(encoder), before)
    np.testing.assert_array_equal(encoder.transform(X), codes)
    # The loss guard alone lets that pass stand.
    monkeypatch.setattr(trainer, "_GAP_RISE", np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        encoder.partial_fit(X)
    assert encoder.n_iter_ == before["n_iter_"] + 1


def test_the_gap_guards_optimum_is_the_hilasso_objectives(monkeypatch):
    # The watched rows are the chunk's (at most a minibatch of them), in the
    # trainer's units: times the signal scale squared, the mean HiLasso
    # objective of the exact codes (computed independently here).
    X, D = sparse_problem(n_samples=80, n_features=16, n_components=32)
    X = 3.0 * X
    groups = dict(groups=4, group_alpha=0.2)
    _, solved = counting_optimum_solves(monkeypatch)
    encoder = LearnedHiLassoEncoder(
        dictionary=D, alpha=0.1, **groups, learning_rate=10.0, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="at the exact codes"):
        encoder.partial_fit(X)
    (optimum,) = solved
    exact = sparse_encode(X, D, alpha=0.1, **groups, tol=1e-10, max_iter=20000)
    reference = hilasso_objective(X, exact, D, alpha=0.1, **groups)
    assert optimum * encoder.signal_scale_**2 == pytest.approx(reference, rel=1e-5)


def test_a_later_partial_fit_that_blows_up_is_undone_and_warns():
    X, D = sparse_problem()
    encoder = LearnedLassoEncoder(dictionary=D, alpha=0.1, max_iter=5, random_state=0).fit(X)
    codes, before = encoder.transform(X), snapshot(encoder)
    encoder.set_params(learning_rate=10.0)
    with pytest.warns(ConvergenceWarning, match="blew up, and the call was undone"):
        assert encoder.partial_fit(X[:300]) is encoder
    assert_same(snapshot(encoder), before)
    np.testing.assert_array_equal(encoder.transform(X), codes)
    encoder.set_params(learning_rate=1e-3).partial_fit(X[:300])  # and trains on
    assert encoder.n_iter_ == before["n_iter_"] + 1


def test_a_partial_fit_pass_whose_watched_loss_is_not_finite_is_undone(monkeypatch):
    X, D = sparse_problem()
    encoder = LearnedLassoEncoder(dictionary=D, alpha=0.1, max_iter=3, random_state=0).fit(X)
    before = snapshot(encoder)
    original = TrainerMixin._noise_free_loss_function

    def poisoned(self, *arguments, **keywords):
        loss, calls = original(self, *arguments, **keywords), []

        def after_the_pass_nan():
            calls.append(None)
            return loss() if len(calls) == 1 else float("nan")

        return after_the_pass_nan

    monkeypatch.setattr(TrainerMixin, "_noise_free_loss_function", poisoned)
    with pytest.warns(ConvergenceWarning, match="loss nan.*the call was undone"):
        encoder.partial_fit(X[:300])
    assert_same(snapshot(encoder), before)


@pytest.mark.parametrize("architecture", ["rescaled_lista", "lista", "lcod"])
@pytest.mark.parametrize("learned", [False, True], ids=["given", "learned"])
def test_the_partial_fit_guard_stays_silent_on_a_stream_at_the_default_rate(architecture, learned):
    # Chunks of 20 rows: the loss of a chunk moves by several percent from
    # one pass to the next (LCoD's most, and early on with the dictionary
    # learned), none a blow-up.
    X, D = sparse_problem(n_samples=400)
    atoms = dict(n_components=32) if learned else dict(dictionary=D)
    encoder = LearnedLassoEncoder(**atoms, alpha=0.1, architecture=architecture, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for start in range(0, 400, 20):
            encoder.partial_fit(X[start : start + 20])
    assert encoder.n_iter_ == 20


def test_partial_fit_trains_at_the_current_learning_rate():
    X, _ = sparse_problem(n_samples=120, dtype=np.float32)
    encoder = LearnedLassoEncoder(n_components=8, alpha=0.1, max_iter=4, random_state=0).fit(X)
    annealed = encoder._optimizer.param_groups[0]["lr"]
    assert annealed < encoder.learning_rate  # fit's cosine schedule ran down
    encoder.set_params(learning_rate=0.05).partial_fit(X)
    assert encoder._optimizer.param_groups[0]["lr"] == 0.05


def test_an_online_step_that_makes_the_atoms_non_finite_changes_nothing(monkeypatch):
    X, _ = sparse_problem(n_samples=200, dtype=np.float32)
    model = OnlineSparseModeler(n_components=12, alpha=0.1, step_size=20, random_state=0)
    model.partial_fit(X[:45])  # two steps, five vectors pending
    before = snapshot(model)
    original = OnlineDictionaryUpdate.step

    def poisoned(self, dictionary, *args, **kwargs):
        redrawn = original(self, dictionary, *args, **kwargs)
        dictionary[0, 0] = float("nan")
        return redrawn

    monkeypatch.setattr(OnlineDictionaryUpdate, "step", poisoned)
    with pytest.raises(ValueError, match="diverged.*learning_rate"):
        model.partial_fit(X[45:100])
    assert_same(snapshot(model), before)
    assert model.n_samples_seen_ == 45 and model._pending.shape[0] == 5
    monkeypatch.setattr(OnlineDictionaryUpdate, "step", original)
    model.partial_fit(X[45:100])
    assert model.n_samples_seen_ == 100 and model.n_steps_ == 5


def test_an_online_update_that_blows_up_is_undone_and_warns(monkeypatch):
    # A learning rate far too large: every network update makes the new
    # vectors' codes worse than none, and each is undone (the dictionary
    # steps follow from the network as it was), as if it had not moved.
    X, _ = sparse_problem(n_samples=200)
    params = dict(n_components=12, alpha=0.1, step_size=20, random_state=0)
    still = OnlineSparseModeler(**params, learning_rate=1e-12).partial_fit(X)
    model = OnlineSparseModeler(**params, learning_rate=10.0)
    with pytest.warns(ConvergenceWarning) as record:
        model.partial_fit(X)
    (undone,) = [w for w in record if "were undone" in str(w.message)]  # one per call
    assert "10 of this call's 10 network updates" in str(undone.message)
    assert "'learning_rate'" in str(undone.message)
    assert model.n_steps_ == 10
    np.testing.assert_allclose(model.components_, still.components_, atol=1e-8)
    np.testing.assert_allclose(model.transform(X), still.transform(X), atol=1e-8)
    assert not model._optimizer.state_dict()["state"]  # Adam's moments as before any step
    # Unguarded, the same stream hands back codes far worse than none.
    monkeypatch.setattr(OnlineSparseModeler, "_update_blew_up", lambda *arguments: False)
    unguarded = OnlineSparseModeler(**params, learning_rate=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        unguarded.partial_fit(X)
    zero_codes = 0.5 * (X**2).sum(axis=1).mean()
    cost = lasso_objective(X, unguarded.transform(X), unguarded.components_, 0.1)
    guarded = lasso_objective(X, model.transform(X), model.components_, 0.1)
    assert cost > 2 * zero_codes > 2 * guarded


def optimizer_state(model):
    state = model._optimizer.state_dict()["state"]
    return {key: {name: torch.as_tensor(value).clone() for name, value in values.items()}
            for key, values in state.items()}  # fmt: skip


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_an_undone_online_update_restores_the_optimizers_moments(solver):
    X, _ = sparse_problem(n_samples=200)
    model = OnlineSparseModeler(
        n_components=12, alpha=0.1, step_size=20, solver=solver, random_state=0
    ).partial_fit(X[:100])  # five steps at the default rate
    moments, weights = optimizer_state(model), copy.deepcopy(model.network_.state_dict())
    assert moments  # Adam's averages and step, or SGD's momentum buffers
    model.set_params(learning_rate=10.0)
    with pytest.warns(ConvergenceWarning, match="1 of this call's 1 network updates"):
        model.partial_fit(X[100:120])
    for key, values in optimizer_state(model).items():
        for name, value in values.items():
            torch.testing.assert_close(value, moments[key][name], rtol=0, atol=0)
    for name, value in model.network_.state_dict().items():
        if name != "dictionary":  # the step's dictionary update went on
            torch.testing.assert_close(value, weights[name], rtol=0, atol=0)


def test_an_online_update_whose_objective_is_not_finite_raises_and_changes_nothing(
    monkeypatch,
):
    X, _ = sparse_problem(n_samples=200)
    model = OnlineSparseModeler(n_components=12, alpha=0.1, step_size=20, random_state=0)
    model.partial_fit(X[:60])
    before = snapshot(model)
    original = torch.optim.Adam.step

    def poisoned(self, *arguments, **keywords):
        result = original(self, *arguments, **keywords)
        with torch.no_grad():  # the update's last step: finite loss, non-finite network
            self.param_groups[0]["params"][0].fill_(float("nan"))
        return result

    monkeypatch.setattr(torch.optim.Adam, "step", poisoned)
    monkeypatch.setattr(model, "updates_per_step", 1)
    with pytest.raises(ValueError, match="update made the new vectors' objective nan"):
        model.partial_fit(X[60:100])
    monkeypatch.undo()
    assert_same(snapshot(model), before)


def test_online_updates_at_the_default_rate_are_never_undone():
    X, _ = sparse_problem(n_samples=400)
    settings = [
        {"architecture": "lista"}, {"architecture": "lcod"}, {"architecture": "rescaled_lista"},
        {"architecture": "lista", "solver": "sgd"}, {"groups": 4, "group_alpha": 0.1},
    ]  # fmt: skip
    for setting in settings:
        model = OnlineSparseModeler(
            n_components=24, alpha=0.1, step_size=20, random_state=0, **setting
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            for start in range(0, 400, 40):
                model.partial_fit(X[start : start + 40])
        assert model.n_steps_ == 20


def test_an_online_partial_fit_that_diverges_changes_nothing():
    X, _ = sparse_problem(n_samples=200, dtype=np.float32)
    model = OnlineSparseModeler(
        n_components=12, alpha=0.1, step_size=20, architecture="lista", solver="sgd",
        learning_rate=1e-3, random_state=0,
    ).partial_fit(X[:60])  # fmt: skip
    before = snapshot(model)
    with pytest.raises(ValueError, match="diverged"):
        model.set_params(learning_rate=1e30).partial_fit(X[60:200])
    assert_same(snapshot(model), before)


def test_a_classifier_fit_that_fails_leaves_it_as_it_was():
    X, _ = sparse_problem(n_samples=120, dtype=np.float32)
    y = np.repeat([0, 1], 60)
    encoder = LearnedLassoEncoder(n_components=6, alpha=0.1, max_iter=2, random_state=0)
    classifier = SparseCodingClassifier(encoder=encoder).fit(X, y)
    decision, before = classifier.decision_function(X), snapshot(classifier)
    classifier.set_params(encoder__architecture="lista", encoder__solver="sgd")
    classifier.set_params(encoder__learning_rate=1e30)
    with pytest.raises(ValueError, match="learning_rate"):
        classifier.fit(X[:, :12], y)
    assert classifier.n_features_in_ == 16
    assert_same(snapshot(classifier)["classes_"], before["classes_"])
    np.testing.assert_array_equal(classifier.decision_function(X), decision)


# ------------------------------------------------------------ consistent state
@pytest.mark.parametrize(
    "Estimator, change",
    [
        (LearnedLassoEncoder, {"n_layers": 2}),
        (LearnedLassoEncoder, {"architecture": "lcod"}),
        (LearnedLassoEncoder, {"solver": "sgd"}),
        (LearnedHiLassoEncoder, {"groups": 2}),
        (OnlineSparseModeler, {"n_layers": 2}),
        (OnlineSparseModeler, {"forgetting_factor": 0.9}),
    ],
)
def test_partial_fit_after_a_structural_change_asks_for_a_refit(Estimator, change):
    X, _ = sparse_problem(n_samples=120)
    extra = {"groups": 4} if Estimator is LearnedHiLassoEncoder else {}
    params = dict(n_components=8, alpha=0.1, random_state=0, **extra)
    if Estimator is OnlineSparseModeler:
        params.update(step_size=20)
    else:
        params.update(max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = Estimator(**params).fit(X)
    before = snapshot(estimator)
    name = next(iter(change))
    with pytest.raises(ValueError, match=f"'{name}' parameter changed.*Call fit"):
        estimator.set_params(**change).partial_fit(X)
    assert_same(snapshot(estimator), before)
    # Set back, it continues; a new fit accepts the change.
    estimator.set_params(**{name: params.get(name, Estimator().get_params()[name])})
    estimator.partial_fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.set_params(**change).fit(X)


def test_hilasso_score_follows_the_current_group_alpha_and_alpha():
    X, _ = sparse_problem(n_samples=120)
    encoder = LearnedHiLassoEncoder(
        n_components=8, groups=4, alpha=0.1, group_alpha=0.1, max_iter=2, random_state=0
    ).fit(X)
    code = encoder.transform(X)
    for params in ({"group_alpha": 0.5}, {"alpha": 0.3}, {"group_weights": [1, 2, 3, 4]}):
        encoder.set_params(**params)
        objective = hilasso_objective(
            X, code, encoder.components_, alpha=encoder.alpha, groups=4,
            group_alpha=encoder.group_alpha, group_weights=encoder.group_weights,
        )  # fmt: skip
        assert encoder.score(X) == pytest.approx(-objective, rel=1e-9)


# ---------------------------------------------------------- finite or refused
def test_transform_and_score_of_rows_far_beyond_the_training_scale_are_refused():
    X, _ = sparse_problem(n_samples=120, dtype=np.float32)
    encoder = LearnedLassoEncoder(n_components=8, alpha=0.1, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder.fit(X)
    huge = X * np.float32(1e36)
    with pytest.raises(ValueError, match="X's codes overflowed.*signal_scale_"):
        encoder.transform(huge)
    X64, _ = sparse_problem(n_samples=120)
    encoder64 = LearnedLassoEncoder(n_components=8, alpha=0.1, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder64.fit(X64)
    with pytest.raises(ValueError, match="X's (codes|objective) overflowed"):
        encoder64.score(X64 * 1e160)


def test_group_energies_are_finite_for_huge_finite_codes():
    X, _ = sparse_problem(n_samples=60, dtype=np.float32)
    encoder = LearnedHiLassoEncoder(n_components=8, groups=4, alpha=0.1, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder.fit(X * np.float32(1e19))  # codes near 1e19: their squares overflow float32
    codes = encoder.transform(X * np.float32(1e19)).astype(np.float64)
    energies = encoder.group_energies(X * np.float32(1e19))
    assert np.all(np.isfinite(energies)) and energies.dtype == np.float32
    expected = np.stack([np.linalg.norm(codes[:, g], axis=1) for g in encoder.groups_], axis=1)
    np.testing.assert_allclose(energies, expected, rtol=1e-5)


def test_score_and_group_energies_run_in_batches(monkeypatch):
    import sklearn_lsc._inference as inference

    X, _ = sparse_problem(n_samples=100)
    encoder = LearnedHiLassoEncoder(n_components=8, groups=4, alpha=0.1, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder.fit(X)
    whole_score, whole_energies = encoder.score(X), encoder.group_energies(X)
    monkeypatch.setattr(inference, "_TRANSFORM_BATCH_ELEMENTS", {"cpu": 24 * 30})
    batches = list(encoder._encoded_batches(X))
    # Batches of at most 30 rows, as few as that allows, of sizes within a row.
    assert [batch[1].shape[0] for batch in batches] == [25, 25, 25, 25]
    assert encoder.score(X) == pytest.approx(whole_score, rel=1e-12)
    np.testing.assert_allclose(encoder.group_energies(X), whole_energies, rtol=1e-12)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "y, match",
    [
        (np.zeros(120), "at least two classes"),
        (np.r_[np.nan, np.ones(119)], "NaN"),
        (np.linspace(0, 1, 120), "continuous"),
    ],
)
def test_similarity_needs_class_labels_of_two_classes(y, match):
    X, _ = sparse_problem(n_samples=120)
    encoder = LearnedLassoEncoder(n_components=8, alpha=0.1, objective="similarity")
    with pytest.raises(ValueError, match=match):
        encoder.fit(X, y)
    assert not hasattr(encoder, "network_")


def test_a_later_chunk_of_a_single_class_is_accepted_by_partial_fit():
    X, _ = sparse_problem(n_samples=120)
    y = np.repeat([0, 1], 60)
    encoder = LearnedLassoEncoder(n_components=8, alpha=0.1, objective="similarity")
    encoder.partial_fit(X, y)
    with pytest.raises(ValueError, match="at least two classes"):
        LearnedLassoEncoder(n_components=8, alpha=0.1, objective="similarity").partial_fit(
            X[:60], y[:60]
        )
    encoder.partial_fit(X[:60], y[:60])  # a stream's chunk may hold one class
    assert encoder.n_iter_ == 2


def test_group_weights_without_groups_are_refused_by_the_online_modeler():
    X, _ = sparse_problem(n_samples=60)
    model = OnlineSparseModeler(n_components=8, alpha=0.1, group_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="'group_weights' parameter needs 'groups'"):
        model.partial_fit(X)


@pytest.mark.parametrize("groups", [{0: [0, 1], 1: [2, 3]}, {0, 1}, "0123"])
def test_groups_of_the_wrong_type_get_a_clear_message(groups):
    X, _ = sparse_problem(n_samples=60)
    encoder = LearnedHiLassoEncoder(n_components=4, groups=groups, alpha=0.1)
    with pytest.raises((TypeError, ValueError), match="groups"):
        encoder.fit(X)


def test_more_atoms_than_rows_warns_that_some_start_random():
    X, _ = sparse_problem(n_samples=10)
    with pytest.warns(UserWarning, match="only 10 distinct nonzero rows.*6 atoms start as random"):
        LearnedLassoEncoder(n_components=16, alpha=0.1, max_iter=1).fit(X)


def test_public_objectives_refuse_to_overflow():
    X, D = sparse_problem(n_samples=5)
    code = np.ones((5, D.shape[0]))
    with pytest.raises(ValueError, match="overflows float64"):
        lasso_objective(X * 1e200, code * 1e200, D, 0.1)
    with pytest.raises(ValueError, match="overflows float64"):
        hilasso_objective(X * 1e200, code * 1e200, D, alpha=0.1, groups=4, group_alpha=0.1)
    assert np.isfinite(lasso_objective(X * 1e150, code * 1e150, D, 0.1))


@pytest.mark.parametrize("metric", ["euclidean", "mahalanobis"])
def test_a_classifier_refuses_rows_whose_objectives_overflow(metric):
    X, _ = sparse_problem(n_samples=120)
    y = np.repeat([0, 1], 60)
    encoder = LearnedLassoEncoder(n_components=6, alpha=0.1, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier = SparseCodingClassifier(encoder=encoder, metric=metric).fit(X, y)
    with pytest.raises(ValueError, match="overflowed"):
        classifier.decision_function(X * 1e160)
    assert np.all(np.isfinite(classifier.decision_function(X)))


def test_huge_float32_rows_train_without_a_misleading_divergence():
    # Row norms of ~1e31 overflow float32 squares: the dictionary drawn from
    # them, the training and the codes must still work (once: "lower the
    # learning_rate" after an overflow in the dictionary's initialisation).
    X, _ = sparse_problem(n_samples=200, dtype=np.float32)
    huge = X * np.float32(1e30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder = LearnedLassoEncoder(n_components=8, alpha=1e29, max_iter=3, random_state=0)
        encoder.fit(huge)
    norms = np.linalg.norm(encoder.components_.astype(np.float64), axis=1)
    assert np.all((norms > 0.5) & (norms <= 1 + 1e-5))  # atoms in the unit ball, not zeroed
    code = encoder.transform(huge)
    assert np.all(np.isfinite(code)) and np.count_nonzero(code) > 0
