"""
===============================================
Structured against unstructured networks
===============================================

Signals that are group-sparse under a random dictionary (8 groups of 16
atoms; each signal uses 2 groups) are coded by 3-layer networks trained on
the HiLasso objective: the structured LBCoFB network (``"bcofb"``), whose
layers apply the group shrinkage and update one group at a time, and the
unstructured LCoD and LISTA. The structured network's codes are far closer to
the optimum and put their energy in the right groups.
"""

import matplotlib.pyplot as plt
import numpy as np

from sklearn_lsc import LearnedHiLassoEncoder, hilasso_objective, sparse_encode
from sklearn_lsc.datasets import make_group_sparse_signals

X, dictionary, _, active = make_group_sparse_signals(2500, random_state=0)
X, dictionary = X.astype(np.float32), dictionary.astype(np.float32)
X_train, X_test, active_test = X[:2000], X[2000:], active[2000:]
problem = dict(alpha=0.05, groups=8, group_alpha=0.1)
optimum = hilasso_objective(
    X_test, sparse_encode(X_test, dictionary, tol=1e-8, **problem), dictionary, **problem
)

names, gaps, energies = [], [], []
for architecture in ("bcofb", "lista", "lcod"):
    encoder = LearnedHiLassoEncoder(
        **problem, dictionary=dictionary, architecture=architecture, n_layers=3, random_state=0
    ).fit(X_train)
    code = encoder.transform(X_test)
    names.append(architecture)
    gaps.append(hilasso_objective(X_test, code, dictionary, **problem) / optimum - 1)
    energies.append(encoder.group_energies(X_test[:1])[0])
    print(f"{architecture}: held-out relative gap {gaps[-1]:.2%}")

figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.bar(names, gaps, color=["tab:blue", "tab:gray", "tab:gray"])
left.set_ylabel("held-out relative HiLasso gap")
left.set_title("3-layer networks")
width = 0.25
for offset, (name, energy) in enumerate(zip(names, energies, strict=True)):
    right.bar(np.arange(8) + (offset - 1) * width, energy, width, label=name)
for group in np.flatnonzero(active_test[0]):
    right.axvspan(group - 0.45, group + 0.45, color="tab:green", alpha=0.15)
right.set_xlabel("group (shaded: truly active)")
right.set_ylabel("group energy of one test signal")
right.legend()
figure.tight_layout()
plt.show()
