"""
==================================================
Per-class dictionaries classify digits (Table 1)
==================================================

:class:`~sklearn_lsc.SparseCodingClassifier` learns one dictionary and one
5-layer encoder network per digit; a digit goes to the class whose model codes
it with the smallest Lasso objective. It composes with scikit-learn: here the
row normalization and the classifier form a ``Pipeline`` whose Lasso weight
``alpha`` is tuned by ``GridSearchCV``. The figure shows, for a few test
digits, each class's objective (lower is better): the true class stands out.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_lsc import LearnedLassoEncoder, SparseCodingClassifier


def centre_and_normalize(X):
    X = X - X.mean(axis=1, keepdims=True)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X.astype(np.float32), y, test_size=0.3, random_state=0, stratify=y
)
pipeline = make_pipeline(
    FunctionTransformer(centre_and_normalize),
    SparseCodingClassifier(
        LearnedLassoEncoder(n_components=32, architecture="lista", max_iter=50, random_state=0)
    ),
)
search = GridSearchCV(
    pipeline, {"sparsecodingclassifier__encoder__alpha": [0.05, 0.1, 0.2]}, cv=3
).fit(X_train, y_train)
print("best alpha:", search.best_params_["sparsecodingclassifier__encoder__alpha"])
print(f"test accuracy: {search.score(X_test, y_test):.2%}")

objectives = -search.decision_function(X_test[:6])
figure, axes = plt.subplots(2, 6, figsize=(10, 4), gridspec_kw={"height_ratios": [1, 1.4]})
for column in range(6):
    axes[0, column].imshow(X_test[column].reshape(8, 8), cmap="gray_r")
    axes[0, column].set_axis_off()
    axes[0, column].set_title(f"digit {y_test[column]}")
    axes[1, column].bar(np.arange(10), objectives[column], color="lightgray")
    axes[1, column].bar(y_test[column], objectives[column, y_test[column]], color="tab:blue")
    axes[1, column].set_xticks(range(10))
    axes[1, column].tick_params(labelsize=6)
axes[1, 0].set_ylabel("objective per class")
figure.tight_layout()
plt.show()
