"""SparseCodingClassifier and StructuredSparseClassifier."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_lsc import (
    LearnedHiLassoEncoder,
    LearnedLassoEncoder,
    SparseCodingClassifier,
    StructuredSparseClassifier,
    lasso_objective,
)
from sklearn_lsc._networks import NETWORKS, STRUCTURED_NETWORKS
from sklearn_lsc._scale import typical_row_norm
from sklearn_lsc._temperature import WINDOW_ROWS, append_to_window, fit_temperature
from sklearn_lsc.classification import relative_penalty


def normalized_rows(X):
    X = X - X.mean(axis=1, keepdims=True)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(n_class=4, return_X_y=True)
    X = normalized_rows(X).astype(np.float32)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def encoder(**params):
    return LearnedLassoEncoder(
        **{"n_components": 16, "alpha": 0.1, "architecture": "lista", "max_iter": 20,
           "random_state": 0, **params}
    )  # fmt: skip


def subspace_sources(n_per_class=200, n_classes=3, n_features=20, rank=3, seed=0):
    """Each class: sparse combinations of its own few random atoms."""
    rng = np.random.default_rng(seed)
    X, y, atoms = [], [], []
    for label in range(n_classes):
        D = rng.standard_normal((rank, n_features))
        D /= np.linalg.norm(D, axis=1, keepdims=True)
        X.append(rng.standard_normal((n_per_class, rank)) @ D)
        y.append(np.full(n_per_class, label))
        atoms.append(D)
    return np.concatenate(X), np.concatenate(y), atoms


# ---------------------------------------------------- SparseCodingClassifier
def test_one_encoder_per_class_and_the_best_coding_class_wins(digits):
    X_train, X_test, y_train, y_test = digits
    classifier = SparseCodingClassifier(encoder()).fit(X_train, y_train)
    assert len(classifier.encoders_) == 4 and classifier.classes_.tolist() == [0, 1, 2, 3]
    # Each encoder was trained on its own class only: its dictionary codes it best.
    own = [-classifier.encoders_[k].score(X_train[y_train == k]) for k in range(4)]
    other = [-classifier.encoders_[k].score(X_train[y_train != k]) for k in range(4)]
    assert all(o < t for o, t in zip(own, other, strict=True))
    # decision_function is minus each class's objective, computed independently here.
    scores = classifier.decision_function(X_test[:20])
    for k, fitted in enumerate(classifier.encoders_):
        expected = [
            lasso_objective(row[None], fitted.transform(row[None]), fitted.components_, 0.1)
            for row in X_test[:20]
        ]
        np.testing.assert_allclose(-scores[:, k], expected, rtol=1e-5)
    np.testing.assert_array_equal(
        classifier.predict(X_test[:20]), classifier.classes_[scores.argmax(axis=1)]
    )
    assert classifier.score(X_test, y_test) > 0.95


def test_predict_proba_is_the_softmax_of_the_decision_function_over_the_temperature(digits):
    X_train, X_test, y_train, _ = digits
    classifier = SparseCodingClassifier(encoder(max_iter=3)).fit(X_train, y_train)
    proba = classifier.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    scores = classifier.decision_function(X_test) / classifier.temperature_
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(proba, expected, rtol=1e-6)
    np.testing.assert_array_equal(
        classifier.classes_[proba.argmax(axis=1)], classifier.predict(X_test)
    )


def smoothed_log_loss(objectives, y_index, temperature):
    """The temperature's loss, written out with numpy alone (the reference)."""
    n_samples, n_classes = objectives.shape
    smoothing = 1.0 / (n_samples + 2)
    targets = np.full((n_samples, n_classes), smoothing / (n_classes - 1))
    targets[np.arange(n_samples), y_index] = 1 - smoothing
    scores = -objectives / temperature
    scores = scores - scores.max(axis=1, keepdims=True)
    log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    return -(targets * log_p).sum() / n_samples


def test_the_temperature_minimises_the_training_rows_log_loss(digits):
    X_train, _, y_train, _ = digits
    classifier = SparseCodingClassifier(encoder(max_iter=3)).fit(X_train, y_train)
    objectives = -classifier.decision_function(X_train)
    y_index = np.searchsorted(classifier.classes_, y_train)
    fitted = classifier.temperature_
    grid = fitted * np.exp(np.linspace(-3, 3, 601))
    losses = [smoothed_log_loss(objectives, y_index, t) for t in grid]
    assert smoothed_log_loss(objectives, y_index, fitted) <= min(losses) + 1e-9
    # An interior minimum: both neighbours of the grid's best are worse.
    best = int(np.argmin(losses))
    assert 0 < best < len(grid) - 1 and abs(best - 300) <= 1


def test_probabilities_do_not_depend_on_the_scale_the_data_come_in(digits):
    # The same problem at 1/8 and 4 times the scale (alpha scaled with it)
    # trains alike and must give the same probabilities; a softmax of the
    # raw objectives (T = 1) gave near-uniform rows at the one scale and
    # near-certain ones at the other.
    X_train, X_test, y_train, _ = digits
    probabilities = []
    for factor in (0.125, 4.0):
        model = encoder(max_iter=3, alpha=0.1 * factor)
        classifier = SparseCodingClassifier(model).fit(X_train * factor, y_train)
        probabilities.append(classifier.predict_proba(X_test * factor))
    np.testing.assert_allclose(probabilities[0], probabilities[1], atol=1e-5)


def test_fitted_probabilities_are_calibrated_on_held_out_rows(digits):
    X_train, X_test, y_train, y_test = digits
    classifier = SparseCodingClassifier(encoder()).fit(X_train, y_train)
    proba = classifier.predict_proba(X_test)
    y_index = np.searchsorted(classifier.classes_, y_test)
    held_out_log_loss = -np.log(proba[np.arange(len(y_test)), y_index]).mean()
    raw = classifier.decision_function(X_test)
    raw = np.exp(raw - raw.max(axis=1, keepdims=True))
    raw /= raw.sum(axis=1, keepdims=True)
    raw_log_loss = -np.log(raw[np.arange(len(y_test)), y_index]).mean()
    assert held_out_log_loss < 0.2 < raw_log_loss
    assert held_out_log_loss < raw_log_loss / 3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 1-atom models
def test_separable_training_rows_give_a_finite_temperature():
    # Each class's rows are multiples of its own direction (of norm at least
    # one): every training row is coded best by its own class, and plain
    # maximum likelihood would send T to zero (every probability one).
    rng = np.random.default_rng(0)
    directions = rng.standard_normal((3, 20))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    y = np.repeat(np.arange(3), 40)
    lengths = (1.0 + rng.random(y.size)) * rng.choice([-1.0, 1.0], y.size)
    X = lengths[:, None] * directions[y] + 1e-3 * rng.standard_normal((y.size, 20))
    classifier = SparseCodingClassifier(encoder(n_components=1, alpha=0.01, max_iter=5))
    classifier.fit(X, y)
    assert (classifier.predict(X) == y).all()
    own = classifier.predict_proba(X)[np.arange(len(y)), y]
    # Confident, yet no row certain: the targets ask for 1 - 1 / (n + 2).
    assert own.mean() > 0.98 and own.max() < 1.0


def test_partial_fit_fits_the_temperature_on_its_latest_rows(digits):
    X_train, _, y_train, _ = digits
    classifier = SparseCodingClassifier(encoder())
    first = y_train < 2
    classifier.partial_fit(X_train[first], y_train[first], classes=[0, 1, 2, 3])
    assert not hasattr(classifier, "temperature_")  # classes 2 and 3 have no model yet
    classifier.partial_fit(X_train[~first], y_train[~first])
    # Fitted on the rows of the call that completed the classes, with their
    # objectives at that call.
    kept, labels = classifier._temperature_window
    np.testing.assert_array_equal(labels, y_train[~first])  # labels 0-3 are their indices
    objectives = -classifier.decision_function(X_train[~first])
    np.testing.assert_allclose(kept, objectives, rtol=1e-6)
    grid = classifier.temperature_ * np.exp(np.linspace(-1, 1, 201))
    losses = [smoothed_log_loss(kept, labels, t) for t in grid]
    assert abs(int(np.argmin(losses)) - 100) <= 1
    # A one-row chunk joins them and moves it little (alone, a row whose
    # model codes it worst would send the temperature to its bound).
    before = classifier.temperature_
    classifier.partial_fit(X_train[:1], y_train[:1])
    assert classifier._temperature_window[0].shape == (len(labels) + 1, 4)
    assert 0.8 < classifier.temperature_ / before < 1.25


def test_the_temperature_window_keeps_the_latest_rows():
    rows = np.arange(2500.0)[:, None] * np.ones((1, 3))
    window = append_to_window(None, rows[:1500], np.zeros(1500, int))
    window = append_to_window(window, rows[1500:], np.ones(1000, int))
    assert window[0].shape == (WINDOW_ROWS, 3) == (2000, 3)
    np.testing.assert_array_equal(window[0][:, 0], np.arange(500.0, 2500.0))
    assert window[1].sum() == 1000


def test_uniform_objectives_give_a_temperature_of_one():
    assert fit_temperature(np.full((5, 3), 2.5), np.array([0, 1, 2, 0, 1])) == 1.0


def test_binary_decision_function_follows_scikit_learn(digits):
    X_train, X_test, y_train, _ = digits
    two = y_train < 2
    classifier = SparseCodingClassifier(encoder(max_iter=3)).fit(X_train[two], y_train[two])
    decision = classifier.decision_function(X_test)
    assert decision.shape == (X_test.shape[0],)
    np.testing.assert_array_equal(classifier.predict(X_test), (decision > 0).astype(int))


def test_string_labels_and_results_identical_for_any_n_jobs(digits):
    X_train, X_test, y_train, _ = digits
    labels = np.array(["zero", "one", "two", "three"])[y_train]
    serial = SparseCodingClassifier(encoder(max_iter=3)).fit(X_train, labels)
    parallel = SparseCodingClassifier(encoder(max_iter=3), n_jobs=2).fit(X_train, labels)
    assert set(serial.classes_) == {"zero", "one", "two", "three"}
    np.testing.assert_array_equal(
        serial.decision_function(X_test), parallel.decision_function(X_test)
    )


def test_partial_fit_streams_and_needs_classes_first(digits):
    X_train, X_test, y_train, y_test = digits
    classifier = SparseCodingClassifier(encoder())
    with pytest.raises(ValueError, match="classes"):
        classifier.partial_fit(X_train[:50], y_train[:50])
    only_zero = y_train == 0
    classifier.partial_fit(X_train[only_zero], y_train[only_zero], classes=[0, 1, 2, 3])
    with pytest.raises(NotFittedError, match="no training rows"):
        classifier.predict(X_test)
    for _ in range(5):
        for batch in np.array_split(np.arange(len(y_train)), 4):
            classifier.partial_fit(X_train[batch], y_train[batch])
    assert classifier.score(X_test, y_test) > 0.9
    with pytest.raises(ValueError, match="not in 'classes'"):
        classifier.partial_fit(X_train[:5], np.full(5, 7))
    with pytest.raises(ValueError, match="'classes' changed"):
        classifier.partial_fit(X_train[:5], y_train[:5], classes=[0, 1])


def test_structured_encoders_work_per_class(digits):
    X_train, X_test, y_train, y_test = digits
    structured = LearnedHiLassoEncoder(
        n_components=16, groups=4, alpha=0.05, group_alpha=0.05, n_layers=3, max_iter=20,
        random_state=0,
    )  # fmt: skip
    classifier = SparseCodingClassifier(structured).fit(X_train, y_train)
    assert classifier.score(X_test, y_test) > 0.9


def test_pickle_pipeline_and_grid_search(digits):
    X_train, X_test, y_train, y_test = digits
    pipeline = make_pipeline(
        FunctionTransformer(normalized_rows), SparseCodingClassifier(encoder(max_iter=5))
    )
    search = GridSearchCV(
        pipeline, {"sparsecodingclassifier__encoder__alpha": [0.05, 0.2]}, cv=2
    ).fit(X_train, y_train)
    assert search.best_params_["sparsecodingclassifier__encoder__alpha"] in (0.05, 0.2)
    restored = pickle.loads(pickle.dumps(search.best_estimator_))
    np.testing.assert_array_equal(restored.predict(X_test), search.predict(X_test))


@pytest.mark.parametrize(
    "X, y, match, error",
    [
        (np.ones((10, 4)), np.zeros(10), "two classes.*1 class", ValueError),
        (np.ones((10, 4)), np.arange(9) % 2, "inconsistent numbers of samples", ValueError),
        (np.ones((10, 4)), np.linspace(0, 1, 10), "continuous", ValueError),
    ],
)
def test_bad_targets_are_refused(X, y, match, error):
    with pytest.raises(error, match=match):
        SparseCodingClassifier(encoder(max_iter=1)).fit(X, y)


def test_a_class_with_fewer_rows_than_atoms_is_refused(digits):
    X_train, _, y_train, _ = digits
    keep = np.concatenate([np.flatnonzero(y_train != 3), np.flatnonzero(y_train == 3)[:10]])
    with pytest.raises(ValueError, match="Class 3 has 10 rows, fewer than the 16 atoms"):
        SparseCodingClassifier(encoder(max_iter=1)).fit(X_train[keep], y_train[keep])


@pytest.mark.parametrize("fit_dictionary", ["auto", False, np.False_])
def test_an_encoder_with_a_fixed_dictionary_is_refused(digits, fit_dictionary):
    # Every class would share one dictionary: nothing tells the classes apart
    # but the networks' errors.
    X_train, _, y_train, _ = digits
    fixed = encoder(n_components=None, dictionary=X_train[:16], fit_dictionary=fit_dictionary)
    classifier = SparseCodingClassifier(fixed)
    with pytest.raises(ValueError, match="'encoder' parameter has a fixed dictionary"):
        classifier.fit(X_train, y_train)
    with pytest.raises(ValueError, match="'encoder' parameter has a fixed dictionary"):
        classifier.partial_fit(X_train, y_train, classes=np.unique(y_train))
    assert not hasattr(classifier, "encoders_")


def test_a_given_dictionary_adapted_per_class_is_accepted(digits):
    X_train, X_test, y_train, y_test = digits
    initial = encoder(n_components=None, dictionary=X_train[:16], fit_dictionary=True)
    classifier = SparseCodingClassifier(initial).fit(X_train, y_train)
    first, second = (e.components_ for e in classifier.encoders_[:2])
    assert not np.allclose(first, second)  # each class adapted its own copy
    assert classifier.score(X_test, y_test) > 0.8


def test_a_non_encoder_is_refused_naming_the_parameter(digits):
    from sklearn.decomposition import MiniBatchDictionaryLearning

    X_train, _, y_train, _ = digits
    with pytest.raises(TypeError, match="'encoder'"):
        SparseCodingClassifier(MiniBatchDictionaryLearning()).fit(X_train, y_train)
    with pytest.raises(ValueError, match="encoder"):
        SparseCodingClassifier("lista").fit(X_train, y_train)


# ------------------------------------------------ StructuredSparseClassifier
@pytest.mark.parametrize("architecture", ["bcofb", "rescaled_lista"])
def test_group_energies_identify_single_sources(architecture):
    X, y, _ = subspace_sources()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    classifier = StructuredSparseClassifier(
        n_components_per_class=4, alpha=0.02, group_alpha=0.05, max_iter=40,
        architecture=architecture, random_state=0,
    ).fit(X_train, y_train)  # fmt: skip
    assert classifier.encoder_.components_.shape == (12, 20)
    assert len(classifier.encoder_.groups_) == 3
    energies = classifier.decision_function(X_test)
    np.testing.assert_allclose(energies, classifier.encoder_.group_energies(X_test))
    assert classifier.score(X_test, y_test) > 0.95


@pytest.mark.parametrize(
    "architecture", sorted(set(NETWORKS) | set(STRUCTURED_NETWORKS))
)  # from the registry: a new network is tested here without an edit
def test_every_structured_encoder_architecture_is_accepted(architecture):
    X, y, _ = subspace_sources()
    classifier = StructuredSparseClassifier(
        n_components_per_class=4, alpha=0.02, group_alpha=0.05, max_iter=3,
        architecture=architecture, random_state=0,
    ).fit(X, y)  # fmt: skip
    registry = {**NETWORKS, **STRUCTURED_NETWORKS}
    assert type(classifier.encoder_.network_) is registry[architecture]
    # Three sources on their own subspaces: any network's group energies
    # identify them far better than chance (1/3), even after 3 epochs.
    assert classifier.score(X, y) > 0.8


def test_mixtures_of_two_sources_are_identified():
    X, y, _ = subspace_sources(seed=1)
    classifier = StructuredSparseClassifier(
        n_components_per_class=4, alpha=0.02, group_alpha=0.05, n_active=2, max_iter=40,
        random_state=0,
    )  # fmt: skip
    classifier.fit(X, y)
    rng = np.random.default_rng(2)
    first, second = rng.integers(0, 200, 100), rng.integers(200, 400, 100)
    mixtures = X[first] + X[second]  # sources 0 and 1 present in every row
    predicted = classifier.predict(mixtures)
    assert predicted.shape == (100, 3) and np.all(predicted.sum(axis=1) == 2)
    assert np.mean(np.all(predicted == [1, 1, 0], axis=1)) > 0.9


def test_pooling_sums_energies_over_windows():
    X, y, _ = subspace_sources(seed=3)
    params = dict(n_components_per_class=4, alpha=0.02, max_iter=5, random_state=0)
    single = StructuredSparseClassifier(**params).fit(X, y)
    pooled = StructuredSparseClassifier(**params, pooling_window=4).fit(X, y)
    energies = single.decision_function(X[:10])
    expected = np.concatenate(
        [np.repeat(energies[s : s + 4].sum(axis=0, keepdims=True), len(energies[s : s + 4]), 0)
         for s in (0, 4, 8)]
    )  # fmt: skip
    np.testing.assert_allclose(pooled.decision_function(X[:10]), expected, rtol=1e-6)


def test_discriminative_objective_trains_with_the_labels():
    X, y, _ = subspace_sources(seed=4)
    classifier = StructuredSparseClassifier(
        n_components_per_class=4, alpha=0.02, objective="discriminative", max_iter=20,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    assert classifier.encoder_.objective == "discriminative"
    assert classifier.score(X, y) > 0.95


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_active": 4}, "n_active"),
        ({"alpha": "scale"}, "alpha"),
        ({"group_alpha": -0.1}, "group_alpha"),
        ({"n_active": 2, "n_mixtures": 0}, "n_mixtures"),
        ({"objective": "lasso"}, "objective"),
        ({"n_layers": 0}, "n_layers"),
        ({"n_iter_no_change": 0}, "n_iter_no_change"),
        ({"early_stopping": True, "validation_fraction": 1.0}, "validation_fraction"),
        ({"input_noise": -1.0}, "input_noise"),
    ],
)
def test_structured_bad_parameters(params, match):
    X, y, _ = subspace_sources(n_per_class=20)
    with pytest.raises(ValueError, match=match):
        StructuredSparseClassifier(max_iter=1, **params).fit(X, y)


def test_training_settings_reach_every_encoder():
    X, y, _ = subspace_sources(n_per_class=40, seed=6)
    settings = dict(
        input_noise=0.1, tol=0.0, n_iter_no_change=3, early_stopping=True,
        validation_fraction=0.2,
    )  # fmt: skip
    classifier = StructuredSparseClassifier(
        n_components_per_class=4, alpha=0.02, max_iter=6, random_state=0, **settings
    ).fit(X, y)
    for encoder in [*classifier.class_encoders_, classifier.encoder_]:
        assert {key: encoder.get_params()[key] for key in settings} == settings
        assert len(encoder.validation_loss_curve_) == encoder.n_iter_


def test_with_n_active_sources_the_encoder_also_trains_on_mixtures():
    X, y, _ = subspace_sources(n_per_class=30, seed=5)
    classifier = StructuredSparseClassifier(n_active=2, random_state=0)
    mixed, indicator, _ = classifier._with_mixtures(X, y, 3)
    assert mixed.shape == (180, 20) and indicator.shape == (180, 3)
    np.testing.assert_array_equal(mixed[:90], X)
    np.testing.assert_array_equal(indicator[:90], np.eye(3)[y])
    assert np.all(indicator[90:].sum(axis=1) == 2)
    # Each mixture is the sum of one row of each of its two classes.
    for row, active in zip(mixed[90:], indicator[90:], strict=True):
        first, second = np.flatnonzero(active)
        sums = X[y == first][:, None] + X[y == second][None]
        assert np.any(np.all(np.isclose(sums, row), axis=2))


def test_n_mixtures_sets_how_many_mixtures_the_encoder_trains_on():
    X, y, _ = subspace_sources(n_per_class=30, seed=5)
    for n_mixtures, rows in [(None, 180), (7, 97), (400, 490)]:
        classifier = StructuredSparseClassifier(n_active=2, n_mixtures=n_mixtures, random_state=0)
        mixed, indicator, _ = classifier._with_mixtures(X, y, 3)
        assert mixed.shape == (rows, 20) and indicator.shape == (rows, 3)
        assert np.all(indicator[90:].sum(axis=1) == 2)
    single = StructuredSparseClassifier(n_active=1, n_mixtures=400)
    assert single._with_mixtures(X, y, 3)[0].shape == X.shape  # ignored for one source


# ------------------------------------------ default penalties follow the data
def reference_penalty(X):
    """0.1 times the median norm of the nonzero rows, by numpy."""
    norms = np.linalg.norm(np.asarray(X, dtype=np.float64), axis=1)
    return 0.1 * np.median(norms[norms > 0])


def test_typical_row_norm_is_the_median_norm_of_the_nonzero_rows():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((51, 7)) * rng.uniform(0.1, 10.0, (51, 1))
    padded = np.concatenate([X, np.zeros((60, 7))])  # more zero rows than others
    # At scales whose squares underflow or overflow, against the reference at scale 1.
    for rows, scale in [
        (X, 1.0),
        (padded, 1.0),
        (X[:, ::-1] * 1e-200, 1e-200),
        (X * 1e150, 1e150),
    ]:
        np.testing.assert_allclose(relative_penalty(rows), scale * reference_penalty(rows / scale))
    assert typical_row_norm(np.zeros((3, 4))) == 1.0


@pytest.mark.parametrize("scale", [2.0**-12, 2.0**12])
def test_structured_default_penalties_code_data_of_any_scale_alike(digits, scale):
    X_train, X_test, y_train, _ = digits
    params = dict(n_components_per_class=8, max_iter=5, random_state=0)
    unit = StructuredSparseClassifier(**params).fit(X_train, y_train)
    scaled = StructuredSparseClassifier(**params).fit(X_train * scale, y_train)
    assert unit.alpha_ == unit.group_alpha_ == pytest.approx(reference_penalty(X_train))
    # A power of two scales every step exactly: the same model, in the data's units.
    assert scaled.alpha_ == scale * unit.alpha_ and scaled.group_alpha_ == scale * unit.alpha_
    assert scaled.encoder_.alpha == scaled.alpha_
    assert all(encoder.alpha == scaled.alpha_ for encoder in scaled.class_encoders_)
    np.testing.assert_array_equal(scaled.predict(X_test * scale), unit.predict(X_test))
    np.testing.assert_allclose(
        scaled.decision_function(X_test * scale) / scale,
        unit.decision_function(X_test),
        rtol=1e-5,
        atol=1e-6,
    )


def test_structured_default_penalties_on_digits_a_thousand_times_larger():
    # Digits as loaded times 1,000 (rows of norm about 60,000): penalties of
    # 0.1 in the data's units, the former defaults, barely penalise them and
    # stay below this bound.
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    params = dict(n_components_per_class=8, max_iter=20, random_state=0)
    default = StructuredSparseClassifier(**params).fit(X_train * 1000.0, y_train)
    assert default.alpha_ == pytest.approx(reference_penalty(X_train * 1000.0))
    assert default.score(X_test * 1000.0, y_test) > 0.9


def test_explicit_penalties_win_over_auto():
    X, y, _ = subspace_sources(n_per_class=30, seed=3)
    classifier = StructuredSparseClassifier(
        n_components_per_class=4, alpha=0.02, max_iter=2, random_state=0
    ).fit(X, y)
    assert classifier.alpha_ == 0.02 and classifier.encoder_.alpha == 0.02
    assert classifier.group_alpha_ == pytest.approx(reference_penalty(X))
    assert classifier.encoder_.group_alpha == classifier.group_alpha_
    assert classifier.get_params()["alpha"] == 0.02
    assert classifier.get_params()["group_alpha"] == "auto"


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_the_default_encoder_codes_data_of_any_scale_alike(digits, scale):
    # On rows of unit norm and smaller, the former default encoder (alpha=1.0)
    # zeroed every code and classified at chance.
    X_train, X_test, y_train, y_test = digits
    # The default encoder has no random_state: it draws from the global generators.
    np.random.seed(0)  # noqa: NPY002
    torch.manual_seed(0)
    classifier = SparseCodingClassifier().fit(X_train * scale, y_train)
    expected = reference_penalty(X_train * scale)
    assert all(encoder.alpha == pytest.approx(expected) for encoder in classifier.encoders_)
    assert classifier.get_params()["encoder"] is None
    assert classifier.score(X_test * scale, y_test) > 0.9


def test_partial_fit_takes_the_default_penalty_from_its_first_rows(digits):
    X_train, _, y_train, _ = digits
    classifier = SparseCodingClassifier()
    classifier.partial_fit(X_train[:300], y_train[:300], classes=np.unique(y_train))
    expected = reference_penalty(X_train[:300])
    assert all(encoder.alpha == pytest.approx(expected) for encoder in classifier.encoders_)
    classifier.partial_fit(X_train[300:] * 8.0, y_train[300:])
    assert all(encoder.alpha == pytest.approx(expected) for encoder in classifier.encoders_)


# --------------------------------------------------------- Mahalanobis metric
def nuisance_problem():
    """Classes differ in 10 low-variance dimensions; 10 loud dimensions are shared noise."""
    rng = np.random.default_rng(0)
    X, y = [], []
    for label in range(3):
        basis = rng.standard_normal((2, 10))
        basis /= np.linalg.norm(basis, axis=1, keepdims=True)
        signal = 0.5 * rng.standard_normal((300, 2)) @ basis
        X.append(np.hstack([signal, rng.standard_normal((300, 10))]))
        y.append(np.full(300, label))
    X, y = np.vstack(X), np.concatenate(y)
    return train_test_split(X, y, random_state=0, stratify=y)


def small_encoder():
    return LearnedLassoEncoder(
        n_components=8, alpha=0.1, architecture="lista", max_iter=30, random_state=0
    )


def test_mahalanobis_metric_learns_to_separate_the_classes():
    X_train, X_test, y_train, y_test = nuisance_problem()
    euclidean = SparseCodingClassifier(small_encoder()).fit(X_train, y_train)
    learned = SparseCodingClassifier(small_encoder(), metric="mahalanobis").fit(X_train, y_train)
    assert not hasattr(euclidean, "projection_")
    assert learned.score(X_test, y_test) > euclidean.score(X_test, y_test) + 0.3
    assert learned.score(X_test, y_test) > 0.9
    curve = learned.metric_loss_curve_
    assert len(curve) == 30 and curve[-1] < 0.5 * curve[0]
    Q = learned.projection_
    np.testing.assert_allclose(np.linalg.norm(Q), np.sqrt(20), rtol=1e-5)
    # The decision function is minus each class's objective with the fitting
    # term seen through Q, computed here by hand.
    X = X_test[:25]
    for k, encoder in enumerate(learned.encoders_):
        code = encoder.transform(X).astype(np.float64)
        residual = X - code @ encoder.components_
        expected = 0.5 * np.sum((residual @ Q.T) ** 2, axis=1) + 0.1 * np.abs(code).sum(axis=1)
        np.testing.assert_allclose(-learned.decision_function(X)[:, k], expected, rtol=1e-5)
    restored = pickle.loads(pickle.dumps(learned))
    np.testing.assert_array_equal(restored.predict(X_test), learned.predict(X_test))


def test_mahalanobis_partial_fit_trains_q_once_every_class_has_rows():
    X_train, _, y_train, _ = nuisance_problem()
    classifier = SparseCodingClassifier(small_encoder(), metric="mahalanobis")
    zero = y_train == 0
    classifier.partial_fit(X_train[zero], y_train[zero], classes=[0, 1, 2])
    assert classifier.projection_ is None and classifier.metric_loss_curve_ == []
    classifier.partial_fit(X_train, y_train)
    first = classifier.projection_.copy()
    classifier.partial_fit(X_train, y_train)
    assert len(classifier.metric_loss_curve_) == 2
    assert not np.allclose(first, classifier.projection_)


def test_refitting_with_the_euclidean_metric_drops_the_projection():
    X_train, _, y_train, _ = nuisance_problem()
    classifier = SparseCodingClassifier(small_encoder(), metric="mahalanobis", metric_max_iter=1)
    classifier.fit(X_train, y_train).set_params(metric="euclidean").fit(X_train, y_train)
    assert not hasattr(classifier, "projection_")


def test_unknown_metric_is_refused():
    X_train, _, y_train, _ = nuisance_problem()
    with pytest.raises(ValueError, match="metric"):
        SparseCodingClassifier(small_encoder(), metric="cosine").fit(X_train, y_train)


def test_an_online_modeler_is_refused_as_the_encoder_template():
    # It trains on a stream, not per class: refused by name, before any fit.
    from sklearn_lsc import OnlineSparseModeler

    X = np.random.default_rng(0).standard_normal((40, 6))
    y = np.arange(40) % 2
    model = SparseCodingClassifier(encoder=OnlineSparseModeler(n_components=4, alpha=0.1))
    with pytest.raises(TypeError, match="'encoder' parameter"):
        model.fit(X, y)
    assert not hasattr(model, "classes_")
