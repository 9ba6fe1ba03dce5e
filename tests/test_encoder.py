"""LearnedLassoEncoder: training, dictionaries, the scikit-learn contract, bad input."""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from _reference import alista_reference, fista_reference
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

import sklearn_lsc._inference
from sklearn_lsc import LearnedLassoEncoder, lasso_objective, sparse_encode
from sklearn_lsc import solvers as solvers_module
from sklearn_lsc._networks import NETWORKS
from sklearn_lsc.datasets import load_digits_problem

# Every network of the registry: a new one is tested here without an edit.
ARCHITECTURES = sorted(NETWORKS)


@pytest.fixture(scope="module")
def digits_problem():
    X_train, X_test, dictionary = load_digits_problem(n_components=64, random_state=0)
    return X_train[:600], X_test, dictionary


def random_data(seed=0, n_samples=120, n_features=8, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal((n_samples, n_features)).astype(dtype)


def relative_gap(X, code, dictionary, alpha):
    optimum = lasso_objective(
        X, sparse_encode(X, dictionary, alpha=alpha, tol=1e-10, max_iter=5000), dictionary, alpha
    )
    return (lasso_objective(X, code, dictionary, alpha) - optimum) / optimum


# ----------------------------------------------------------------- training
# The analytic networks learn no matrix: on the coherent digits dictionary they
# stay near the iterations they start from (their own tests, on incoherent
# dictionaries, are at the end of the file).
ANALYTIC = ("alista", "hyper_lista", "step_lista")


@pytest.mark.parametrize("architecture", [a for a in ARCHITECTURES if a not in ANALYTIC])
def test_training_beats_the_untrained_network_and_fista(digits_problem, architecture):
    X_train, X_test, D = digits_problem
    params = dict(alpha=0.1, dictionary=D, architecture=architecture, random_state=0)
    untrained = LearnedLassoEncoder(**params, learning_rate=1e-12, max_iter=1).fit(X_train)
    trained = LearnedLassoEncoder(**params, max_iter=30).fit(X_train)
    fista = sparse_encode(X_test, D, alpha=0.1, max_iter=5, tol=0.0)
    trained_gap = relative_gap(X_test, trained.transform(X_test), D, 0.1)
    assert trained_gap < 0.5 * relative_gap(X_test, fista, D, 0.1)
    assert trained_gap < 0.5 * relative_gap(X_test, untrained.transform(X_test), D, 0.1)
    assert trained.loss_curve_[-1] < trained.loss_curve_[0]
    assert trained.n_iter_ == len(trained.loss_curve_) <= 30


def forbid_exact_solvers(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an exact solver ran")

    for name in ("_solve", "ista", "cod", "sparse_encode"):
        monkeypatch.setattr(solvers_module, name, refuse)


@pytest.mark.parametrize("solver", ["adam", "armijo"])
@pytest.mark.parametrize("dictionary", ["given", "learned"])
def test_lasso_objective_never_runs_an_exact_solver(monkeypatch, solver, dictionary):
    X = random_data()
    forbid_exact_solvers(monkeypatch)
    D = None if dictionary == "learned" else np.eye(8)
    encoder = LearnedLassoEncoder(
        n_components=8, alpha=0.1, dictionary=D, solver=solver, max_iter=3, random_state=0
    )
    encoder.fit(X).partial_fit(X)
    assert encoder.n_iter_ == 4


def test_regression_objective_regresses_exact_codes(digits_problem):
    X_train, X_test, D = digits_problem
    exact = sparse_encode(X_test, D, alpha=0.1)
    params = dict(alpha=0.1, dictionary=D, objective="regression", random_state=0)
    untrained = LearnedLassoEncoder(**params, learning_rate=1e-12, max_iter=1).fit(X_train)
    trained = LearnedLassoEncoder(**params, max_iter=8).fit(X_train)

    def error(encoder):
        return np.sum((encoder.transform(X_test) - exact) ** 2)

    assert error(trained) < 0.5 * error(untrained)


def test_regression_with_a_learned_dictionary_uses_the_current_dictionary(monkeypatch):
    X = random_data(1)
    calls = []
    original = solvers_module._solve

    def spy(X, dictionary, *args):
        calls.append(dictionary.clone())
        return original(X, dictionary, *args)

    monkeypatch.setattr(solvers_module, "_solve", spy)
    encoder = LearnedLassoEncoder(
        n_components=6, alpha=0.1, objective="regression", max_iter=2, random_state=0
    )
    encoder.fit(X)
    assert len(calls) == 4  # 120 rows in batches of 100: two targets per epoch
    assert not torch.equal(calls[0], calls[-1])  # the dictionary moved in between


# -------------------------------------------------------- bfloat16 transform
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_bfloat16_transform_codes_nearly_as_well_in_the_dtype_of_X(architecture, dtype):
    X_train, X_test, D = load_digits_problem(n_components=64, random_state=0)
    X_train, X_test = X_train[:600].astype(dtype), X_test.astype(dtype)
    encoder = LearnedLassoEncoder(
        alpha=0.1, dictionary=D, architecture=architecture, max_iter=20, random_state=0
    ).fit(X_train)
    full = encoder.transform(X_test)
    rounded = encoder.set_params(transform_dtype="bfloat16").transform(X_test)
    assert rounded.dtype == dtype
    assert not np.array_equal(rounded, full)  # the products really ran in bfloat16
    assert next(encoder.network_.parameters()).dtype == torch.from_numpy(X_train).dtype
    objective_full = lasso_objective(X_test, full, D, 0.1)
    objective_rounded = lasso_objective(X_test, rounded, D, 0.1)
    assert objective_rounded == pytest.approx(objective_full, rel=0.02)
    # score is the objective of the rounded codes against the signals as given.
    assert encoder.score(X_test) == pytest.approx(-objective_rounded, rel=1e-6)


def test_transform_dtype_set_after_fit_is_checked_at_transform():
    X = random_data(8)
    encoder = LearnedLassoEncoder(n_components=6, alpha=0.1, max_iter=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="transform_dtype"):
        encoder.set_params(transform_dtype="float16").transform(X)


# -------------------------------------------------------------- input noise
def test_input_noise_regularizes_a_small_training_set():
    # 5 untied layers on 300 digits overfit: the held-out gap grows with the
    # epochs. Noisy minibatches keep it lower (each fit alone: 2 s).
    X_train, X_test, D = load_digits_problem(n_components=64, random_state=0)
    X_train = X_train[:300]
    params = dict(
        alpha=0.1, dictionary=D, architecture="lista", max_iter=300,
        n_iter_no_change=300, random_state=0,
    )  # fmt: skip
    plain = LearnedLassoEncoder(**params, input_noise=0.0).fit(X_train)
    noisy = LearnedLassoEncoder(**params, input_noise=0.25).fit(X_train)
    gap_plain = relative_gap(X_test, plain.transform(X_test), D, 0.1)
    gap_noisy = relative_gap(X_test, noisy.transform(X_test), D, 0.1)
    assert gap_noisy < 0.8 * gap_plain
    # The plain network fits its training rows better: it overfits them.
    assert plain.score(X_train) > noisy.score(X_train)


@pytest.mark.parametrize("solver", ["adam", "armijo"])
def test_input_noise_is_seeded_by_random_state_and_leaves_X_untouched(solver):
    X = random_data(3)
    X_before = X.copy()
    params = dict(n_components=6, alpha=0.1, solver=solver, input_noise=0.5, max_iter=3)
    first = LearnedLassoEncoder(**params, random_state=0).fit(X)
    again = LearnedLassoEncoder(**params, random_state=0).fit(X)
    other = LearnedLassoEncoder(**params, random_state=1).fit(X)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(first.transform(X), again.transform(X))
    assert not np.array_equal(first.transform(X), other.transform(X))
    # Same seed, dictionary and minibatch order without noise: noise changed the fit.
    plain = LearnedLassoEncoder(**{**params, "input_noise": 0.0}, random_state=0).fit(X)
    assert not np.allclose(first.loss_curve_, plain.loss_curve_)


def test_input_noise_trains_on_noisy_signals_of_the_right_scale(monkeypatch):
    # The regression targets are exact codes of the signals the network saw:
    # with noise, they are computed per minibatch from perturbed rows whose
    # deviation from X has the asked standard deviation.
    X = 10.0 * random_data(4, n_samples=400)
    seen = []
    original = solvers_module._solve

    def spy(signals, *args):
        seen.append(signals.clone())
        return original(signals, *args)

    monkeypatch.setattr(solvers_module, "_solve", spy)
    encoder = LearnedLassoEncoder(
        n_components=6, alpha=0.1, dictionary=np.eye(8)[:6], objective="regression",
        input_noise=0.1, batch_size=400, max_iter=2, random_state=0,
    )  # fmt: skip
    # With an orthonormal dictionary the untrained network is exact: training
    # on noise only loses, and fit keeps the untrained network.
    with pytest.warns(ConvergenceWarning, match="untrained network"):
        encoder.fit(X)
    # The guard's targets of the clean rows, then one per (noisy) minibatch,
    # all in the units the encoder trains in (X / signal_scale_, exact).
    assert len(seen) == 3 and encoder.signal_scale_ == 32.0  # rows of norm ~28
    np.testing.assert_array_equal(seen[0].numpy() * 32.0, X)
    for signals in seen[1:]:
        noisy = signals.numpy() * 32.0  # shuffled rows: pair each with its nearest row of X
        residual = noisy - X[_match_rows(noisy, X)]
        rms = np.sqrt(np.mean(X**2))
        assert np.std(residual) == pytest.approx(0.1 * rms, rel=0.05)
    assert not torch.equal(seen[1], seen[2])  # fresh noise each epoch


def test_input_noise_is_relative_to_each_rows_own_size(monkeypatch):
    # Rows of norms 100 times apart: each is perturbed relative to its own
    # root mean square (one level for all would swamp the small rows).
    X = random_data(4, n_samples=200)
    X[100:] *= 100.0
    seen = []
    original = solvers_module._solve

    def spy(signals, *args):
        seen.append(signals.clone())
        return original(signals, *args)

    monkeypatch.setattr(solvers_module, "_solve", spy)
    encoder = LearnedLassoEncoder(
        n_components=6, alpha=0.1, dictionary=np.eye(8)[:6], objective="regression",
        input_noise=0.1, batch_size=200, max_iter=1, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder.fit(X)
    scale = encoder.signal_scale_
    noisy = seen[1].numpy() * scale  # the minibatch's perturbed rows, shuffled
    source = _match_rows(noisy, X)
    relative = (noisy - X[source]) / np.sqrt(np.mean(X[source] ** 2, axis=1, keepdims=True))
    for rows in (source < 100, source >= 100):
        assert rows.sum() == 100
        assert np.std(relative[rows]) == pytest.approx(0.1, rel=0.1)


def _match_rows(noisy, X):
    """Index of the row of ``X`` nearest to each row of ``noisy``."""
    distances = ((noisy[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)
    return distances.argmin(axis=1)


def test_partial_fit_with_input_noise_continues_training():
    X = random_data(5)
    encoder = LearnedLassoEncoder(n_components=6, alpha=0.1, input_noise=0.2, random_state=0)
    for _ in range(3):
        encoder.partial_fit(X)
    assert encoder.n_iter_ == 3 and np.all(np.isfinite(encoder.transform(X)))


def test_armijo_decreases_the_loss_at_every_epoch():
    X = random_data(2)
    encoder = LearnedLassoEncoder(
        alpha=0.2,
        dictionary=np.eye(8)[:6] + 0.1,
        solver="armijo",
        input_noise=0.0,  # a deterministic loss: each accepted step lowers it
        max_iter=15,
        tol=0.0,
    ).fit(X)
    curve = np.array(encoder.loss_curve_)
    assert len(curve) == 15
    assert np.all(np.diff(curve) <= 0) and curve[-1] < curve[0]


def test_sgd_trains():
    X = random_data(3)
    encoder = LearnedLassoEncoder(
        alpha=0.2, solver="sgd", learning_rate=1e-2, max_iter=20, random_state=0
    ).fit(X)
    assert encoder.loss_curve_[-1] < encoder.loss_curve_[0]


def test_early_stopping_stops_before_max_iter():
    X = random_data(4)
    encoder = LearnedLassoEncoder(
        alpha=0.2, max_iter=500, tol=0.5, n_iter_no_change=3, random_state=0
    ).fit(X)
    # The first epoch sets the reference; none after it improves by 50%.
    assert encoder.n_iter_ == 1 + 3


# ----------------------------------------------------- validation stopping
def _training_rows_of(monkeypatch, cls=LearnedLassoEncoder):
    """Spy on ``_train_epoch``: the training tensors each epoch saw, in the units of X.

    (The encoders train on ``X / signal_scale_``, a power of two: exact.)
    """
    seen = []
    original = cls._train_epoch

    def spy(self, X, *args):
        seen.append(X.clone() * self.signal_scale_)
        return original(self, X, *args)

    monkeypatch.setattr(cls, "_train_epoch", spy)
    return seen


def test_early_stopping_watches_the_noise_free_loss_of_set_aside_rows(monkeypatch):
    X = random_data(40)
    seen = _training_rows_of(monkeypatch)
    encoder = LearnedLassoEncoder(
        n_components=6, alpha=0.1, input_noise=0.5, early_stopping=True,
        validation_fraction=0.25, max_iter=12, n_iter_no_change=100, random_state=0,
    ).fit(X)  # fmt: skip
    # ceil(0.25 * 120) = 30 rows set aside; the others (and only they) train.
    trained = _match_rows(seen[0].numpy(), X)
    np.testing.assert_array_equal(seen[0].numpy(), X[trained])
    assert len(set(trained)) == 90
    held_out = np.setdiff1d(np.arange(120), trained)
    assert all(torch.equal(rows, seen[0]) for rows in seen)
    curve = encoder.validation_loss_curve_
    assert len(curve) == encoder.n_iter_ == len(encoder.loss_curve_) == 12
    assert encoder.best_validation_loss_ == min(curve)
    # The kept network's objective on the set-aside rows as given (no noise).
    X_val = X[held_out]
    kept = lasso_objective(X_val, encoder.transform(X_val), encoder.components_, 0.1)
    assert kept == pytest.approx(encoder.best_validation_loss_, rel=1e-10)


def test_early_stopping_stops_on_the_validation_loss_and_keeps_its_best_epoch(monkeypatch):
    # Scripted validation losses: the untrained network's (6.0), best at epoch
    # 3, then three epochs without improvement. The training loss (decreasing
    # here) is not what stops it.
    X = random_data(41)
    script = iter([6.0, 5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 1.0, 1.0])
    monkeypatch.setattr(
        LearnedLassoEncoder, "_noise_free_loss_function",
        lambda self, *args, **kwargs: lambda: next(script),
    )  # fmt: skip
    codes_after_epoch = []
    original = LearnedLassoEncoder._train_epoch

    def recording(self, *args):
        loss = original(self, *args)
        with torch.no_grad():
            codes = self._codes_in_signal_units(torch.from_numpy(X))
            codes_after_epoch.append(codes.numpy().copy())
        return loss

    monkeypatch.setattr(LearnedLassoEncoder, "_train_epoch", recording)
    # (The noise given: a fit that "auto" noise stalled this early would train
    # again without it, see test_noise_choice.py.)
    encoder = LearnedLassoEncoder(
        n_components=6, alpha=0.1, early_stopping=True, max_iter=50, tol=0.0,
        n_iter_no_change=3, learning_rate=1e-2, input_noise=0.5, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plain stop: no blow-up warning
        encoder.fit(X)
    assert encoder.n_iter_ == 6
    # Reported in the units of X: the scripted (internal) losses times scale**2.
    units = encoder.signal_scale_**2
    assert encoder.validation_loss_curve_ == [v * units for v in (5.0, 4.0, 3.0, 3.5, 3.2, 3.1)]
    assert encoder.best_validation_loss_ == 3.0 * units
    assert not np.allclose(codes_after_epoch[2], codes_after_epoch[5])
    np.testing.assert_allclose(encoder.transform(X), codes_after_epoch[2], atol=1e-12)


def test_early_stopping_validation_loss_of_the_regression_objective(monkeypatch):
    # Mean squared distance of the set-aside rows' codes to their exact codes.
    X = random_data(42)
    D = np.eye(8)[:6] + 0.1
    seen = _training_rows_of(monkeypatch)
    encoder = LearnedLassoEncoder(
        alpha=0.1, dictionary=D, objective="regression", early_stopping=True,
        validation_fraction=0.5, max_iter=5, n_iter_no_change=100, random_state=0,
    ).fit(X)  # fmt: skip
    X_val = X[np.setdiff1d(np.arange(120), _match_rows(seen[0].numpy(), X))]
    assert X_val.shape[0] == 60
    exact = sparse_encode(X_val, D, alpha=0.1, tol=1e-10, max_iter=5000)
    error = np.mean(np.sum((encoder.transform(X_val) - exact) ** 2, axis=1))
    assert error == pytest.approx(encoder.best_validation_loss_, rel=1e-4)


@pytest.mark.parametrize("solver", ["adam", "armijo"])
def test_early_stopping_with_labels_splits_them_with_their_rows(solver, monkeypatch):
    # The kept network's validation loss is the similarity objective of the
    # set-aside rows with their own labels (12 rows: one validation batch).
    X = random_data(43)
    y = (X[:, 0] > 0).astype(int)
    seen = _training_rows_of(monkeypatch)
    encoder = LearnedLassoEncoder(
        n_components=6, alpha=0.1, objective="similarity", solver=solver,
        early_stopping=True, max_iter=4, n_iter_no_change=100, random_state=0,
    ).fit(X, y)  # fmt: skip
    held_out = np.setdiff1d(np.arange(120), _match_rows(seen[0].numpy(), X))
    assert held_out.size == 12 and len(encoder.validation_loss_curve_) == 4
    # The training objective is in the units the encoder trains in (X and
    # codes divided by signal_scale_); losses are reported times its square.
    objective = encoder._training_objective(torch.device("cpu"), torch.float64)
    scale = encoder.signal_scale_
    X_val, code = X[held_out] / scale, encoder.transform(X[held_out]) / scale
    tensors = (X_val, code, encoder.components_, y[held_out].astype(np.float64))
    loss = float(objective(*(torch.from_numpy(a) for a in tensors)).mean()) * scale**2
    assert loss == pytest.approx(encoder.best_validation_loss_, rel=1e-10)
    # Labels shuffled against their rows give another loss: the pairing matters.
    shuffled = (X_val, code, encoder.components_, y[held_out][::-1].astype(np.float64))
    shuffled_loss = float(objective(*(torch.from_numpy(a) for a in shuffled)).mean()) * scale**2
    assert shuffled_loss != pytest.approx(loss, rel=1e-6)


def test_without_early_stopping_every_row_trains(monkeypatch):
    X = random_data(44)
    seen = _training_rows_of(monkeypatch)
    encoder = LearnedLassoEncoder(n_components=6, alpha=0.1, max_iter=2, random_state=0).fit(X)
    assert encoder.validation_loss_curve_ is None and encoder.best_validation_loss_ is None
    np.testing.assert_array_equal(seen[0].numpy(), X)
    # partial_fit ignores early_stopping: one pass over every row.
    seen.clear()
    encoder.set_params(early_stopping=True).partial_fit(X)
    np.testing.assert_array_equal(seen[0].numpy(), X)
    assert encoder.validation_loss_curve_ is None


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_validation_fraction_outside_the_open_unit_interval_is_refused(fraction):
    encoder = LearnedLassoEncoder(early_stopping=True, validation_fraction=fraction)
    with pytest.raises(ValueError, match="validation_fraction"):
        encoder.fit(random_data(45))


def test_early_stopping_that_would_leave_no_training_row_is_refused():
    encoder = LearnedLassoEncoder(n_components=2, early_stopping=True, validation_fraction=0.5)
    with pytest.raises(ValueError, match="validation_fraction"):
        encoder.fit(random_data(46, n_samples=1))


def test_divergence_raises_a_value_error_naming_learning_rate():
    X = random_data(5)
    # LISTA: rescaled LISTA's layers rescale every code to its best multiple,
    # which keeps even this learning rate's objective finite.
    encoder = LearnedLassoEncoder(
        alpha=0.1, architecture="lista", solver="sgd", learning_rate=1e12, max_iter=5
    )
    with pytest.raises(ValueError, match="learning_rate"):
        encoder.fit(X)


# ------------------------------------------------------------- dictionaries
def test_given_dictionary_is_kept_as_given():
    X = random_data(6)
    D = 3.0 * np.random.default_rng(0).standard_normal((5, 8))  # not normalized
    encoder = LearnedLassoEncoder(alpha=0.1, dictionary=D, max_iter=2).fit(X)
    np.testing.assert_array_equal(encoder.components_, D)
    assert encoder.components_ is not D


def test_dictionary_is_learned_without_a_given_one(digits_problem):
    X_train, X_test, _ = digits_problem
    params = dict(n_components=32, alpha=0.1, architecture="lista", max_iter=20, random_state=0)
    fixed = LearnedLassoEncoder(**params, fit_dictionary=False).fit(X_train)
    learned = LearnedLassoEncoder(**params).fit(X_train)
    # Same initial atoms (a random sample of normalized training rows) ...
    rows = {
        tuple(np.round(row, 5))
        for row in X_train / np.maximum(np.linalg.norm(X_train, axis=1, keepdims=True), 1e-12)
    }
    assert all(tuple(np.round(atom, 5)) in rows for atom in fixed.components_)
    # ... adapted into atoms in the unit ball that code held-out data better.
    assert np.all(np.linalg.norm(learned.components_, axis=1) <= 1 + 1e-5)
    assert not np.allclose(learned.components_, fixed.components_)
    assert learned.score(X_test) > fixed.score(X_test)


def test_fit_dictionary_true_adapts_a_given_dictionary():
    X = random_data(7)
    D = np.random.default_rng(1).standard_normal((6, 8))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    encoder = LearnedLassoEncoder(alpha=0.1, dictionary=D, fit_dictionary=True, max_iter=3)
    assert not np.allclose(encoder.fit(X).components_, D)


def test_more_atoms_than_usable_rows():
    X = random_data(8, n_samples=5)
    X[0] = 0.0
    encoder = LearnedLassoEncoder(n_components=10, alpha=0.1, max_iter=2, random_state=0)
    D = encoder.fit(X).components_
    assert D.shape == (10, 8) and np.all(np.isfinite(D))


# ------------------------------------------------------ the sklearn contract
def test_partial_fit_initializes_then_continues():
    X = random_data(9)
    encoder = LearnedLassoEncoder(alpha=0.1, random_state=0)
    encoder.partial_fit(X[:60])
    first_network = encoder.network_
    encoder.partial_fit(X[60:])
    assert encoder.network_ is first_network
    assert encoder.n_iter_ == 2 and len(encoder.loss_curve_) == 2
    with pytest.raises(ValueError, match="features"):
        encoder.partial_fit(X[:, :5])


def test_partial_fit_epochs_reach_what_fit_reaches():
    X = random_data(10)
    params = dict(alpha=0.2, random_state=0, dictionary=np.eye(8))
    fitted = LearnedLassoEncoder(**params, max_iter=10, tol=0.0).fit(X)
    streamed = LearnedLassoEncoder(**params)
    for _ in range(10):
        streamed.partial_fit(X)
    assert streamed.score(X) == pytest.approx(fitted.score(X), rel=0.05)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_dtype_is_preserved(dtype, architecture):
    X = random_data(11, dtype=dtype)
    encoder = LearnedLassoEncoder(alpha=0.1, architecture=architecture, max_iter=2).fit(X)
    assert encoder.transform(X).dtype == dtype
    assert encoder.components_.dtype == dtype
    other = np.float64 if dtype == np.float32 else np.float32
    assert encoder.transform(X.astype(other)).dtype == other
    assert encoder.inverse_transform(encoder.transform(X)).dtype == dtype


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_float32_and_float64_fits_agree(architecture):
    X = random_data(12)
    # No input noise: its draws differ between the two precisions.
    params = dict(alpha=0.1, dictionary=np.eye(8), input_noise=0.0, max_iter=5, random_state=0)
    params["architecture"] = architecture
    fit64 = LearnedLassoEncoder(**params).fit(X)
    fit32 = LearnedLassoEncoder(**params).fit(X.astype(np.float32))
    assert fit32.score(X) == pytest.approx(fit64.score(X), rel=1e-6)
    # Adam's steps are nearly sign(gradient) * learning_rate, so where the
    # gradient is near zero the two precisions can step apart by up to
    # learning_rate per step: 10 steps of 1e-3 here.
    np.testing.assert_allclose(fit32.transform(X), fit64.transform(X), atol=1e-2)


def test_transform_in_batches_equals_one_batch(monkeypatch):
    X = random_data(13, n_samples=300)
    encoder = LearnedLassoEncoder(alpha=0.1, max_iter=2, random_state=0).fit(X)
    whole = encoder.transform(X)
    monkeypatch.setattr(sklearn_lsc._inference, "_TRANSFORM_BATCH_ELEMENTS", {"cpu": 7 * 16})
    np.testing.assert_allclose(encoder.transform(X), whole, rtol=1e-12, atol=1e-12)


def test_inverse_transform_score_and_feature_names():
    X = random_data(14)
    encoder = LearnedLassoEncoder(n_components=5, alpha=0.1, max_iter=2, random_state=0).fit(X)
    code = encoder.transform(X)
    np.testing.assert_allclose(encoder.inverse_transform(code), code @ encoder.components_)
    assert encoder.score(X) == pytest.approx(-lasso_objective(X, code, encoder.components_, 0.1))
    names = encoder.get_feature_names_out()
    assert list(names) == [f"learnedlassoencoder{i}" for i in range(5)]
    with pytest.raises(ValueError, match="components"):
        encoder.inverse_transform(code[:, :3])


def test_zero_rows_are_coded_as_zero_and_inputs_are_untouched():
    X = random_data(15)
    X[[0, 7]] = 0.0
    D = np.random.default_rng(2).standard_normal((6, 8))
    X_before, D_before = X.copy(), D.copy()
    for architecture in ARCHITECTURES:
        encoder = LearnedLassoEncoder(
            alpha=0.1, dictionary=D, fit_dictionary=True, architecture=architecture, max_iter=3
        )
        code = encoder.fit(X).transform(X)
        assert np.all(code[[0, 7]] == 0) and np.all(np.isfinite(code))
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(D, D_before)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_pickle_and_joblib_round_trips_give_identical_codes(tmp_path, architecture):
    X = random_data(16)
    encoder = LearnedLassoEncoder(alpha=0.1, architecture=architecture, max_iter=3).fit(X)
    expected = encoder.transform(X)
    restored = pickle.loads(pickle.dumps(encoder))
    np.testing.assert_array_equal(restored.transform(X), expected)
    joblib.dump(encoder, tmp_path / "encoder.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "encoder.joblib").transform(X), expected)
    # Training state survives too: both continue identically.
    encoder.partial_fit(X)
    restored.partial_fit(X)
    np.testing.assert_allclose(restored.transform(X), encoder.transform(X), atol=1e-12)


def test_pickle_keeps_the_fitted_estimator_intact():
    X = random_data(17)
    encoder = LearnedLassoEncoder(alpha=0.1, max_iter=2).fit(X)
    pickle.dump(encoder, io.BytesIO())
    assert hasattr(encoder, "network_")
    encoder.transform(X)


def test_pipeline_and_grid_search_on_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.data[:500], digits.target[:500]
    pipeline = make_pipeline(
        Normalizer(),
        LearnedLassoEncoder(n_components=64, alpha=0.05, max_iter=5, random_state=0),
        LogisticRegression(max_iter=2000),
    )
    assert pipeline.fit(X[:400], y[:400]).score(X[400:], y[400:]) > 0.8

    search = GridSearchCV(
        LearnedLassoEncoder(n_components=32, max_iter=3, random_state=0),
        {"alpha": [0.05, 0.2], "n_layers": [1, 3]},
        cv=2,
    )
    search.fit(load_digits_problem(random_state=0)[0][:300])
    assert set(search.best_params_) == {"alpha", "n_layers"}
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_clone_gives_an_unfitted_copy_with_the_same_parameters():
    encoder = LearnedLassoEncoder(alpha=0.3, n_layers=2).fit(random_data(18))
    copy = clone(encoder)
    assert copy.get_params() == encoder.get_params()
    assert not hasattr(copy, "network_")


def test_verbose_reports_epochs(capsys):
    LearnedLassoEncoder(alpha=0.1, max_iter=3, verbose=1).fit(random_data(19))
    out = capsys.readouterr().out
    assert out.count("epoch") == 3 and "loss" in out


# ------------------------------------------------------------------- devices
@pytest.mark.parametrize(
    "device, error", [("tpu", ValueError), ("cuda:x", ValueError), (3, TypeError)]
)
def test_bad_device_is_refused_naming_it(device, error):
    with pytest.raises(error, match="device"):
        LearnedLassoEncoder(device=device, max_iter=1).fit(random_data(20))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_gpu_without_cuda_is_refused_at_fit():
    encoder = LearnedLassoEncoder(device="cuda", max_iter=1)
    with pytest.raises(ValueError, match="device"):
        encoder.fit(random_data(21))


def test_torch_device_objects_are_accepted():
    X = random_data(22)
    encoder = LearnedLassoEncoder(device=torch.device("cpu"), max_iter=1).fit(X)
    assert encoder.transform(X).shape == (120, 8)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[np.nan, 1.0], [1.0, 2.0]]), "NaN"),
        (np.array([[np.inf, 1.0], [1.0, 2.0]]), "infinity"),
        (np.ones(4), "2D array"),
    ],
)
def test_bad_X_is_refused(X, match):
    with pytest.raises(ValueError, match=match):
        LearnedLassoEncoder(max_iter=1).fit(X)


def test_wrong_n_features_at_transform_is_refused():
    encoder = LearnedLassoEncoder(max_iter=1).fit(random_data(23))
    with pytest.raises(ValueError, match="features"):
        encoder.transform(random_data(23, n_features=5))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"dictionary": np.ones((4, 5))}, "dictionary"),
        ({"dictionary": np.full((4, 8), np.nan)}, "NaN"),
        ({"dictionary": np.vstack([np.eye(8)[:3], np.zeros(8)])}, "zero norm"),
        ({"dictionary": np.eye(8), "n_components": 5}, "dictionary"),
        ({"alpha": -0.1}, "alpha"),
        ({"n_layers": 0}, "n_layers"),
        ({"architecture": "lstm"}, "architecture"),
        ({"objective": "hinge"}, "objective"),
        ({"solver": "lbfgs"}, "solver"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"fit_dictionary": "yes"}, "fit_dictionary"),
        ({"input_noise": -0.1}, "input_noise"),
        ({"transform_dtype": "float16"}, "transform_dtype"),
    ],
)
def test_bad_parameters_are_refused_naming_them(params, match):
    with pytest.raises(ValueError, match=match):
        LearnedLassoEncoder(max_iter=1, **params).fit(random_data(24))


# ------------------------------------------------------ similarity objective
def test_contrastive_term_by_hand_and_by_finite_differences():
    from sklearn_lsc._objectives import contrastive_loss

    rng = np.random.default_rng(0)
    code = rng.standard_normal((6, 3))
    labels = np.array([0, 1, 0, 1, 1, 2], dtype=float)
    expected = [
        np.mean(
            [
                0.5 * np.sum((code[i] - code[j]) ** 2)
                if labels[i] == labels[j]
                else 0.5 * max(0.0, 1.5 - np.linalg.norm(code[i] - code[j])) ** 2
                for j in range(6)
            ]
        )
        for i in range(6)
    ]
    actual = contrastive_loss(torch.tensor(code), torch.tensor(labels), 1.5)
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-12)
    torch.autograd.gradcheck(
        lambda z: contrastive_loss(z, torch.tensor(labels), 1.5).sum(),
        torch.tensor(code, requires_grad=True),
    )


def test_similarity_objective_separates_the_classes_codes():
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=5, return_X_y=True)
    X = X - X.mean(axis=1, keepdims=True)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X_train, X_test, y_train, y_test = X[:600], X[600:], y[:600], y[600:]
    params = dict(n_components=32, alpha=0.05, architecture="lista", max_iter=30, random_state=0)
    # Both trained the same way, without the defaults' noise and early stopping
    # (in 30 epochs on 600 rows the noisy contrastive term pulls less).
    params.update(input_noise=0.0, early_stopping=False)
    lasso = LearnedLassoEncoder(**params).fit(X_train)
    similar = LearnedLassoEncoder(
        **params, objective="similarity", similarity_weight=2.0, margin=1.0
    ).fit(X_train, y_train)

    def separation(encoder):
        code = encoder.transform(X_test)
        distances = np.linalg.norm(code[:, None] - code[None], axis=2)
        same = y_test[:, None] == y_test[None]
        return distances[~same].mean() / distances[same & ~np.eye(len(y_test), dtype=bool)].mean()

    assert separation(similar) > 1.2 * separation(lasso)
    # The training loss is the Lasso objective plus the weighted contrastive term.
    from sklearn_lsc._objectives import contrastive_loss, sparse_coding_loss
    from sklearn_lsc._penalties import L1Penalty

    objective = similar._training_objective(torch.device("cpu"), torch.float64)
    X_t, D = torch.tensor(X_test[:50]), torch.tensor(similar.components_)
    code = torch.tensor(similar.transform(X_test[:50]))
    labels = torch.tensor(y_test[:50], dtype=torch.float64)
    expected = sparse_coding_loss(X_t, code, D, L1Penalty(0.05)) + 2.0 * contrastive_loss(
        code, labels, 1.0
    )
    np.testing.assert_allclose(objective(X_t, code, D, labels), expected, rtol=1e-12)


def test_similarity_objective_takes_any_labels_and_needs_them():
    X = random_data(30)
    params = dict(alpha=0.1, objective="similarity", max_iter=2, random_state=0)
    labels = np.array(["a", "b", "c"])[np.arange(120) % 3]
    LearnedLassoEncoder(**params).fit(X, labels).partial_fit(X, labels)
    with pytest.raises(ValueError, match="needs y"):
        LearnedLassoEncoder(**params).fit(X)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LearnedLassoEncoder(**params).fit(X, labels[:-1])
    with pytest.raises(ValueError, match="margin"):
        LearnedLassoEncoder(**params, margin=0.0).fit(X, labels)


def test_verbose_reports_the_progress_of_long_transforms(monkeypatch, capsys):
    X = random_data(31, n_samples=100)
    encoder = LearnedLassoEncoder(alpha=0.1, max_iter=1, verbose=1).fit(X)
    capsys.readouterr()
    monkeypatch.setattr(sklearn_lsc._inference, "_TRANSFORM_BATCH_ELEMENTS", {"cpu": 40 * 16})
    encoder.transform(X)
    lines = capsys.readouterr().out.splitlines()
    # Batches of at most 40 rows, their sizes within a row: 33, 33 and 34.
    assert lines == [f"[LearnedLassoEncoder] coded {n}/100 rows" for n in (33, 66, 100)]


def test_a_training_blow_up_restores_the_best_epoch_with_a_warning(monkeypatch):
    from sklearn.exceptions import ConvergenceWarning

    X = random_data(32)
    # LISTA: wrecked weights blow its loss up (rescaled LISTA's best multiples
    # of each code would absorb most of it).
    encoder = LearnedLassoEncoder(
        alpha=0.1, architecture="lista", max_iter=8, n_iter_no_change=100, random_state=0
    )
    original = LearnedLassoEncoder._train_epoch
    codes_after_epoch = []

    def blowing_up(self, *args):
        if len(codes_after_epoch) >= 5:  # from epoch 6 on, wreck the network first
            with torch.no_grad():
                for parameter in self.network_.parameters():
                    parameter.mul_(50.0)
        loss = original(self, *args)
        with torch.no_grad():
            codes = self._codes_in_signal_units(torch.from_numpy(X))
            codes_after_epoch.append(codes.numpy().copy())
        return loss

    monkeypatch.setattr(LearnedLassoEncoder, "_train_epoch", blowing_up)
    with pytest.warns(ConvergenceWarning, match="learning_rate"):
        encoder.fit(X)
    best = int(np.argmin(encoder.loss_curve_))
    assert best < 5 and encoder.loss_curve_[-1] > 2 * encoder.loss_curve_[best]
    np.testing.assert_allclose(encoder.transform(X), codes_after_epoch[best], atol=1e-12)


def test_step_lista_encoder_trains_beyond_the_fista_iterations_it_starts_from():
    X = random_data(40, n_samples=300)
    D = np.random.default_rng(40).standard_normal((12, 8))
    params = dict(dictionary=D, alpha=0.1, architecture="step_lista", n_layers=3, random_state=0)
    # One epoch at a negligible learning rate: the network as built, which is
    # three FISTA iterations without restart (the independent reference), with
    # the steps per atom the fit chose for these atoms of unequal norms.
    untrained = LearnedLassoEncoder(**params, max_iter=1, learning_rate=1e-12).fit(X)
    fista, _ = fista_reference(X, D, 0.1, 3, restart=False, norm_floor=untrained.norm_floor_)
    np.testing.assert_allclose(untrained.transform(X), fista, atol=1e-8)
    trained = LearnedLassoEncoder(**params, max_iter=60).fit(X)
    assert trained.score(X) > untrained.score(X)


@pytest.mark.parametrize("architecture", ["alista", "hyper_lista"])
def test_analytic_encoders_train_beyond_the_iterations_they_start_from(architecture):
    X = random_data(41, n_samples=400)
    X_train, X_test = X[:300], X[300:]
    D = np.random.default_rng(41).standard_normal((12, 8))
    params = dict(dictionary=D, alpha=0.1, architecture=architecture, n_layers=3, random_state=0)
    # One epoch at a negligible learning rate: the network as built, three
    # iterations of the analytic update (the independent reference).
    untrained = LearnedLassoEncoder(**params, max_iter=1, learning_rate=1e-12).fit(X_train)
    expected = alista_reference(X_test, D, 0.1, np.ones(3), np.ones(3))
    np.testing.assert_allclose(untrained.transform(X_test), expected, atol=1e-8)
    trained = LearnedLassoEncoder(**params, max_iter=60).fit(X_train)
    # Held-out rows, a tenth of the way from the untrained gap to zero at least.
    untrained_gap = relative_gap(X_test, untrained.transform(X_test), D, 0.1)
    assert relative_gap(X_test, trained.transform(X_test), D, 0.1) < 0.9 * untrained_gap
