"""scikit-learn's private names: used only through ``_sklearn_compat``, and still working."""

import ast
import numbers
import pathlib

import numpy as np
import pytest
from sklearn.base import BaseEstimator

import sklearn_lsc
from sklearn_lsc import _sklearn_compat as compat

PACKAGE = pathlib.Path(sklearn_lsc.__file__).parent


def private_sklearn_imports(path):
    """``(module, name)`` of every private scikit-learn name ``path`` imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sklearn"):
            private_module = any(part.startswith("_") for part in node.module.split("."))
            for alias in node.names:
                if private_module or alias.name.startswith("_"):
                    found.append((node.module, alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sklearn" and any(part.startswith("_") for part in parts):
                    found.append((alias.name, None))
    return found


def test_only_the_compat_module_imports_private_sklearn_names():
    offenders = {
        str(path.relative_to(PACKAGE)): names
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "_sklearn_compat.py" and (names := private_sklearn_imports(path))
    }
    assert offenders == {}
    assert private_sklearn_imports(PACKAGE / "_sklearn_compat.py")  # the test can fail


def test_parameter_validation_works_as_the_estimators_use_it():
    constraints = {
        "alpha": [compat.Interval(numbers.Real, 0, None, closed="neither")],
        "mode": [compat.StrOptions({"a", "b"})],
        "model": [compat.HasMethods(["fit"])],
    }
    good = {"alpha": 0.5, "mode": "a", "model": sklearn_lsc.LearnedLassoEncoder()}
    compat.validate_parameter_constraints(constraints, good, caller_name="Check")
    for name, bad in (("alpha", -1.0), ("mode", "c"), ("model", object())):
        with pytest.raises(ValueError, match=f"'{name}' parameter of Check"):
            compat.validate_parameter_constraints(
                constraints, {**good, name: bad}, caller_name="Check"
            )

    @compat.validate_params(
        {"n": [compat.Interval(numbers.Integral, 1, None, closed="left")]},
        prefer_skip_nested_validation=True,
    )
    def twice(n):
        return 2 * n

    assert twice(3) == 6
    with pytest.raises(ValueError, match=r"'n' parameter of .*twice"):
        twice(0)


def test_fit_context_validates_parameters_before_fit():
    class Estimator(BaseEstimator):
        _parameter_constraints = {"alpha": [compat.Interval(numbers.Real, 0, None, closed="left")]}

        def __init__(self, alpha=1.0):
            self.alpha = alpha

        @compat._fit_context(prefer_skip_nested_validation=True)
        def fit(self, X):
            self.fitted_ = np.asarray(X).sum()
            return self

    assert Estimator().fit([1.0, 2.0]).fitted_ == 3.0
    with pytest.raises(ValueError, match="'alpha' parameter"):
        Estimator(alpha=-1).fit([1.0])
