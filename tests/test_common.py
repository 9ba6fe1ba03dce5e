"""scikit-learn's estimator checks on every public estimator, found automatically."""

import inspect

from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_lsc


def _public_estimators():
    """One small, fast instance of every estimator class that sklearn_lsc exports."""
    classes = [
        obj
        for name in sklearn_lsc.__all__
        if inspect.isclass(obj := getattr(sklearn_lsc, name)) and issubclass(obj, BaseEstimator)
    ]
    # Few epochs (or small stream steps) keep the many fits of the checks
    # quick; the checks test the contract, not the quality of the codes.
    fast = {
        "max_iter": 5,
        "window_size": 20,
        "step_size": 10,
        "encoder": sklearn_lsc.LearnedLassoEncoder(max_iter=5, random_state=0),
    }
    estimators = [
        cls(**{key: value for key, value in fast.items() if key in cls().get_params()})
        for cls in classes
    ]
    # The validation split changes what fit trains on: checked as well.
    held_out = dict(max_iter=5, early_stopping=True, input_noise=0.1, random_state=0)
    estimators += [
        sklearn_lsc.LearnedLassoEncoder(**held_out),
        sklearn_lsc.LearnedHiLassoEncoder(**held_out),
    ]
    # The network with per-signal factors, in both encoders (with groups, its
    # factors minimise the HiLasso objective).
    estimators += [
        cls(max_iter=5, architecture="rescaled_lista", random_state=0)
        for cls in (sklearn_lsc.LearnedLassoEncoder, sklearn_lsc.LearnedHiLassoEncoder)
    ]
    # Nonnegative codes and atoms (a learned NMF), in the three models that offer them.
    nonnegative = dict(positive=True, positive_dict=True, random_state=0)
    estimators += [
        sklearn_lsc.LearnedLassoEncoder(max_iter=5, **nonnegative),
        sklearn_lsc.LearnedHiLassoEncoder(max_iter=5, **nonnegative),
        sklearn_lsc.OnlineSparseModeler(window_size=20, step_size=10, **nonnegative),
    ]
    return estimators


def test_every_public_estimator_is_checked():
    assert {type(est).__name__ for est in _public_estimators()} >= {
        "LearnedLassoEncoder",
        "LearnedHiLassoEncoder",
        "OnlineSparseModeler",
        "SparseCodingClassifier",
        "StructuredSparseClassifier",
    }


@parametrize_with_checks(_public_estimators())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
