"""Intersphinx inventories of the external names these pages link to, written offline.

CI builds the documentation without a network, so the published inventories
(``objects.inv``) of Python, numpy, scipy, scikit-learn and torch cannot be
fetched. The names the documentation refers to are listed here with their
pages on those sites, and :func:`write_inventories` writes them in Sphinx's
inventory format for ``intersphinx_mapping``. The build is nitpicky: a new
reference to a name missing here fails it, and the name is added below.
"""

import pathlib
import zlib

# project: (base URL, [(name, domain:role, page#anchor relative to the base)]).
# An anchor "$" stands for the name itself (Sphinx's inventory shorthand).
EXTERNAL_NAMES = {
    "python": (
        "https://docs.python.org/3/",
        [
            ("int", "py:class", "library/functions.html#$"),
            ("float", "py:class", "library/functions.html#$"),
            ("bool", "py:class", "library/functions.html#$"),
            ("str", "py:class", "library/stdtypes.html#$"),
            ("dict", "py:class", "library/stdtypes.html#$"),
            ("list", "py:class", "library/stdtypes.html#$"),
            ("tuple", "py:class", "library/stdtypes.html#$"),
            ("callable", "py:function", "library/functions.html#$"),
            ("None", "py:data", "library/constants.html#$"),
            ("True", "py:data", "library/constants.html#$"),
            ("False", "py:data", "library/constants.html#$"),
            ("generator", "std:term", "glossary.html#term-generator"),
            # numpydoc's own aliases link "sequence" and "iterable" to these terms.
            ("sequence", "std:term", "glossary.html#term-sequence"),
            ("iterable", "std:term", "glossary.html#term-iterable"),
        ],
    ),
    "numpy": (
        "https://numpy.org/doc/stable/",
        [
            ("numpy.ndarray", "py:class", "reference/generated/numpy.ndarray.html#$"),
            ("numpy.dtype", "py:class", "reference/generated/numpy.dtype.html#$"),
            ("numpy.random.RandomState", "py:class", "reference/random/legacy.html#$"),
            ("arrays.scalars", "std:label", "reference/arrays.scalars.html#arrays-scalars"),
        ],
    ),
    "scipy": (
        "https://docs.scipy.org/doc/scipy/",
        [
            (
                "scipy.sparse.csr_matrix",
                "py:class",
                "reference/generated/scipy.sparse.csr_matrix.html#$",
            ),
        ],
    ),
    "sklearn": (
        "https://scikit-learn.org/stable/",
        [
            *(
                (f"sklearn.{name}", "py:class", f"modules/generated/sklearn.{name}.html#$")
                for name in (
                    "decomposition.SparseCoder",
                    "decomposition.MiniBatchDictionaryLearning",
                    "decomposition.NMF",
                    "decomposition.MiniBatchNMF",
                    "model_selection.GridSearchCV",
                    "pipeline.Pipeline",
                )
            ),
            (
                "sklearn.decomposition.sparse_encode",
                "py:function",
                "modules/generated/sklearn.decomposition.sparse_encode.html#$",
            ),
            ("array-like", "std:term", "glossary.html#term-array-like"),
            ("random_state", "std:term", "glossary.html#term-random_state"),
        ],
    ),
    "torch": (
        "https://docs.pytorch.org/docs/stable/",
        [
            ("torch.device", "py:class", "tensor_attributes.html#$"),
            ("torch.dtype", "py:class", "tensor_attributes.html#$"),
            ("torch.Tensor", "py:class", "tensors.html#$"),
            ("torch.compile", "py:function", "generated/torch.compile.html#$"),
            ("torch.nn.Module", "py:class", "generated/torch.nn.Module.html#$"),
        ],
    ),
}


def inventory_bytes(project, entries):
    """One inventory in Sphinx's format (version 2: a header, then zlib-compressed lines)."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        "# Version: \n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    lines = "".join(f"{name} {role} -1 {page} -\n" for name, role, page in entries)
    return header.encode() + zlib.compress(lines.encode())


def write_inventories(directory):
    """Write every inventory into ``directory``; return ``intersphinx_mapping``."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for project, (url, entries) in EXTERNAL_NAMES.items():
        path = directory / f"{project}.inv"
        path.write_bytes(inventory_bytes(project, entries))
        mapping[project] = (url, str(path))
    return mapping
