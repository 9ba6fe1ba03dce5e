"""numpydoc validation of every public function, class and public method; shared entries."""

import inspect
import pydoc

import pytest

from sklearn_lsc._docstrings import ENTRIES, fill_doc

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


@pytest.mark.parametrize("import_path", sorted(set(_public_objects())))
def test_no_placeholder_left(import_path):
    # A placeholder left in a docstring would be shown to users as is.
    doc = inspect.getdoc(pydoc.locate(import_path)) or ""
    assert "%(" not in doc


def test_fill_doc_inserts_entries_indented_as_the_placeholder():
    @fill_doc
    class Example:
        """Summary.

        Parameters
        ----------
        %(device)s

        Attributes
        ----------
        %(feature_attributes)s
        """

        def method(self, X):
            """Summary.

            %(signal_parameters)s
            """

    doc = Example.__doc__
    assert "\n        device : str or torch.device" in doc
    assert "\n            Where the network trains" in doc
    # A group is its members, a blank line apart.
    assert "n_features_in_ : int\n            Number of features" in doc
    assert "\n\n        feature_names_in_ : ndarray" in doc
    assert (
        "\n            X : array-like of shape (n_samples, n_features)" in Example.method.__doc__
    )
    assert "%(" not in doc + Example.method.__doc__
    # Every entry is dedented: its first line starts at column 0.
    assert all(not text.startswith(" ") for text in ENTRIES.values())


def test_fill_doc_refuses_an_unknown_entry():
    def function():
        """Summary.

        %(no_such_entry)s
        """

    with pytest.raises(KeyError, match="no_such_entry"):
        fill_doc(function)


def test_fill_doc_leaves_other_percent_signs_alone():
    def function():
        """Within 1% of the optimum; %(name)s inside a sentence stays."""

    assert fill_doc(function).__doc__ == (
        "Within 1% of the optimum; %(name)s inside a sentence stays."
    )
