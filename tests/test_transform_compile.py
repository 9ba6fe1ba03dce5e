"""``transform_compile`` and the cached transform network (bfloat16 copy, compiled module)."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch

from sklearn_lsc import LearnedHiLassoEncoder, LearnedLassoEncoder, OnlineSparseModeler


def _signals(n_samples=60, n_features=12, seed=0):
    return np.random.RandomState(seed).randn(n_samples, n_features).astype(np.float32)


def _lasso_encoder(**params):
    return LearnedLassoEncoder(
        n_components=16, alpha=0.1, n_layers=2, max_iter=3, random_state=0, **params
    )


@pytest.fixture(autouse=True)
def torch_pass_only(monkeypatch):
    """Eager runs take the torch pass that torch.compile compiles.

    Not the fused numba kernels, another pass whose float64 sums round
    differently (``tests/test_fused.py`` compares the two).
    """
    monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")


@pytest.fixture
def compile_calls(monkeypatch):
    """torch.compile with the "eager" backend (no code generation), counting its calls."""
    calls = []
    real_compile = torch.compile

    def counting_compile(module, **kwargs):
        calls.append(module)
        return real_compile(module, backend="eager", **kwargs)

    monkeypatch.setattr(torch, "compile", counting_compile)
    return calls


def _eager_codes(encoder, X, dtype=None):
    """The codes of the fitted network run by hand, in ``dtype`` (default: X's)."""
    network = encoder.network_
    dtype = dtype or torch.float32
    if dtype == torch.bfloat16:
        network = copy.deepcopy(network).to(dtype)
    scale = encoder.signal_scale_  # the network codes X / scale (a power of two)
    with torch.inference_mode():
        code = network(torch.from_numpy(X / scale).to(dtype)) * scale
    return code.float().numpy()


def test_compiled_transform_with_inductor_equals_eager():
    # The real compiler (inductor, C++ code on the CPU): one small LISTA,
    # whose compiled code must read its parameters and the dictionary (a
    # buffer its layers use) as training leaves them, not as they were when
    # it compiled.
    X = _signals()
    encoder = _lasso_encoder(architecture="lista", transform_compile=True).fit(X)
    code = encoder.transform(X)
    assert code.dtype == np.float32
    np.testing.assert_allclose(code, _eager_codes(encoder, X), rtol=1e-5, atol=1e-6)
    assert np.count_nonzero(code) > 0
    dictionary = encoder.components_.copy()
    encoder.partial_fit(X)
    assert not np.allclose(encoder.components_, dictionary)  # the dictionary learns too
    updated = encoder.transform(X)
    assert not np.allclose(updated, code)
    np.testing.assert_allclose(updated, _eager_codes(encoder, X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda **p: _lasso_encoder(**p),
        lambda **p: _lasso_encoder(architecture="lista", **p),
        lambda **p: _lasso_encoder(architecture="rescaled_lista", **p),
        lambda **p: LearnedHiLassoEncoder(
            groups=4, n_components=16, alpha=0.05, group_alpha=0.1, n_layers=2, max_iter=3,
            random_state=0, **p,
        ),
    ],
    ids=["lcod", "lista", "rescaled_lista", "lbcofb"],
)  # fmt: skip
def test_compiled_module_is_kept_and_follows_training(make, compile_calls):
    X = _signals()
    encoder = make(transform_compile=True).fit(X)
    first = encoder.transform(X)
    np.testing.assert_allclose(first, _eager_codes(encoder, X), rtol=1e-5, atol=1e-6)
    encoder.transform(X[:7])
    encoder.score(X)
    encoder.partial_fit(X)  # the parameters change in place
    second = encoder.transform(X)
    assert len(compile_calls) == 1  # one compiled module for every call and shape
    assert not np.allclose(first, second)
    np.testing.assert_allclose(second, _eager_codes(encoder, X), rtol=1e-5, atol=1e-6)
    encoder.fit(X[::-1])  # a new network: compiled anew
    np.testing.assert_allclose(
        encoder.transform(X), _eager_codes(encoder, X), rtol=1e-5, atol=1e-6
    )
    assert len(compile_calls) == 2 and compile_calls[1] is encoder.network_


def test_bfloat16_copy_is_made_once_and_follows_training():
    X = _signals()
    encoder = _lasso_encoder(transform_dtype="bfloat16").fit(X)
    encoder.transform(X)
    copy_before = encoder._transform_module[2]
    encoder.transform(X[:5])
    assert encoder._transform_module[2] is copy_before
    assert copy_before.W.dtype == torch.bfloat16
    assert encoder.network_.W.dtype == torch.float32  # the fitted network untouched
    weights_before = copy_before.W.clone()
    encoder.partial_fit(X)
    code = encoder.transform(X)
    # Refreshed in place (code compiled for the copy stays valid), to the
    # rounded values of the trained network.
    assert encoder._transform_module[2] is copy_before
    assert not torch.equal(copy_before.W, weights_before)
    np.testing.assert_array_equal(code, _eager_codes(encoder, X, torch.bfloat16))


def test_bfloat16_copy_made_under_inference_mode_follows_training():
    # A copy made under the caller's torch.inference_mode would hold
    # inference tensors, which cannot be refreshed in place outside it.
    X = _signals()
    encoder = _lasso_encoder(transform_dtype="bfloat16").fit(X)
    with torch.inference_mode():
        encoder.transform(X)
    encoder.partial_fit(X)
    np.testing.assert_array_equal(encoder.transform(X), _eager_codes(encoder, X, torch.bfloat16))


def test_bfloat16_copy_follows_the_online_modeler(compile_calls):
    X = _signals(n_samples=200)
    model = OnlineSparseModeler(
        n_components=16, alpha=0.1, step_size=50, window_size=100, random_state=0,
        transform_dtype="bfloat16", transform_compile=True,
    ).partial_fit(X[:100])  # fmt: skip
    before = model.transform(X)
    model.partial_fit(X[100:])  # the dictionary and the network adapt in place
    after = model.transform(X)
    assert len(compile_calls) == 1
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, _eager_codes(model, X, torch.bfloat16))


def test_switching_the_options_on_a_fitted_encoder(compile_calls):
    X = _signals()
    encoder = _lasso_encoder().fit(X)
    eager = encoder.transform(X)
    assert "_transform_module" not in encoder.__dict__  # the plain path caches nothing
    encoder.set_params(transform_compile=True)
    np.testing.assert_allclose(encoder.transform(X), eager, rtol=1e-5, atol=1e-6)
    encoder.set_params(transform_compile=False)
    np.testing.assert_array_equal(encoder.transform(X), eager)
    assert len(compile_calls) == 1


def test_compiler_failure_warns_and_runs_uncompiled(monkeypatch):
    class Broken(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, X):
            raise RuntimeError("backend compiler failed\nlong traceback")

    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: Broken(module))
    X = _signals()
    encoder = _lasso_encoder(transform_compile=True).fit(X)
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*backend compiler failed"):
        code = encoder.transform(X)
    np.testing.assert_array_equal(code, _eager_codes(encoder, X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(encoder.transform(X), code)  # no second warning


def test_a_network_error_is_not_taken_for_a_compiler_failure(monkeypatch):
    X = _signals()
    encoder = _lasso_encoder().fit(X)
    monkeypatch.setattr(type(encoder.network_), "forward", _raise_value_error)
    with pytest.raises(ValueError, match="from the network"):
        encoder.transform(X)


def _raise_value_error(self, X):
    raise ValueError("from the network")


def test_pickle_drops_the_compiled_module(compile_calls):
    X = _signals()
    encoder = _lasso_encoder(transform_compile=True, transform_dtype="bfloat16").fit(X)
    code = encoder.transform(X)
    restored = pickle.loads(pickle.dumps(encoder))
    assert "_transform_module" not in restored.__dict__
    assert "_transform_module" in encoder.__dict__  # pickling leaves the original alone
    np.testing.assert_array_equal(restored.transform(X), code)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_bad_transform_compile_is_refused(value):
    X = _signals()
    with pytest.raises(ValueError, match="transform_compile"):
        _lasso_encoder(transform_compile=value).fit(X)
    encoder = _lasso_encoder().fit(X)
    encoder.transform_compile = value
    with pytest.raises(ValueError, match="transform_compile"):
        encoder.transform(X)
