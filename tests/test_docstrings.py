"""numpydoc validation of every public function, class and public method."""

import inspect

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

import sklearn_lsc  # noqa: E402
import sklearn_lsc.datasets  # noqa: E402
import sklearn_lsc.demo  # noqa: E402
import sklearn_lsc.metrics  # noqa: E402

# Checks we do not enforce: extended summaries (ES01), See Also (SA01) and
# Examples (EX01) on every method, the summary-line length (SS06), and named
# Returns entries (RT02), which scikit-learn itself uses ("self : object").
IGNORED = {"ES01", "SA01", "EX01", "SS06", "GL08", "RT02"}


def _public_objects():
    modules = {
        "sklearn_lsc": sklearn_lsc,
        "sklearn_lsc.datasets": sklearn_lsc.datasets,
        "sklearn_lsc.demo": sklearn_lsc.demo,
        "sklearn_lsc.metrics": sklearn_lsc.metrics,
    }
    for module_name, module in modules.items():
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            yield f"{module_name}.{name}"
            if inspect.isclass(obj):
                ours = [base for base in obj.__mro__ if base.__module__.startswith("sklearn_lsc")]
                for method_name, _ in inspect.getmembers(obj, inspect.isfunction):
                    defined_here = any(method_name in vars(base) for base in ours)
                    if defined_here and not method_name.startswith("_"):
                        yield f"{module_name}.{name}.{method_name}"


@pytest.mark.parametrize("import_path", sorted(set(_public_objects())))
def test_docstring(import_path):
    result = numpydoc_validate.validate(import_path)
    errors = [(code, message) for code, message in result["errors"] if code not in IGNORED]
    assert not errors, "\n".join(f"{code}: {message}" for code, message in errors)
