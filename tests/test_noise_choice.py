"""input_noise="auto": a fit the noise stalled trains again without noise."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_sample_images
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.image import extract_patches_2d

import sklearn_lsc._trainer as trainer_module
from sklearn_lsc import LearnedLassoEncoder, lasso_objective, sparse_encode
from sklearn_lsc._noise_choice import fit as fit_with_noise_choice


class Fitted:
    """A stand-in estimator whose ``train`` sets the state a fit at a noise level leaves
    (or fails: an outcome None)."""

    verbose = 0

    def __init__(self, outcomes, input_noise="auto", random_state=0):
        # outcomes: noise level -> (best validation loss, best epoch; 0 = untrained kept)
        self.outcomes, self.input_noise, self.random_state = outcomes, input_noise, random_state
        self.calls = []

    def _uses_early_stopping(self, n_samples):
        return True

    def _resolved_input_noise(self, n_samples):
        return 0.5 if self.input_noise == "auto" else self.input_noise

    def train(self, seed, input_noise):
        level = self._resolved_input_noise(0) if input_noise is None else input_noise
        self.calls.append((seed, input_noise))
        if self.outcomes[level] is None:
            raise ValueError(f"diverged at noise {level}")
        loss, best_epoch = self.outcomes[level]
        self.input_noise_, self.best_validation_loss_ = level, loss
        self.max_iter_, self.n_iter_no_change_ = 150, 20
        # Stopped by the rule: patience (20) epochs after the best one.
        self.n_iter_ = epochs = max(best_epoch, 1) + 20
        self.validation_loss_curve_ = [loss + 1.0] * epochs
        if best_epoch:
            self.validation_loss_curve_[best_epoch - 1] = loss
        warnings.warn(f"warned at noise {level}", ConvergenceWarning, stacklevel=1)
        return best_epoch == 0


def fit(estimator):
    with pytest.warns(ConvergenceWarning) as record:
        fit_with_noise_choice(estimator, 1000, estimator.train)
    return [str(warning.message) for warning in record]


def test_a_fit_the_noise_let_improve_is_kept_without_a_second():
    estimator = Fitted({0.5: (1.0, 80), 0.0: (0.1, 100)})
    assert fit(estimator) == ["warned at noise 0.5"]
    assert estimator.calls == [(0, None)]
    assert estimator.input_noise_ == 0.5


def test_a_fit_that_ran_its_whole_budget_did_not_stall():
    # Best at epoch 10 of a 25-epoch budget with a patience of 20: the rule
    # never had its chance to end it.
    estimator = Fitted({0.5: (1.0, 10), 0.0: (0.1, 20)})
    original = estimator.train

    def short_budget(seed, input_noise):
        kept_untrained = original(seed, input_noise)
        estimator.max_iter_ = estimator.n_iter_ = 25
        return kept_untrained

    estimator.train = short_budget
    assert fit(estimator) == ["warned at noise 0.5"]
    assert len(estimator.calls) == 1


@pytest.mark.parametrize("best_epoch", [0, 1, 20], ids=["untrained kept", "epoch 1", "epoch 20"])
def test_a_stalled_fit_trains_again_without_noise_and_the_better_is_kept(best_epoch):
    estimator = Fitted({0.5: (1.0, best_epoch), 0.0: (0.5, 90)})
    assert fit(estimator) == ["warned at noise 0.0"]
    assert estimator.calls == [(0, None), (0, 0.0)]
    assert estimator.input_noise_ == 0.0 and estimator.best_validation_loss_ == 0.5
    # The noisy fit is kept where the noise-free one is no better (a tie too).
    for loss in (1.0, 2.0):
        estimator = Fitted({0.5: (1.0, best_epoch), 0.0: (loss, 90)})
        assert fit(estimator) == ["warned at noise 0.5"]
        assert estimator.input_noise_ == 0.5 and len(estimator.calls) == 2


def test_a_noise_free_fit_that_fails_leaves_the_noisy_one():
    estimator = Fitted({0.5: (1.0, 0), 0.0: None})
    assert fit(estimator) == ["warned at noise 0.5"]
    assert len(estimator.calls) == 2 and estimator.input_noise_ == 0.5


@pytest.mark.parametrize("random_state", [7, None, np.random.RandomState(3)])
def test_both_fits_draw_from_one_seed(random_state):
    estimator = Fitted({0.5: (1.0, 1), 0.0: (0.5, 90)}, random_state=random_state)
    fit(estimator)
    (first, _), (second, _) = estimator.calls
    assert isinstance(first, int) and first == second
    if random_state == 7:
        assert first == 7


def test_an_explicit_noise_is_never_dropped():
    estimator = Fitted({0.5: (1.0, 0), 0.0: (0.5, 90)}, input_noise=0.5)
    assert fit(estimator) == ["warned at noise 0.5"]
    assert estimator.calls == [(None, None)]  # the seed as before the choice existed


def raw_patches(seed, n_train=600):
    """Raw 8x8 patches of one sample image: each one's brightness outweighs its texture."""
    image = load_sample_images().images[0].mean(axis=2) / 255.0
    patches = extract_patches_2d(
        image, (8, 8), max_patches=n_train + 500, random_state=np.random.RandomState(seed)
    )
    X = patches.reshape(-1, 64).astype(np.float32)
    return X[:n_train], X[n_train:]


def held_out_gap(encoder, X, alpha):
    D = encoder.components_.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        exact = sparse_encode(X, D, alpha=alpha, max_iter=20000, tol=1e-10)
    best = lasso_objective(X, exact, D, alpha)
    return lasso_objective(X, encoder.transform(X), D, alpha) / best - 1


def test_raw_image_patches_train_without_the_noise_that_drowns_their_texture():
    X_train, X_test = raw_patches(1)
    alpha = 0.1 * float(np.median(np.linalg.norm(X_train, axis=1)))
    params = dict(n_components=32, alpha=alpha, random_state=1)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        encoder = LearnedLassoEncoder(**params).fit(X_train)
    assert encoder.input_noise_ == 0.0
    assert not [w for w in record if issubclass(w.category, ConvergenceWarning)]
    # The fit kept is the one input_noise=0 makes, from the same draws ...
    quiet = LearnedLassoEncoder(**params, input_noise=0.0).fit(X_train)
    np.testing.assert_array_equal(encoder.transform(X_test), quiet.transform(X_test))
    # ... and codes new patches closer to the optimum than the noisy fit.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        noisy = LearnedLassoEncoder(**params, input_noise=0.5).fit(X_train)
    assert held_out_gap(encoder, X_test, alpha) < 0.7 * held_out_gap(noisy, X_test, alpha)


def gaussian_problem(seed=0):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((32, 16))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    codes = rng.standard_normal((700, 32)) * (rng.random((700, 32)) < 0.1)
    X = codes @ D + 0.05 * rng.standard_normal((700, 16))
    return X[:600], X[600:], D


def test_a_fit_the_noise_lets_improve_is_the_noisy_fit():
    X_train, X_test, D = gaussian_problem()
    params = dict(dictionary=D, alpha=0.1, max_iter=60, random_state=0)
    encoder = LearnedLassoEncoder(**params).fit(X_train)
    assert encoder.input_noise_ == 0.5
    noisy = LearnedLassoEncoder(**params, input_noise=0.5).fit(X_train)
    np.testing.assert_array_equal(encoder.transform(X_test), noisy.transform(X_test))


def test_noise_that_keeps_the_untrained_network_is_dropped_with_its_warning(monkeypatch):
    # Noise fifty times the rows' norm: no network learns from it. With the
    # architecture trial (a given dictionary) each candidate trains again.
    monkeypatch.setattr(trainer_module, "AUTO_NOISE", 50.0)
    X_train, X_test, D = gaussian_problem(1)
    params = dict(dictionary=D, alpha=0.1, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # none is given
        encoder = LearnedLassoEncoder(**params).fit(X_train)
    assert encoder.input_noise_ == 0.0
    with pytest.warns(ConvergenceWarning, match="did not improve on the untrained"):
        LearnedLassoEncoder(**params, input_noise=50.0).fit(X_train)
    quiet = LearnedLassoEncoder(**params, input_noise=0.0, architecture=encoder.architecture_).fit(
        X_train
    )
    np.testing.assert_array_equal(encoder.transform(X_test), quiet.transform(X_test))
