"""Saved estimators hold numpy arrays and plain values: loading runs no torch.load."""

import pickle
import warnings

import numpy as np
import pytest
import torch

from sklearn_lsc import (
    LearnedHiLassoEncoder,
    LearnedLassoEncoder,
    OnlineSparseModeler,
    SparseCodingClassifier,
    StructuredSparseClassifier,
)

X = np.random.default_rng(0).standard_normal((200, 8)).astype(np.float32)
Y = np.repeat([0, 1], 100)

ESTIMATORS = {
    "lasso-rescaled": lambda: LearnedLassoEncoder(n_components=12, alpha=0.1, max_iter=2),
    "lasso-lcod-armijo": lambda: LearnedLassoEncoder(
        n_components=12, alpha=0.1, max_iter=2, architecture="lcod", solver="armijo"
    ),
    "lasso-step-sgd": lambda: LearnedLassoEncoder(
        n_components=12, alpha=0.1, max_iter=2, architecture="step_lista", solver="sgd"
    ),
    "hilasso-bcofb": lambda: LearnedHiLassoEncoder(
        n_components=12, groups=4, alpha=0.1, max_iter=2
    ),
    "hilasso-rescaled": lambda: LearnedHiLassoEncoder(
        n_components=12, groups=4, alpha=0.1, max_iter=2, architecture="rescaled_lista"
    ),
    "hilasso-ista": lambda: LearnedHiLassoEncoder(
        n_components=12, groups=4, alpha=0.1, max_iter=2, architecture="ista"
    ),
    "online": lambda: OnlineSparseModeler(n_components=12, alpha=0.1, step_size=20),
    "online-groups": lambda: OnlineSparseModeler(
        n_components=12, alpha=0.1, groups=4, step_size=20
    ),
    "classifier": lambda: SparseCodingClassifier(
        encoder=LearnedLassoEncoder(n_components=6, alpha=0.1, max_iter=2, random_state=0),
        metric="mahalanobis",
    ),
    "structured-classifier": lambda: StructuredSparseClassifier(
        n_components_per_class=4, alpha=0.1, max_iter=2
    ),
}


def fitted(name):
    estimator = ESTIMATORS[name]()
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short fits: convergence warnings are expected
        return estimator.fit(X, Y) if hasattr(estimator, "predict") else estimator.fit(X)


def output(estimator):
    if hasattr(estimator, "decision_function"):
        return estimator.decision_function(X)
    return estimator.transform(X)


def plain_types(value, found):
    """The types of everything inside a pickled state (recursing into containers)."""
    found.add(type(value))
    if isinstance(value, dict):
        for item in value.values():
            plain_types(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            plain_types(item, found)
    elif hasattr(value, "__getstate__") and type(value).__module__.startswith("sklearn_lsc"):
        plain_types(value.__getstate__(), found)
    return found


@pytest.fixture
def no_torch_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load was called")

    monkeypatch.setattr(torch, "load", refuse)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_the_pickled_state_holds_numpy_arrays_and_plain_values_only(name):
    estimator = fitted(name)
    allowed = (
        np.ndarray, np.random.RandomState, np.generic, int, float, bool, str, bytes,
        type(None), list, tuple, dict,
    )  # fmt: skip
    found = plain_types(estimator.__getstate__(), set())
    foreign = {
        kind
        for kind in found
        if not issubclass(kind, allowed) and not kind.__module__.startswith("sklearn_lsc")
    }
    assert not foreign


@pytest.mark.parametrize("name", ESTIMATORS)
def test_unpickling_runs_no_torch_load_and_training_continues_alike(name, no_torch_load):
    estimator = fitted(name)
    loaded = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(output(loaded), output(estimator))
    if hasattr(estimator, "predict"):
        return
    # The optimizer's moments and the dictionary statistics came back too:
    # one more pass of training gives the same model.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.partial_fit(X)
        loaded.partial_fit(X)
    np.testing.assert_array_equal(output(loaded), output(estimator))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_skops_persists_every_estimator_trusting_only_sklearn_lsc_types(name, tmp_path):
    sio = pytest.importorskip("skops.io")
    estimator = fitted(name)
    path = tmp_path / "model.skops"
    sio.dump(estimator, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted and all(kind.startswith("sklearn_lsc.") for kind in untrusted)
    loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(output(loaded), output(estimator))


def test_a_saved_network_naming_a_foreign_class_is_refused():
    state = fitted("lasso-rescaled").__getstate__()
    state["_torch_state"]["network_"]["class"] = "Module"
    with pytest.raises(ValueError, match="Unknown network class 'Module'"):
        LearnedLassoEncoder().__setstate__(state)


def test_the_old_format_with_a_torch_blob_is_refused_unread(no_torch_load):
    state = {**LearnedLassoEncoder().__dict__, "_torch_blob": b"anything"}
    with pytest.raises(ValueError, match="older sklearn-lsc"):
        LearnedLassoEncoder().__setstate__(state)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_a_networks_learning_rate_scale_survives_saving_and_rate_changes(solver):
    encoder = LearnedLassoEncoder(
        n_components=12, alpha=0.1, max_iter=2, architecture="hyper_lista", solver=solver
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder.set_params(random_state=0).fit(X)
    scale = type(encoder.network_).learning_rate_scale
    assert scale > 1
    restored = pickle.loads(pickle.dumps(encoder))
    for estimator in (encoder, restored):
        estimator.set_params(learning_rate=2e-3)
        estimator.partial_fit(X)  # partial_fit trains at the current learning_rate
        (group,) = estimator._optimizer.param_groups
        assert group["lr"] == pytest.approx(2e-3 * scale)
    np.testing.assert_allclose(restored.transform(X), encoder.transform(X), atol=1e-6)
