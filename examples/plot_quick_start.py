"""
===========
Quick start
===========

Train a 5-layer LISTA encoder on the Lasso objective of scikit-learn's digits
and compare the objective it reaches on held-out rows with FISTA run for an
increasing number of iterations.
"""

import matplotlib.pyplot as plt
import numpy as np

from sklearn_lsc import LearnedLassoEncoder, lasso_objective, sparse_encode
from sklearn_lsc.datasets import load_digits_problem

X_train, X_test, dictionary = load_digits_problem(random_state=0)
alpha = 0.1

encoder = LearnedLassoEncoder(
    alpha=alpha, dictionary=dictionary, architecture="lista", n_layers=5, random_state=0
).fit(X_train)

optimum = lasso_objective(
    X_test, sparse_encode(X_test, dictionary, alpha=alpha, tol=1e-10), dictionary, alpha
)
iterations = np.arange(1, 61)
fista_gaps = [
    (
        lasso_objective(
            X_test,
            sparse_encode(X_test, dictionary, alpha=alpha, max_iter=n, tol=0.0),
            dictionary,
            alpha,
        )
        - optimum
    )
    / optimum
    for n in iterations
]
network_gap = (
    lasso_objective(X_test, encoder.transform(X_test), dictionary, alpha) - optimum
) / optimum

fig, (ax_gap, ax_loss) = plt.subplots(1, 2, figsize=(10, 4))
ax_gap.semilogy(iterations, fista_gaps, label="FISTA")
ax_gap.axhline(network_gap, color="C1", linestyle="--", label="LISTA, 5 layers")
ax_gap.set(xlabel="iterations", ylabel="relative gap (F - F*) / F*", title="Held-out rows")
ax_gap.legend()
ax_loss.plot(encoder.loss_curve_)
ax_loss.set(xlabel="epoch", ylabel="training objective", title="Training")
fig.tight_layout()
plt.show()
