"""Sphinx configuration (the full documentation is built out by a later issue)."""

import sklearn_lsc

project = "sklearn-lsc"
release = sklearn_lsc.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc"]
autosummary_generate = True
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
