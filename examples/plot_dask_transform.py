"""
=============================================
Coding a large dask array on a local cluster
=============================================

A trained encoder codes each row independently, so the codes of an array too
large for one machine's memory are the codes of its blocks: ``map_blocks``
sends the (pickled) encoder to the workers of a ``dask.distributed`` cluster,
which code their blocks in parallel. The result equals the in-memory codes.
The figure shows how many atoms each signal uses.

Needs the ``distributed`` extra (``pip install ".[distributed]"``).
"""

import logging
import time

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from dask import delayed
from distributed import Client, LocalCluster

from sklearn_lsc import LearnedLassoEncoder
from sklearn_lsc.datasets import make_group_sparse_signals

X_train, dictionary, _, _ = make_group_sparse_signals(
    2000, n_features=64, n_groups=8, group_size=16, random_state=0
)
X_train, dictionary = X_train.astype(np.float32), dictionary.astype(np.float32)
encoder = LearnedLassoEncoder(
    alpha=0.05, dictionary=dictionary, architecture="lista", n_layers=3, random_state=0
).fit(X_train)


def make_block(seed, n_rows=10_000):
    """10,000 signals, 8 random atoms each: built where the block is needed."""
    rng = np.random.default_rng(seed)
    code = rng.standard_normal((n_rows, 128)) * (rng.random((n_rows, 128)) < 8 / 128)
    return (code @ dictionary).astype(np.float32)


# The "large" array: 100,000 signals in 10 blocks, none of them built yet.
blocks = [delayed(make_block)(seed) for seed in range(10)]
signals = da.concatenate(
    [da.from_delayed(block, shape=(10_000, 64), dtype=np.float32) for block in blocks]
)
cluster_options = dict(n_workers=2, threads_per_worker=1, processes=False)
with LocalCluster(**cluster_options, silence_logs=logging.ERROR) as cluster:
    with Client(cluster):
        codes = signals.map_blocks(
            encoder.transform, chunks=(signals.chunks[0], (128,)), dtype=np.float32
        )
        start = time.perf_counter()
        result = codes.compute()
        print(f"coded {result.shape[0]} signals in {time.perf_counter() - start:.2f} s")

np.testing.assert_array_equal(result, encoder.transform(signals.compute()))
nonzeros = np.count_nonzero(result, axis=1)
plt.hist(nonzeros, bins=np.arange(nonzeros.max() + 2) - 0.5)
plt.xlabel("nonzero coefficients per signal (of 128 atoms)")
plt.ylabel("signals")
plt.title("Codes of 100,000 signals, computed block by block")
plt.tight_layout()
plt.show()
