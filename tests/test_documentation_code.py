"""The code the README and the documentation's front page show runs as written."""

import contextlib
import io
import pathlib
import re

import pytest

from sklearn_lsc import lasso_objective

ROOT = pathlib.Path(__file__).resolve().parents[1]


def literal_block(text, after):
    """The first indented literal block (``::`` or ``.. code-block:: python``) after ``after``."""
    start = text.index(after)
    match = re.search(r"(?:::|\.\. code-block:: python)\n\n((?:    .*\n|\n)+)", text[start:])
    lines = match.group(1).splitlines()
    return "\n".join(line[4:] for line in lines) + "\n"


def run(code):
    namespace, output = {"__name__": "__doc__"}, io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(code, "<documentation>", "exec"), namespace)
    return namespace, output.getvalue()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_readme_usage_snippet_codes_near_the_optimum():
    code = literal_block((ROOT / "README.rst").read_text(encoding="utf-8"), "\nUsage\n")
    assert "LearnedLassoEncoder" in code
    namespace, _ = run(code)
    X_test, dictionary = namespace["X_test"], namespace["dictionary"]
    reached = lasso_objective(X_test, namespace["codes"], dictionary, 0.1)
    optimum = lasso_objective(X_test, namespace["exact"], dictionary, 0.1)
    assert 0 <= reached / optimum - 1 < 0.03


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_front_page_example_prints_a_small_gap():
    code = literal_block((ROOT / "doc" / "index.rst").read_text(encoding="utf-8"), "Start here")
    _, printed = run(code)
    gap = float(re.fullmatch(r"(-?[0-9.]+)% above the optimum\n", printed).group(1))
    assert 0 <= gap < 3


def test_the_user_guide_collaborative_example_codes_near_the_optimum():
    code = literal_block(
        (ROOT / "doc" / "user_guide.rst").read_text(encoding="utf-8"), "Collaborative HiLasso:"
    )
    assert "sets=sets[train]" in code
    _, printed = run(code)
    gap = float(re.fullmatch(r"(-?[0-9.]+)% above the collaborative optimum\n", printed).group(1))
    assert 0 <= gap < 3
