"""Scaling out on dask: dask arrays, joblib's dask backend, out-of-core training, dask-ml.

Runs on a LocalCluster on this machine; skipped when the ``distributed`` extra
(dask, distributed, dask-ml) is not installed. ``.ci/run`` installs it.
"""

import logging

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

from sklearn_lsc import LearnedLassoEncoder, SparseCodingClassifier  # noqa: E402


@pytest.fixture(scope="module")
def client():
    # Threads, not processes: quick to start on two cores, same scheduler.
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def data(seed=0, n_samples=2000):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, 16)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    return X, y


def test_transform_of_a_dask_array_equals_the_in_memory_codes(client):
    X, _ = data()
    encoder = LearnedLassoEncoder(n_components=24, alpha=0.1, max_iter=3, random_state=0).fit(X)
    blocks = da.from_array(X, chunks=(300, 16))
    codes = blocks.map_blocks(
        encoder.transform, chunks=(blocks.chunks[0], (24,)), dtype=np.float32
    )
    np.testing.assert_array_equal(codes.compute(), encoder.transform(X))


# joblib's dask backend drops a weak reference at teardown and says so: harmless.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_grid_search_and_classes_under_joblib_dask_backend(client):
    X, y = data(1, 800)
    encoder = LearnedLassoEncoder(n_components=8, alpha=0.1, max_iter=3, random_state=0)
    serial = SparseCodingClassifier(encoder).fit(X, y)
    with joblib.parallel_backend("dask"):
        spread = SparseCodingClassifier(encoder, n_jobs=2).fit(X, y)
        search = GridSearchCV(
            SparseCodingClassifier(encoder), {"encoder__alpha": [0.05, 0.2]}, cv=2, n_jobs=2
        ).fit(X, y)
    np.testing.assert_array_equal(spread.decision_function(X), serial.decision_function(X))
    assert search.best_params_["encoder__alpha"] in (0.05, 0.2)


def test_partial_fit_over_the_blocks_of_a_dask_array(client):
    X, _ = data(2)
    blocks = da.from_array(X, chunks=(500, 16))
    out_of_core = LearnedLassoEncoder(n_components=12, alpha=0.1, random_state=0)
    for block in blocks.to_delayed().ravel():
        out_of_core.partial_fit(block.compute())
    in_memory = LearnedLassoEncoder(n_components=12, alpha=0.1, random_state=0)
    for start in range(0, 2000, 500):
        in_memory.partial_fit(X[start : start + 500])
    np.testing.assert_array_equal(out_of_core.components_, in_memory.components_)
    np.testing.assert_array_equal(out_of_core.transform(X), in_memory.transform(X))


def test_dask_ml_incremental_and_parallel_post_fit(client):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, _ = data(3)
    blocks = da.from_array(X, chunks=(500, 16))
    params = dict(n_components=12, alpha=0.1, random_state=0)
    # Incremental calls partial_fit on each block in turn (in order: no shuffle).
    incremental = wrappers.Incremental(LearnedLassoEncoder(**params), shuffle_blocks=False)
    incremental.fit(blocks)
    by_hand = LearnedLassoEncoder(**params)
    for start in range(0, 2000, 500):
        by_hand.partial_fit(X[start : start + 500])
    fitted = incremental.estimator_
    np.testing.assert_array_equal(fitted.components_, by_hand.components_)
    # ParallelPostFit codes each block where it lies; the codes equal one call's.
    post_fit = wrappers.ParallelPostFit(fitted)
    codes = post_fit.transform(blocks)
    assert isinstance(codes, da.Array)
    np.testing.assert_array_equal(codes.compute(), by_hand.transform(X))
