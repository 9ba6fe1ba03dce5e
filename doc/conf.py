"""Sphinx configuration: numpydoc API pages, a sphinx-gallery of examples/."""

import os

import sklearn_lsc

os.environ.setdefault("MPLBACKEND", "Agg")  # the gallery draws without a screen

project = "sklearn-lsc"
release = version = sklearn_lsc.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
templates_path = ["_templates"]  # class pages list methods and the examples using them
numpydoc_show_class_members = False  # the class template lists the members itself
exclude_patterns = ["_build"]
html_theme = "pydata_sphinx_theme"
html_title = "sklearn-lsc"
html_theme_options = {"navigation_with_keys": False}

intersphinx_mapping = {}  # no network in CI: cross-references stay local

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",  # run every example: the gallery shows real figures
    "download_all_examples": False,
    "reference_url": {"sklearn_lsc": None},
    # Each API page lists the examples that use it (the templates' minigallery).
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("sklearn_lsc",),
}
