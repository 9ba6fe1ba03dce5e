"""Refusing to continue training after a parameter that shapes the model has changed."""

import copy

import numpy as np


def _same(first, second):
    """Whether two parameter values are equal (arrays and nested sequences by value)."""
    if isinstance(first, np.ndarray) or isinstance(second, np.ndarray):
        try:
            return np.shape(first) == np.shape(second) and np.array_equal(first, second)
        except (TypeError, ValueError):  # ragged sequences
            return False
    if isinstance(first, list | tuple) and isinstance(second, list | tuple):
        return len(first) == len(second) and all(
            _same(a, b) for a, b in zip(first, second, strict=True)
        )
    try:
        return bool(first == second)
    except (TypeError, ValueError):
        return False


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def record_structure(estimator):
    """Keep copies of ``estimator``'s structural parameters as fitted."""
    estimator._fitted_structure = {
        name: copy.deepcopy(getattr(estimator, name)) for name in estimator._STRUCTURAL_PARAMS
    }


def check_structure_unchanged(estimator):
    """Raise a ValueError naming the first structural parameter changed since fitting."""
    fitted = getattr(estimator, "_fitted_structure", {})
    for name, value in fitted.items():
        if not _same(getattr(estimator, name), value):
            raise ValueError(
                f"The {name!r} parameter changed since {type(estimator).__name__} was "
                f"fitted ({_describe(value)} then, {_describe(getattr(estimator, name))} "
                "now): it shapes "
                "the model, so partial_fit cannot continue. Call fit to start afresh, "
                "or set it back."
            )
