"""Learned sparse coding: scikit-learn estimators built on unrolled networks."""

from ._scale import lasso_alpha_max
from .classification import SparseCodingClassifier, StructuredSparseClassifier
from .encoders import LearnedHiLassoEncoder, LearnedLassoEncoder
from .online import OnlineSparseModeler
from .solvers import hilasso_objective, lasso_objective, sparse_encode

__version__ = "0.1.0.dev0"

__all__ = [
    "LearnedHiLassoEncoder",
    "LearnedLassoEncoder",
    "OnlineSparseModeler",
    "SparseCodingClassifier",
    "StructuredSparseClassifier",
    "hilasso_objective",
    "lasso_alpha_max",
    "lasso_objective",
    "sparse_encode",
    "__version__",
]
