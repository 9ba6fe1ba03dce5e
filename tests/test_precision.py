"""transform_dtype: bfloat16 only where it is native, and "auto" that measures."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

import sklearn_lsc._inference as inference
from sklearn_lsc import LearnedLassoEncoder
from sklearn_lsc._hardware import native_bfloat16
from sklearn_lsc._inference import choose_precision
from sklearn_lsc.solvers import lasso_objective


def fitted_encoder(**params):
    rng = np.random.default_rng(0)
    D = rng.standard_normal((32, 16)).astype(np.float32)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    codes = rng.standard_normal((400, 32)) * (rng.random((400, 32)) < 0.1)
    X = (codes @ D).astype(np.float32)
    encoder = LearnedLassoEncoder(dictionary=D, alpha=0.1, max_iter=3, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return encoder.fit(X), X, D


def test_bfloat16_where_it_is_emulated_warns_with_the_reason(monkeypatch):
    monkeypatch.setattr(inference, "native_bfloat16", lambda device: (False, "no BF16 here"))
    encoder, X, _ = fitted_encoder()
    with pytest.warns(UserWarning, match="no BF16 here.*emulated.*'auto'"):
        encoder.set_params(transform_dtype="bfloat16").transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per copy of the network, not per call
        encoder.transform(X)


def test_bfloat16_where_it_is_native_does_not_warn(monkeypatch):
    monkeypatch.setattr(inference, "native_bfloat16", lambda device: (True, ""))
    encoder, X, _ = fitted_encoder(transform_dtype="bfloat16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoder.transform(X)


def test_auto_keeps_full_precision_where_bfloat16_is_emulated(monkeypatch):
    monkeypatch.setattr(inference, "native_bfloat16", lambda device: (False, "no BF16 here"))
    encoder, X, _ = fitted_encoder(transform_dtype="auto")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning: "auto" never asked for bfloat16
        code = encoder.transform(X)
    np.testing.assert_array_equal(code, encoder.set_params(transform_dtype=None).transform(X))
    assert encoder._auto_precision == {"cpu": None}


def test_auto_measures_once_per_device_and_codes_within_one_percent(monkeypatch):
    # Measured wherever bfloat16 is native (on a CPU without it "auto" keeps
    # full precision unmeasured: the test above); here as if it were.
    monkeypatch.setattr(inference, "native_bfloat16", lambda device: (True, ""))
    encoder, X, D = fitted_encoder(transform_dtype="auto")
    calls = []
    original = LearnedLassoEncoder._measure_precision

    def counting(self, *args):
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(LearnedLassoEncoder, "_measure_precision", counting)
    code = encoder.transform(X)
    encoder.transform(X[:100])
    assert len(calls) == 1
    choice = encoder._auto_precision["cpu"]
    assert choice in (None, "bfloat16")
    expected = encoder.set_params(transform_dtype=choice).transform(X)
    np.testing.assert_array_equal(code, expected)
    full = encoder.set_params(transform_dtype=None).transform(X)
    assert lasso_objective(X, code, D, 0.1) <= 1.01 * lasso_objective(X, full, D, 0.1)
    # The choice is this machine's: not saved with the model.
    assert "_auto_precision" not in encoder.__getstate__()


def test_auto_needs_enough_rows_to_measure_and_a_refit_measures_anew(monkeypatch):
    monkeypatch.setattr(inference, "native_bfloat16", lambda device: (True, ""))
    encoder, X, _ = fitted_encoder(transform_dtype="auto")
    encoder.transform(X[:10])  # too few rows: full precision, nothing decided
    assert encoder._auto_precision == {}
    encoder.transform(X)
    assert list(encoder._auto_precision) == ["cpu"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        encoder.fit(X)
    assert "_auto_precision" not in encoder.__dict__


@pytest.mark.parametrize(
    "times_and_objectives, choice",
    [
        ((1.0, 10.0, 0.5, 10.05), "bfloat16"),  # twice as fast, 0.5% worse
        ((1.0, 10.0, 0.9, 10.0), None),  # not fast enough
        ((1.0, 10.0, 0.5, 10.2), None),  # 2% worse
        ((1.0, -10.0, 0.5, -9.95), "bfloat16"),  # negative objectives: by magnitude
    ],
)
def test_the_choice_rule(times_and_objectives, choice):
    assert choose_precision(*times_and_objectives) == choice


def test_native_bfloat16_answers_for_the_cpu():
    native, reason = native_bfloat16(torch.device("cpu"))
    assert native in (True, False, None) and isinstance(reason, str)
