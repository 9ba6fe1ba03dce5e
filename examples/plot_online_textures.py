"""
==========================================
Online sparse modeling of a texture stream
==========================================

Patches of three textures arrive one texture after another (a stream whose
character changes twice). :class:`~sklearn_lsc.OnlineSparseModeler` learns the
dictionary and a 4-layer encoder network on the stream itself, with no
iterative sparse coding; scikit-learn's ``MiniBatchDictionaryLearning`` does
online dictionary learning with exact codes. Each curve is the Lasso objective
of each new step of 100 patches, coded by the model as it was before it saw
them: both adapt after each change of texture, the network at a fraction of
the cost (``benchmarks/online.py`` runs the full-size experiment).

Needs scikit-image (the textures) and matplotlib.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import MiniBatchDictionaryLearning

from sklearn_lsc import OnlineSparseModeler, lasso_objective, sparse_encode
from sklearn_lsc.datasets import load_texture_patches

textures = ("brick", "grass", "gravel")
X, texture = load_texture_patches(textures, n_patches=3000, random_state=0)
X -= X.mean(axis=1, keepdims=True)  # remove each patch's mean intensity
X = (X / X.std()).astype(np.float32)  # unit pixel variance: alpha=1 gives sparse codes
alpha, step = 1.0, 100
chunks = [X[start : start + step] for start in range(0, X.shape[0], step)]

model = OnlineSparseModeler(n_components=64, alpha=alpha, random_state=0)
start = time.perf_counter()
for chunk in chunks:
    model.partial_fit(chunk)
online_seconds = time.perf_counter() - start

exact = MiniBatchDictionaryLearning(n_components=64, alpha=alpha, batch_size=step, random_state=0)
exact_curve, exact_seconds = [np.nan], 0.0
for index, chunk in enumerate(chunks):
    if index:  # the objective of the new patches before the model learns from them
        code = sparse_encode(chunk, exact.components_, alpha=alpha)
        exact_curve.append(lasso_objective(chunk, code, exact.components_, alpha))
    start = time.perf_counter()
    exact.partial_fit(chunk)
    exact_seconds += time.perf_counter() - start

steps = np.arange(1, len(chunks) + 1)
figure, axes = plt.subplots(figsize=(8, 4))
axes.plot(steps, model.objective_curve_, label=f"OnlineSparseModeler ({online_seconds:.1f} s)")
axes.plot(steps, exact_curve, label=f"MiniBatchDictionaryLearning ({exact_seconds:.1f} s)")
for boundary in np.flatnonzero(np.diff(texture[::step])) + 1:
    axes.axvline(boundary + 0.5, color="gray", linestyle=":")
axes.set_xlabel(f"step ({step} new patches)")
axes.set_ylabel("Lasso objective of the new patches")
axes.set_title(" / ".join(textures))
axes.legend()
figure.tight_layout()
plt.show()
