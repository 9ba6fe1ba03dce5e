"""Where the documentation lives: the link of each estimator's HTML representation."""

# The documentation built from doc/ (python -m sphinx doc doc/_build/html),
# as published; pyproject.toml's "Documentation" URL is the same address.
DOCUMENTATION_URL = "https://sklearn-lsc.readthedocs.io/en/latest/"


class DocumentationLinkMixin:
    """The "?" of an estimator's HTML representation opens its API page.

    scikit-learn builds the link from ``_doc_link_template``; the pages are
    named after the public name (``generated/sklearn_lsc.NAME.html``, from
    ``doc/api.rst``), not after the module that defines the class.
    """

    _doc_link_module = "sklearn_lsc"
    _doc_link_template = DOCUMENTATION_URL + "generated/sklearn_lsc.{name}.html"

    def _doc_link_url_param_generator(self):
        return {"name": type(self).__name__}
