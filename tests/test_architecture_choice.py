"""``architecture="auto"``: step LISTA or rescaled LISTA, kept by the set-aside rows' objective."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_lsc import LearnedLassoEncoder, lasso_objective
from sklearn_lsc._architecture_choice import (
    CANDIDATES,
    TOLERANCE,
    cheapest_within_tolerance,
    fit_candidates,
)
from sklearn_lsc._networks import REGISTRY


def incoherent_problem(n_samples, seed):
    """Signals of 10 random Gaussian atoms of 256 (100 features), rows of unit norm."""
    rng = np.random.default_rng(seed)
    atoms = rng.standard_normal((256, 100))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    code = np.zeros((n_samples, 256))
    support = np.argsort(rng.random((n_samples, 256)), axis=1)[:, :10]
    np.put_along_axis(code, support, rng.standard_normal((n_samples, 10)), axis=1)
    X = code @ atoms + 0.01 * rng.standard_normal((n_samples, 100))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), atoms.astype(np.float32)


def coherent_problem(n_samples, seed):
    """Smooth signals (random walks, centred, unit norm) and 48 of them as atoms."""
    rng = np.random.default_rng(seed)
    X = np.cumsum(rng.standard_normal((n_samples + 48, 32)), axis=1)
    X -= X.mean(axis=1, keepdims=True)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X[48:].astype(np.float32), X[:48].astype(np.float32)


def held_out_objective(encoder, X):
    return lasso_objective(X, encoder.transform(X), encoder.components_, encoder.alpha)


def test_auto_keeps_step_lista_on_an_incoherent_dictionary():
    X, atoms = incoherent_problem(600, seed=1)
    params = dict(dictionary=atoms, alpha=0.1, max_iter=40, learning_rate=1e-2, random_state=1)
    encoder = LearnedLassoEncoder(**params).fit(X[:500])
    losses = encoder.architecture_validation_losses_
    assert set(losses) == set(CANDIDATES)
    assert losses["step_lista"] < losses["rescaled_lista"]
    assert encoder.architecture_ == "step_lista"
    assert type(encoder.network_) is REGISTRY["step_lista"]
    assert encoder.best_validation_loss_ == losses["step_lista"]
    # The kept network is the one the architecture given explicitly fits.
    explicit = LearnedLassoEncoder(**params, architecture="step_lista").fit(X[:500])
    np.testing.assert_array_equal(encoder.transform(X[500:]), explicit.transform(X[500:]))
    assert encoder.get_params()["architecture"] == "auto"  # the parameter is left as given


def test_auto_keeps_rescaled_lista_on_a_coherent_dictionary():
    X, atoms = coherent_problem(600, seed=0)
    params = dict(dictionary=atoms, alpha=0.05, max_iter=20, random_state=0)
    encoder = LearnedLassoEncoder(**params).fit(X[:500])
    losses = encoder.architecture_validation_losses_
    assert losses["step_lista"] > losses["rescaled_lista"] * (1 + TOLERANCE)
    assert encoder.architecture_ == "rescaled_lista"
    assert type(encoder.network_) is REGISTRY["rescaled_lista"]
    explicit = LearnedLassoEncoder(**params, architecture="step_lista").fit(X[:500])
    # What the choice was made on shows on rows neither network saw.
    assert held_out_objective(encoder, X[500:]) < held_out_objective(explicit, X[500:])
    np.testing.assert_array_equal(
        encoder.transform(X[500:]),
        LearnedLassoEncoder(**params, architecture="rescaled_lista")
        .fit(X[:500])
        .transform(X[500:]),
    )


def test_the_cheapest_candidate_within_the_tolerance_is_kept():
    step, rescaled = "step_lista", "rescaled_lista"
    assert CANDIDATES == (step, rescaled)  # cheapest transform first
    within = 1.0 + 0.9 * TOLERANCE
    beyond = 1.0 + 1.1 * TOLERANCE
    assert cheapest_within_tolerance([(2.0 * within, step), (2.0, rescaled)])[1] == step
    assert cheapest_within_tolerance([(2.0 * beyond, step), (2.0, rescaled)])[1] == rescaled
    assert cheapest_within_tolerance([(2.0, step), (2.0 * within, rescaled)])[1] == step
    assert cheapest_within_tolerance([(3.0, rescaled)])[1] == rescaled  # one candidate left
    assert cheapest_within_tolerance([(0.0, step), (0.0, rescaled)])[1] == step


def test_fit_keeps_step_lista_within_the_tolerance(monkeypatch):
    # On the coherent problem rescaled LISTA's set-aside objective is lower by
    # far more than the tolerance; a tolerance above that gap keeps step LISTA.
    X, atoms = coherent_problem(600, seed=0)
    params = dict(dictionary=atoms, alpha=0.05, max_iter=20, random_state=0)
    losses = LearnedLassoEncoder(**params).fit(X[:500]).architecture_validation_losses_
    excess = losses["step_lista"] / losses["rescaled_lista"] - 1.0
    assert excess > TOLERANCE
    monkeypatch.setattr("sklearn_lsc._architecture_choice.TOLERANCE", 1.01 * excess)
    encoder = LearnedLassoEncoder(**params).fit(X[:500])
    assert encoder.architecture_validation_losses_ == losses
    assert encoder.architecture_ == "step_lista"
    assert encoder.best_validation_loss_ == losses["step_lista"]
    explicit = LearnedLassoEncoder(**params, architecture="step_lista").fit(X[:500])
    np.testing.assert_array_equal(encoder.transform(X[500:]), explicit.transform(X[500:]))


@pytest.mark.parametrize(
    "params, n_samples",
    [
        (dict(dictionary=True), 300),  # too few rows to set any aside
        (dict(dictionary=True, early_stopping=False), 600),
        (dict(dictionary=True, fit_dictionary=True), 600),  # the dictionary learned
        (dict(n_components=48), 600),
        (dict(dictionary=True, objective="regression"), 600),
    ],
)
def test_auto_is_rescaled_lista_where_no_trial_applies(params, n_samples):
    X, atoms = coherent_problem(n_samples, seed=0)
    if params.pop("dictionary", False):
        params["dictionary"] = atoms
    encoder = LearnedLassoEncoder(alpha=0.05, max_iter=2, random_state=0, **params).fit(X)
    assert encoder.architecture_ == "rescaled_lista"
    assert encoder.architecture_validation_losses_ is None
    assert type(encoder.network_) is REGISTRY["rescaled_lista"]


@pytest.mark.parametrize("architecture", ["lista", "step_lista", "rescaled_lista"])
def test_an_explicit_architecture_is_never_tried_against_another(architecture):
    X, atoms = coherent_problem(600, seed=0)
    encoder = LearnedLassoEncoder(
        dictionary=atoms, alpha=0.05, architecture=architecture, max_iter=2, random_state=0
    ).fit(X)
    assert encoder.architecture_ == architecture
    assert encoder.architecture_validation_losses_ is None
    assert type(encoder.network_) is REGISTRY[architecture]


@pytest.mark.parametrize("random_state", [None, np.random.RandomState(0), 4])
def test_both_candidates_set_the_same_rows_aside(monkeypatch, random_state):
    set_aside = []
    split = LearnedLassoEncoder._validation_split

    def recording(self, X, y, labels, early_stopping):
        parts = split(self, X, y, labels, early_stopping)
        set_aside.append((self.architecture_, parts[3].copy()))
        return parts

    monkeypatch.setattr(LearnedLassoEncoder, "_validation_split", recording)
    X, atoms = coherent_problem(600, seed=0)
    LearnedLassoEncoder(dictionary=atoms, alpha=0.05, max_iter=1, random_state=random_state).fit(X)
    assert [name for name, _ in set_aside] == list(CANDIDATES)
    np.testing.assert_array_equal(set_aside[0][1], set_aside[1][1])
    assert set_aside[0][1].shape == (60, X.shape[1])


def test_partial_fit_after_fit_goes_on_with_the_network_kept():
    X, atoms = incoherent_problem(700, seed=1)
    encoder = LearnedLassoEncoder(
        dictionary=atoms, alpha=0.1, max_iter=40, learning_rate=1e-2, random_state=1
    ).fit(X[:500])
    assert encoder.architecture_ == "step_lista"
    network = encoder.network_
    before = encoder.network_.state_dict()
    before = {name: value.clone() for name, value in before.items()}
    encoder.partial_fit(X[500:])
    assert encoder.network_ is network and encoder.architecture_ == "step_lista"
    assert any(not np.array_equal(before[n], v) for n, v in network.state_dict().items())


def test_partial_fit_resolves_auto_to_rescaled_lista_and_keeps_it():
    X, atoms = coherent_problem(600, seed=0)
    encoder = LearnedLassoEncoder(dictionary=atoms, alpha=0.05, random_state=0)
    encoder.partial_fit(X[:300])
    assert encoder.architecture_ == "rescaled_lista"
    network = encoder.network_
    encoder.partial_fit(X[300:])
    assert encoder.network_ is network


def test_a_refit_decides_afresh():
    X, atoms = coherent_problem(600, seed=0)
    encoder = LearnedLassoEncoder(
        dictionary=atoms, alpha=0.05, architecture="step_lista", max_iter=2, random_state=0
    ).fit(X)
    encoder.set_params(architecture="auto").fit(X[:300])  # no trial on 300 rows
    assert encoder.architecture_ == "rescaled_lista"
    assert type(encoder.network_) is REGISTRY["rescaled_lista"]


def test_an_auto_choice_survives_pickling():
    X, atoms = incoherent_problem(600, seed=1)
    encoder = LearnedLassoEncoder(
        dictionary=atoms, alpha=0.1, max_iter=3, learning_rate=1e-2, random_state=1
    ).fit(X[:500])
    loaded = pickle.loads(pickle.dumps(encoder))
    assert loaded.architecture_ == encoder.architecture_
    assert loaded.architecture_validation_losses_ == encoder.architecture_validation_losses_
    np.testing.assert_array_equal(loaded.transform(X[500:]), encoder.transform(X[500:]))


def test_a_pickle_from_before_the_attribute_reads_its_architecture():
    X, atoms = coherent_problem(100, seed=0)
    encoder = LearnedLassoEncoder(
        dictionary=atoms, alpha=0.05, architecture="lista", max_iter=1, random_state=0
    ).fit(X)
    state = encoder.__getstate__()
    del state["architecture_"], state["architecture_validation_losses_"]
    old = LearnedLassoEncoder.__new__(LearnedLassoEncoder)
    old.__setstate__(state)
    assert old.architecture_ == "lista"
    assert old.architecture_validation_losses_ is None
    np.testing.assert_array_equal(old.transform(X), encoder.transform(X))


# ------------------------------------------------------- the rule itself


class Candidate:
    """A stand-in estimator whose ``train`` sets a given validation loss (or fails)."""

    verbose = 0

    def __init__(self, random_state, losses, failures=(), overflows=()):
        self.random_state = random_state
        self.losses, self.failures, self.seeds = losses, failures, []
        self.overflows = overflows

    def train(self, architecture, seed):
        self.seeds.append(seed)
        self.architecture_ = architecture
        self.trained_ = f"network of {architecture}"
        if architecture in self.failures:
            raise ValueError(f"{architecture} diverged")
        warnings.warn(f"warned by {architecture}", ConvergenceWarning, stacklevel=1)
        if architecture in self.overflows:
            warnings.warn(f"overflow in {architecture}", RuntimeWarning, stacklevel=1)
        self.best_validation_loss_ = self.losses[architecture]


@pytest.mark.parametrize(
    "losses, kept",
    [
        ({"step_lista": 1.0, "rescaled_lista": 2.0}, "step_lista"),
        ({"step_lista": 2.0, "rescaled_lista": 1.0}, "rescaled_lista"),
        ({"step_lista": 1.5, "rescaled_lista": 1.5}, "step_lista"),  # a tie: the cheaper
    ],
)
def test_the_lower_validation_loss_is_kept_with_its_warnings_only(losses, kept):
    candidate = Candidate(0, losses)
    with pytest.warns(ConvergenceWarning) as record:
        fit_candidates(candidate, candidate.train)
    assert [str(warning.message) for warning in record] == [f"warned by {kept}"]
    assert candidate.architecture_ == kept
    assert candidate.trained_ == f"network of {kept}"
    assert candidate.best_validation_loss_ == losses[kept]
    assert candidate.architecture_validation_losses_ == losses


@pytest.mark.parametrize("random_state", [7, None, np.random.RandomState(3)])
def test_every_candidate_draws_from_one_seed(random_state):
    candidate = Candidate(random_state, {"step_lista": 1.0, "rescaled_lista": 2.0})
    with pytest.warns(ConvergenceWarning):
        fit_candidates(candidate, candidate.train)
    assert len(candidate.seeds) == 2 and candidate.seeds[0] == candidate.seeds[1]
    if random_state == 7:
        assert candidate.seeds[0] == 7


def test_a_discarded_candidates_runtime_warnings_are_given_too():
    losses = {"step_lista": 2.0, "rescaled_lista": 1.0}
    candidate = Candidate(0, losses, overflows=("step_lista",))
    with pytest.warns(Warning) as record:
        fit_candidates(candidate, candidate.train)
    assert sorted(str(warning.message) for warning in record) == [
        "overflow in step_lista",
        "warned by rescaled_lista",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # as the test suite's configuration
        warnings.simplefilter("ignore", ConvergenceWarning)
        other = Candidate(0, losses, overflows=("step_lista",))
        with pytest.raises(RuntimeWarning, match="overflow in step_lista"):
            fit_candidates(other, other.train)


def test_the_given_warnings_keep_their_module_for_the_filters():
    candidate = Candidate(0, {"step_lista": 1.0, "rescaled_lista": 2.0})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", module=r".*test_architecture_choice")
        fit_candidates(candidate, candidate.train)
    assert record == []
    candidate = Candidate(0, {"step_lista": 1.0, "rescaled_lista": 2.0})
    with pytest.warns(ConvergenceWarning) as record:
        fit_candidates(candidate, candidate.train)
    assert record[0].filename == __file__


def test_a_candidate_that_fails_is_passed_over():
    candidate = Candidate(0, {"step_lista": 1.0, "rescaled_lista": 2.0}, failures=("step_lista",))
    with pytest.warns(ConvergenceWarning, match="rescaled_lista"):
        fit_candidates(candidate, candidate.train)
    assert candidate.architecture_ == "rescaled_lista"
    assert candidate.architecture_validation_losses_ == {"rescaled_lista": 2.0}


def test_when_every_candidate_fails_the_last_error_is_raised():
    candidate = Candidate(0, {}, failures=CANDIDATES)
    with pytest.raises(ValueError, match="rescaled_lista diverged"):
        fit_candidates(candidate, candidate.train)


def diverging(learning_rate, architecture="auto"):
    X, atoms = coherent_problem(600, seed=0)
    encoder = LearnedLassoEncoder(
        dictionary=atoms,
        alpha=0.05,
        architecture=architecture,
        solver="sgd",
        learning_rate=learning_rate,
        max_iter=3,
        random_state=0,
    )
    return encoder, X


def test_auto_does_not_fail_where_an_explicit_architecture_fits():
    step, X = diverging(1e3, "step_lista")
    with pytest.raises(ValueError, match="Training diverged"):
        step.fit(X)
    encoder, X = diverging(1e3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # rescaled LISTA's blow-up guard
        encoder.fit(X)
    assert encoder.architecture_ == "rescaled_lista"
    assert set(encoder.architecture_validation_losses_) == {"rescaled_lista"}
    assert np.isfinite(encoder.transform(X)).all()


def test_an_auto_fit_whose_candidates_all_fail_leaves_the_encoder_as_it_was():
    encoder, X = diverging(1e12)
    encoder.set_params(learning_rate=1e-3).fit(X)
    fitted = dict(vars(encoder))
    codes = encoder.transform(X[:5])
    with pytest.raises(ValueError, match="Training diverged"):
        encoder.set_params(learning_rate=1e12).fit(X)
    assert set(vars(encoder)) == set(fitted)
    assert all(
        vars(encoder)[name] is value for name, value in fitted.items() if name.endswith("_")
    )
    np.testing.assert_array_equal(encoder.transform(X[:5]), codes)
