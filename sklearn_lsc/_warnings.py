"""Warnings attributed to the user's line, however deep in the package they are raised."""

import os
import sys
import warnings

import sklearn

_OWN_DIRECTORIES = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    # scikit-learn's wrappers (parameter validation, set_output) sit between.
    os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep,
)


def warn(message, category):
    """``warnings.warn`` at the first frame outside this package and scikit-learn."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        _OWN_DIRECTORIES
    ):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level + 1)
