"""
==========================================
Choosing depth and architecture by search
==========================================

An encoder's ``score`` is minus its mean Lasso objective, which grows with
``alpha``: it ranks networks trained for one ``alpha`` but cannot compare
values of ``alpha``. ``sklearn_lsc.metrics`` scores what is usually tuned
for: ``neg_relative_gap_scorer`` measures how close the codes come to the
exact optimum of the encoder's own problem, and
``make_reconstruction_scorer(n_nonzero)`` how well the atoms each code
selects reconstruct the signal at a fixed sparsity (any ``alpha``).

Here ``GridSearchCV`` first picks the depth and architecture of an encoder
of the digits by the gap on held-out folds, then ``alpha`` by the
reconstruction from ten atoms, with a short training budget to keep the
example quick (the defaults train longer).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV

from sklearn_lsc import LearnedLassoEncoder
from sklearn_lsc.datasets import load_digits_problem
from sklearn_lsc.metrics import make_reconstruction_scorer, neg_relative_gap_scorer

X_train, X_test, dictionary = load_digits_problem(random_state=0)

search = GridSearchCV(
    LearnedLassoEncoder(dictionary=dictionary, alpha=0.1, max_iter=40, random_state=0),
    {"architecture": ["lista", "rescaled_lista"], "n_layers": [1, 3, 5]},
    scoring=neg_relative_gap_scorer,
    cv=3,
).fit(X_train)

print("best:", search.best_params_)
print(f"held-out gap of the best: {-neg_relative_gap_scorer(search.best_estimator_, X_test):.2%}")

# %%
# The gap of each candidate, mean over the three folds (lower is better).
results = search.cv_results_
fig, ax = plt.subplots(figsize=(5, 3.5))
for architecture in ("lista", "rescaled_lista"):
    rows = np.flatnonzero(results["param_architecture"] == architecture)
    depths = results["param_n_layers"][rows].astype(int)
    gaps = -results["mean_test_score"][rows]
    ax.plot(depths, 100 * gaps, "o-", label=architecture)
ax.set_xlabel("layers")
ax.set_ylabel("relative gap to the optimum (%)")
ax.set_xticks([1, 3, 5])
ax.set_ylim(bottom=0)
ax.legend()
fig.tight_layout()
plt.show()

# %%
# ``alpha`` changes the problem, so the gap cannot choose it (each value is
# measured against its own optimum). The reconstruction from the ten atoms
# each code selects, refitted by least squares, compares the values on what
# the codes are for.
alphas = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
by_alpha = GridSearchCV(
    LearnedLassoEncoder(dictionary=dictionary, architecture="lista", max_iter=40, random_state=0),
    {"alpha": alphas},
    scoring=make_reconstruction_scorer(n_nonzero=10),
    cv=3,
).fit(X_train)
print("alpha chosen for 10 atoms:", by_alpha.best_params_["alpha"])

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(alphas, -by_alpha.cv_results_["mean_test_score"], "o-")
ax.set_xscale("log")
ax.set_xticks(alphas, labels=[str(alpha) for alpha in alphas])
ax.minorticks_off()
ax.set_xlabel("alpha")
ax.set_ylabel("relative error, 10 atoms refitted")
fig.tight_layout()
plt.show()
