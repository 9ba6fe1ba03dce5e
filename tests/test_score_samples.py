"""``score_samples``: minus each row's objective, the per-sample form of ``score``."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sklearn_lsc import LearnedHiLassoEncoder, LearnedLassoEncoder, OnlineSparseModeler


def signals(dtype=np.float32, n_samples=80, n_features=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_samples, n_features)).astype(dtype)


def lasso_objectives(X, code, dictionary, alpha):
    """Each row's Lasso objective in numpy float64 (the independent reference)."""
    X, code, dictionary = (np.asarray(a, np.float64) for a in (X, code, dictionary))
    residual = X - code @ dictionary
    return 0.5 * np.sum(residual**2, axis=1) + alpha * np.abs(code).sum(axis=1)


ENCODERS = {
    "lasso": lambda: LearnedLassoEncoder(n_components=12, alpha=0.2, max_iter=3, random_state=0),
    "hilasso": lambda: LearnedHiLassoEncoder(
        n_components=12, groups=3, alpha=0.1, group_alpha=0.3, max_iter=3, random_state=0
    ),
    "online": lambda: OnlineSparseModeler(n_components=12, alpha=0.2, random_state=0),
}


@pytest.mark.parametrize("kind", sorted(ENCODERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_score_samples_is_minus_each_rows_objective(kind, dtype):
    X = signals(dtype)
    encoder = ENCODERS[kind]().fit(X)
    X_new = signals(dtype, n_samples=30, seed=1)
    scores = encoder.score_samples(X_new)
    assert scores.shape == (30,) and scores.dtype == np.float64
    code, dictionary = encoder.transform(X_new), encoder.components_
    expected = lasso_objectives(X_new, code, dictionary, encoder.alpha)
    if kind == "hilasso":
        # Weights w_g are ones by default.
        expected += encoder.group_alpha * sum(
            np.linalg.norm(code[:, group].astype(np.float64), axis=1) for group in encoder.groups_
        )
    tolerance = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(-scores, expected, rtol=tolerance, atol=tolerance)
    assert encoder.score(X_new) == pytest.approx(scores.mean(), rel=1e-12)


def test_score_samples_refuses_unfitted_encoders_and_wrong_widths():
    encoder = ENCODERS["lasso"]()
    with pytest.raises(NotFittedError):
        encoder.score_samples(signals())
    encoder.fit(signals())
    with pytest.raises(ValueError, match="features"):
        encoder.score_samples(signals(n_features=7))
