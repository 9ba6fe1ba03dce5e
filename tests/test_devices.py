"""Every tensor the package makes is placed on a device it chose, never torch's default.

A tensor made without ``device=`` lands on torch's default device: the CPU
in tests, but next to a network on the GPU it mixes devices and fails (a
threshold parameter made that way once broke every ``device="cuda"`` fit).
Setting the default device to ``meta`` (tensors without data) makes such a
tensor fail on the CPU too, so these tests catch the mistake without a GPU,
and show that a user's own ``torch.set_default_device`` does not leak in.
"""

import numpy as np
import pytest

from sklearn_lsc import (
    LearnedHiLassoEncoder,
    LearnedLassoEncoder,
    OnlineSparseModeler,
    SparseCodingClassifier,
    StructuredSparseClassifier,
    sparse_encode,
)
from sklearn_lsc._networks import NETWORKS, STRUCTURED_NETWORKS

RNG = np.random.default_rng(0)
X = RNG.standard_normal((120, 12)).astype(np.float32)
DICTIONARY = RNG.standard_normal((20, 12))
LABELS = np.arange(120) % 3
GROUP_LABELS = np.eye(4)[np.arange(120) % 4]


def lasso_encoder(architecture):
    encoder = LearnedLassoEncoder(alpha=0.1, architecture=architecture, max_iter=2)
    return encoder.fit(X).transform(X)


def hilasso_encoder(architecture, objective):
    encoder = LearnedHiLassoEncoder(
        n_components=16, groups=4, alpha=0.05, group_alpha=0.1, architecture=architecture,
        objective=objective, max_iter=2,
    )  # fmt: skip
    return encoder.fit(X, GROUP_LABELS).transform(X)


def online_modeler(groups):
    modeler = OnlineSparseModeler(
        n_components=16, alpha=0.1, groups=groups, group_alpha=0.1, window_size=40, step_size=20
    )
    return modeler.partial_fit(X).transform(X)


def classifier(metric):
    encoder = LearnedLassoEncoder(n_components=8, alpha=0.1, max_iter=2)
    model = SparseCodingClassifier(encoder, metric=metric, metric_max_iter=2)
    return model.fit(X, LABELS).predict_proba(X)


def structured_classifier():
    model = StructuredSparseClassifier(n_components_per_class=4, max_iter=2, n_active=2)
    return model.fit(X, LABELS).predict(X)


def solver(algorithm, **problem):
    return sparse_encode(X, DICTIONARY, algorithm=algorithm, max_iter=50, **problem)


CASES = {
    **{
        f"lasso-{name}": (lasso_encoder, name)
        for name in NETWORKS  # every network of the registry
    },
    **{
        f"hilasso-{name}-{objective}": (hilasso_encoder, name, objective)
        for name in (*STRUCTURED_NETWORKS, "lcod", "rescaled_lista")
        for objective in ("hilasso", "discriminative", "regression")
    },
    "online": (online_modeler, None),
    "online-groups": (online_modeler, 4),
    "classifier-euclidean": (classifier, "euclidean"),
    "classifier-mahalanobis": (classifier, "mahalanobis"),
    "structured-classifier": (structured_classifier,),
    **{f"sparse_encode-{name}": (solver, name) for name in ("ista", "fista", "cod")},
    **{f"sparse_encode-hilasso-{name}": (solver, name) for name in ("fista", "bcofb")},
}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_nothing_is_made_on_torchs_default_device(case, meta_default_device):
    function, *arguments = CASES[case]
    if case.startswith("sparse_encode-hilasso"):
        result = function(*arguments, alpha=0.1, groups=5, group_alpha=0.2)
    elif case.startswith("sparse_encode"):
        result = function(*arguments, alpha=0.3)
    else:
        result = function(*arguments)
    assert isinstance(result, np.ndarray)
    assert np.all(np.isfinite(result))
