"""The private scikit-learn names this package uses, gathered in one place.

Parameter validation (``Interval``, ``StrOptions``, ``HasMethods``,
``validate_params``, ``validate_parameter_constraints``) and ``_fit_context``
are how scikit-learn's own estimators follow its conventions, but they are
not public API and may move in a new release. Every module imports them from
here, so a moved name fails at import with a message saying what to do, and
``tests/test_sklearn_compat.py`` checks that each still works as used.
"""

import sklearn

try:
    from sklearn.base import _fit_context
    from sklearn.utils._param_validation import (
        HasMethods,
        Interval,
        StrOptions,
        validate_parameter_constraints,
        validate_params,
    )
except ImportError as error:  # pragma: no cover - only with an incompatible scikit-learn
    raise ImportError(
        f"sklearn-lsc uses scikit-learn's parameter validation, whose private names "
        f"scikit-learn {sklearn.__version__} no longer provides where expected ({error}). "
        "Install a scikit-learn release that sklearn-lsc supports (see its pyproject.toml), "
        "or a newer sklearn-lsc."
    ) from error

__all__ = [
    "HasMethods",
    "Interval",
    "StrOptions",
    "_fit_context",
    "validate_parameter_constraints",
    "validate_params",
]
