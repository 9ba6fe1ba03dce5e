"""
===========================================
Network depth against FISTA and CoD effort
===========================================

How many iterations of an exact solver does one layer of a trained network
replace? LISTA networks of 1 to 5 layers are trained on the Lasso objective of
scikit-learn's digits; their held-out relative gap is drawn against FISTA's
after each iteration (a LISTA layer costs about one FISTA iteration) and
against coordinate descent's after each sweep of greedy coordinate updates
(``n_components`` updates, about the cost of one FISTA iteration too). The
training curve of one network is ``loss_curve_``, plotted in one line.
``benchmarks/convergence.py`` adds ISTA, LCoD, single coordinate updates and
image patches.
"""

import matplotlib.pyplot as plt
import numpy as np

from sklearn_lsc import LearnedLassoEncoder, lasso_objective, sparse_encode
from sklearn_lsc.datasets import load_digits_problem

X_train, X_test, dictionary = load_digits_problem(random_state=0)
alpha = 0.1
optimum = lasso_objective(
    X_test, sparse_encode(X_test, dictionary, alpha=alpha, tol=1e-10), dictionary, alpha
)


def gap(code):
    return lasso_objective(X_test, code, dictionary, alpha) / optimum - 1


iterations = np.arange(1, 61)
fista = [
    gap(sparse_encode(X_test, dictionary, alpha=alpha, max_iter=k, tol=0.0)) for k in iterations
]
sweeps = np.arange(1, 6)
cod = [
    gap(sparse_encode(X_test, dictionary, alpha=alpha, algorithm="cod", max_iter=k, tol=0.0))
    for k in sweeps
]
depths = [1, 2, 3, 5]
networks = [
    LearnedLassoEncoder(
        alpha=alpha, dictionary=dictionary, architecture="lista", n_layers=depth, random_state=0
    ).fit(X_train)
    for depth in depths
]
lista = [gap(network.transform(X_test)) for network in networks]
matches = [int(iterations[np.argmax(np.asarray(fista) <= value)]) for value in lista]
for depth, value, match in zip(depths, lista, matches, strict=True):
    print(f"LISTA, {depth} layers: gap {value:.2%}, as good as {match} FISTA iterations")

figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.semilogy(iterations, fista, label="FISTA iterations")
left.semilogy(sweeps, cod, "s-", label="CoD sweeps")
left.semilogy(depths, lista, "o-", label="trained LISTA layers")
left.set_xlabel("iterations / layers")
left.set_ylabel("held-out relative gap")
left.legend()
right.plot(networks[-1].loss_curve_)
right.set_xlabel("epoch")
right.set_ylabel("training Lasso objective")
right.set_title("loss_curve_ of the 5-layer network")
figure.tight_layout()
plt.show()
