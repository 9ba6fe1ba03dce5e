"""Property-based tests: random shapes, dtypes, scales, non-finite values and parameters.

Whatever is thrown at a solver or an estimator, it answers with a clear
``ValueError``/``TypeError`` or with finite output of the right shape and
dtype; it never modifies its inputs, and a call that raises leaves the
estimator as it was.
"""

import warnings

import numpy as np
import pytest
from _state import assert_same, snapshot

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sklearn_lsc import (  # noqa: E402
    LearnedHiLassoEncoder,
    LearnedLassoEncoder,
    OnlineSparseModeler,
    sparse_encode,
)
from sklearn_lsc._networks import NETWORKS, STRUCTURED_NETWORKS  # noqa: E402

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None)
CLEAR_ERRORS = (ValueError, TypeError)


@st.composite
def arrays(draw, n_rows=None, n_columns=None):
    """A random array with a random scale, dtype and, sometimes, a NaN or an infinity."""
    n_rows = draw(st.integers(1, 24)) if n_rows is None else n_rows
    n_columns = draw(st.integers(1, 8)) if n_columns is None else n_columns
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    scale = 10.0 ** draw(st.integers(-8, 8))
    seed = draw(st.integers(0, 2**16))
    values = np.random.default_rng(seed).standard_normal((n_rows, n_columns)) * scale
    values = values.astype(dtype)
    poison = draw(st.sampled_from([None, None, None, np.nan, np.inf, -np.inf]))
    if poison is not None:
        row, column = draw(st.integers(0, n_rows - 1)), draw(st.integers(0, n_columns - 1))
        values[row, column] = poison
    return values


def _finite_output(output, shape, dtype):
    assert output.shape == shape and output.dtype == dtype
    assert np.all(np.isfinite(output))


@SETTINGS
@given(
    data=st.data(),
    algorithm=st.sampled_from(["fista", "ista", "cod", "bcofb"]),
    alpha=st.floats(0.0, 10.0),
)
def test_sparse_encode_answers_clearly(data, algorithm, alpha):
    X = data.draw(arrays())
    dictionary = data.draw(arrays(n_columns=X.shape[1]))
    X_before, dictionary_before = X.copy(), dictionary.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings are answers too
        try:
            code = sparse_encode(
                X, dictionary, alpha=alpha * float(np.nanmax(np.abs(X))) if X.size else alpha,
                algorithm=algorithm, max_iter=50,
            )  # fmt: skip
        except CLEAR_ERRORS:
            code = None
    if code is not None:
        _finite_output(code, (X.shape[0], dictionary.shape[0]), X.dtype)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(dictionary, dictionary_before)


def _estimator(kind, n_components, architecture_index, n_layers, alpha):
    if kind == "lasso":
        names = sorted(NETWORKS)  # every network of the registry
        architecture = names[architecture_index % len(names)]
        return LearnedLassoEncoder(
            n_components=n_components, alpha=alpha, architecture=architecture,
            n_layers=n_layers, max_iter=2, random_state=0,
        )  # fmt: skip
    if kind == "hilasso":
        names = sorted({*STRUCTURED_NETWORKS, *NETWORKS})
        architecture = names[architecture_index % len(names)]
        return LearnedHiLassoEncoder(
            n_components=n_components, groups=1, alpha=alpha, group_alpha=alpha,
            architecture=architecture, n_layers=n_layers, max_iter=2, random_state=0,
        )  # fmt: skip
    return OnlineSparseModeler(
        n_components=n_components, alpha=alpha, n_layers=n_layers, step_size=4,
        window_size=8, random_state=0,
    )  # fmt: skip


@SETTINGS
@given(
    data=st.data(),
    kind=st.sampled_from(["lasso", "hilasso", "online"]),
    n_components=st.integers(1, 6),
    architecture_index=st.integers(0, 3),
    n_layers=st.integers(1, 3),
    relative_alpha=st.floats(0.0, 2.0),
)
def test_estimators_answer_clearly_and_failures_change_nothing(
    data, kind, n_components, architecture_index, n_layers, relative_alpha
):
    X = data.draw(arrays())
    finite_scale = float(np.max(np.abs(X[np.isfinite(X)]), initial=1.0))
    estimator = _estimator(
        kind, n_components, architecture_index, n_layers, relative_alpha * finite_scale
    )
    X_before = X.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            estimator.fit(X)
        except CLEAR_ERRORS:
            assert not hasattr(estimator, "components_")  # unfitted, as it was
            np.testing.assert_array_equal(X, X_before)
            return
        np.testing.assert_array_equal(X, X_before)
        code = estimator.transform(X)
        _finite_output(code, (X.shape[0], estimator.components_.shape[0]), X.dtype)
        # Then a bad second call: a clear error, and the model as it was.
        other = data.draw(arrays(n_columns=X.shape[1]))
        before, other_before = snapshot(estimator), other.copy()
        try:
            estimator.partial_fit(other)
        except CLEAR_ERRORS:
            assert_same(snapshot(estimator), before)
        np.testing.assert_array_equal(other, other_before)
        try:
            code = estimator.transform(other)
        except CLEAR_ERRORS:
            return
        _finite_output(code, (other.shape[0], estimator.components_.shape[0]), other.dtype)
