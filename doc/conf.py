"""Sphinx configuration: numpydoc API pages, a sphinx-gallery of examples/."""

import os
import pathlib
import sys

import sklearn_lsc

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from external_inventories import write_inventories  # noqa: E402

os.environ.setdefault("MPLBACKEND", "Agg")  # the gallery draws without a screen

project = "sklearn-lsc"
release = version = sklearn_lsc.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "benchmark_tables",  # doc/benchmark_tables.py: the suites' results as tables
]
autosummary_generate = True
templates_path = ["_templates"]  # class pages list methods and the examples using them
numpydoc_show_class_members = False  # the class template lists the members itself
exclude_patterns = ["_build"]
html_theme = "pydata_sphinx_theme"
html_title = "sklearn-lsc"
html_theme_options = {"navigation_with_keys": False}

# No network in CI: the external names linked to come from inventories
# written here (see external_inventories.py), and an unresolved reference
# fails the build (-W).
intersphinx_mapping = write_inventories(pathlib.Path(__file__).parent / "_build" / "inventories")
nitpicky = True
# Parameter types link to numpy's, Python's and scikit-learn's pages; other
# words of a type ("of shape", "default") stay plain.
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"
# (A name aliased to itself would stay plain: the roles below link it.)
numpydoc_xref_aliases = {
    "ndarray": "numpy.ndarray",
    "array-like": ":term:`array-like`",
    "RandomState": "numpy.random.RandomState",
    "torch.device": ":class:`torch.device`",
    "torch.dtype": ":class:`torch.dtype`",
    **{name: f":class:`{name}`" for name in ("int", "float", "bool", "str", "dict", "list")},
    "tuple": ":class:`tuple`",
    "callable": ":func:`callable`",
    "None": ":data:`None`",
    # numpydoc's own aliases of these words name pages the inventories lack.
    "boolean": ":class:`bool`",
    "string": ":class:`str`",
    "True": ":data:`True`",
    "False": ":data:`False`",
    "generator": ":term:`generator`",
    "array": "numpy.ndarray",
    "np.ndarray": "numpy.ndarray",
    "array_like": ":term:`array-like`",
    "scalar": ":ref:`scalar <arrays.scalars>`",
}

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
