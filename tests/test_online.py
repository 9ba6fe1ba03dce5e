"""OnlineSparseModeler: streaming steps, no exact solver, adaptation, the contract."""

import pickle

import numpy as np
import pytest
import sklearn.decomposition
import torch

from sklearn_lsc import OnlineSparseModeler, hilasso_objective, lasso_objective
from sklearn_lsc import solvers as solvers_module
from sklearn_lsc._networks import LISTA, LBCoFB, LCoD, RescaledLISTA
from sklearn_lsc._torch_utils import threads_for_products

SMALL = dict(n_components=12, alpha=0.1, window_size=60, step_size=20, random_state=0)


def sparse_stream(n_per_regime=400, n_features=8, n_components=12, n_regimes=2, seed=0):
    """Signals sparse under a different random dictionary in each regime."""
    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(n_regimes):
        D = rng.standard_normal((n_components, n_features))
        D /= np.linalg.norm(D, axis=1, keepdims=True)
        code = rng.standard_normal((n_per_regime, n_components))
        code *= rng.random((n_per_regime, n_components)) < 0.2
        blocks.append(code @ D + 0.01 * rng.standard_normal((n_per_regime, n_features)))
    return np.concatenate(blocks)


def state(model):
    return (
        model.components_.copy(),
        list(model.objective_curve_),
        model.n_steps_,
        model.n_samples_seen_,
        model._pending.copy(),
        model._window.copy(),
    )


def assert_same_state(a, b):
    for left, right in zip(a, b, strict=True):
        np.testing.assert_array_equal(left, right)


# ------------------------------------------------------------- streaming
def test_no_exact_solver_runs_anywhere(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an exact solver ran")

    for name in ("_solve", "ista", "cod", "bcofb", "sparse_encode"):
        monkeypatch.setattr(solvers_module, name, refuse)
    monkeypatch.setattr(sklearn.decomposition, "sparse_encode", refuse)
    X = sparse_stream()
    for params in ({}, {"groups": 4, "group_alpha": 0.1}):
        model = OnlineSparseModeler(**SMALL, **params).fit(X)
        assert model.n_steps_ == 40
        model.transform(X[:5])


def test_chunks_of_any_size_give_the_same_model():
    X = sparse_stream()
    by_steps = OnlineSparseModeler(**SMALL)
    for start in range(0, 800, 20):
        by_steps.partial_fit(X[start : start + 20])
    # Same first chunk (it seeds the dictionary), then chunks unaligned with steps.
    by_chunks = OnlineSparseModeler(**SMALL).partial_fit(X[:20])
    for chunk in np.split(X[20:], [7, 50, 51, 130, 400, 777]):
        by_chunks.partial_fit(chunk)
    assert by_chunks.n_steps_ == by_steps.n_steps_ == 40
    np.testing.assert_array_equal(by_chunks.components_, by_steps.components_)
    np.testing.assert_array_equal(by_chunks.objective_curve_, by_steps.objective_curve_)
    np.testing.assert_array_equal(by_chunks.transform(X[:9]), by_steps.transform(X[:9]))


def test_vectors_wait_for_a_full_step():
    X = sparse_stream()
    model = OnlineSparseModeler(**SMALL).partial_fit(X[:15])
    assert model.n_steps_ == 0 and model.objective_curve_ == [] and model.n_samples_seen_ == 15
    model.transform(X[:3])  # usable before the first step: initialized
    model.partial_fit(X[15:47])
    assert model.n_steps_ == 2 and model._pending.shape == (7, 8)
    assert model._window.shape == (40, 8)
    model.partial_fit(X[47:200])
    assert model._window.shape == (60, 8)  # the window holds window_size vectors
    np.testing.assert_array_equal(model._window, X[140:200])


def test_objective_curve_records_unseen_vectors_before_adapting():
    X = sparse_stream()
    model = OnlineSparseModeler(**SMALL).partial_fit(X[:40])
    next_step = X[40:60]
    expected = lasso_objective(next_step, model.transform(next_step), model.components_, 0.1)
    np.testing.assert_allclose(-model.score(next_step), expected, rtol=1e-10)
    model.partial_fit(next_step)
    np.testing.assert_allclose(model.objective_curve_[-1], expected, rtol=1e-6)


def test_model_adapts_within_each_regime():
    X = sparse_stream(n_per_regime=1000)
    model = OnlineSparseModeler(**SMALL).fit(X)
    curve = np.asarray(model.objective_curve_)
    per_regime = curve.reshape(2, -1)
    for regime in per_regime:
        assert regime[-10:].mean() < 0.7 * regime[:5].mean()
    # The change of regime shows as a jump: the model had not seen such data.
    assert per_regime[1, :3].mean() > 1.5 * per_regime[0, -10:].mean()
    assert np.all(np.linalg.norm(model.components_, axis=1) <= 1 + 1e-6)


def test_fit_is_one_pass_of_partial_fit_and_starts_afresh():
    X = sparse_stream()
    fitted = OnlineSparseModeler(**SMALL).fit(X[:300]).fit(X)
    streamed = OnlineSparseModeler(**SMALL).partial_fit(X)
    np.testing.assert_array_equal(fitted.components_, streamed.components_)
    np.testing.assert_array_equal(fitted.objective_curve_, streamed.objective_curve_)
    assert fitted.n_samples_seen_ == 800


def test_groups_make_the_objective_hilasso_and_the_network_structured():
    X = sparse_stream()
    params = dict(SMALL, groups=4, group_alpha=0.2)
    model = OnlineSparseModeler(**params).fit(X)
    assert isinstance(model.network_, LBCoFB) and len(model.groups_) == 4
    expected = hilasso_objective(
        X, model.transform(X), model.components_, alpha=0.1, groups=4, group_alpha=0.2
    )
    np.testing.assert_allclose(-model.score(X), expected, rtol=1e-10)
    assert isinstance(OnlineSparseModeler(**SMALL).fit(X).network_, LISTA)
    lcod = OnlineSparseModeler(**SMALL, architecture="lcod").fit(X)
    assert isinstance(lcod.network_, LCoD) and lcod.groups_ is None
    # Rescaled LISTA's factors minimise the HiLasso objective with groups, and
    # its residuals read the adapted dictionary.
    rescaled = OnlineSparseModeler(**params, architecture="rescaled_lista").fit(X)
    assert isinstance(rescaled.network_, RescaledLISTA) and rescaled.network_.grouped
    np.testing.assert_allclose(
        rescaled.network_.dictionary.numpy(), rescaled.components_, rtol=1e-6, atol=1e-7
    )
    assert not OnlineSparseModeler(**SMALL, architecture="rescaled_lista").fit(X).network_.grouped


def test_given_initial_dictionary_and_forgetting_factor():
    X = sparse_stream()
    D = np.random.default_rng(5).standard_normal((12, 8))
    model = OnlineSparseModeler(**SMALL, dictionary_init=D, forgetting_factor=0.5)
    model.partial_fit(X[:10])
    np.testing.assert_array_equal(model.components_, D)  # before the first step
    model.partial_fit(X[10:])
    assert not np.allclose(model.components_, D)
    assert model._dictionary_update.forgetting_factor == 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved_and_inputs_are_untouched(dtype):
    X = sparse_stream().astype(dtype)
    X_before = X.copy()
    model = OnlineSparseModeler(**SMALL).fit(X)
    assert model.components_.dtype == dtype
    assert model.transform(X).dtype == dtype
    model.partial_fit(X.astype(np.float64 if dtype == np.float32 else np.float32))
    assert model.transform(X).dtype == dtype
    np.testing.assert_array_equal(X, X_before)


def test_pickled_mid_stream_continues_identically():
    X = sparse_stream()
    model = OnlineSparseModeler(**SMALL).partial_fit(X[:333])
    restored = pickle.loads(pickle.dumps(model))
    model.partial_fit(X[333:])
    restored.partial_fit(X[333:])
    np.testing.assert_array_equal(restored.components_, model.components_)
    np.testing.assert_array_equal(restored.objective_curve_, model.objective_curve_)


def test_verbose_reports_steps(capsys):
    OnlineSparseModeler(**SMALL, verbose=1).fit(sparse_stream()[:60])
    assert capsys.readouterr().out.count("step") == 3


def test_small_steps_run_on_one_cpu_thread_and_restore_the_count(monkeypatch):
    seen = []
    original = OnlineSparseModeler._adapt

    def spy(self, new):
        seen.append(torch.get_num_threads())
        return original(self, new)

    monkeypatch.setattr(OnlineSparseModeler, "_adapt", spy)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        OnlineSparseModeler(**SMALL).fit(sparse_stream()[:100])
        assert seen == [1] * 5 and torch.get_num_threads() == 2
        with threads_for_products(2**22, torch.device("cpu")):
            assert torch.get_num_threads() == 2  # large products keep every thread
    finally:
        torch.set_num_threads(previous)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "chunk, match",
    [
        (np.ones((5, 7)), "features"),
        (np.full((5, 8), np.nan), "NaN"),
        (np.full((5, 8), np.inf), "infinity"),
        (np.ones(8), "2D array"),
    ],
)
def test_a_rejected_chunk_leaves_the_model_unchanged(chunk, match):
    X = sparse_stream()
    model = OnlineSparseModeler(**SMALL).partial_fit(X[:75])
    before = state(model)
    with pytest.raises(ValueError, match=match):
        model.partial_fit(chunk)
    assert_same_state(state(model), before)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"step_size": 100, "window_size": 50}, "step_size"),
        ({"step_size": 0}, "step_size"),
        ({"window_size": -1}, "window_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"n_layers": 0}, "n_layers"),
        ({"dictionary_init": np.ones((12, 5))}, "dictionary_init"),
        ({"dictionary_init": np.ones((7, 8))}, "dictionary_init"),
        ({"dictionary_init": "pca"}, "dictionary_init"),
        ({"architecture": "bcofb"}, "architecture.*groups"),
        ({"groups": 5}, "groups"),
        ({"forgetting_factor": 1.5}, "forgetting_factor"),
        ({"group_alpha": -1.0}, "group_alpha"),
        ({"learning_rate": 0.0}, "learning_rate"),
    ],
)
def test_bad_parameters_are_refused_naming_them(params, match):
    model = OnlineSparseModeler(**{**SMALL, **params})
    with pytest.raises(ValueError, match=match):
        model.partial_fit(sparse_stream()[:30])
    assert not hasattr(model, "components_")


def test_bfloat16_transform_of_the_stream_model():
    X = sparse_stream()
    model = OnlineSparseModeler(**SMALL).fit(X)
    full = model.transform(X)
    rounded = model.set_params(transform_dtype="bfloat16").transform(X)
    assert rounded.dtype == X.dtype and not np.array_equal(rounded, full)
    D = model.components_
    assert lasso_objective(X, rounded, D, 0.1) == pytest.approx(
        lasso_objective(X, full, D, 0.1), rel=0.02
    )
