"""Each estimator's HTML representation links to its API page."""

import pathlib
import re

import pytest

import sklearn_lsc
from sklearn_lsc._documentation import DOCUMENTATION_URL

ROOT = pathlib.Path(__file__).resolve().parents[1]
ESTIMATORS = [
    sklearn_lsc.LearnedLassoEncoder,
    sklearn_lsc.LearnedHiLassoEncoder,
    sklearn_lsc.OnlineSparseModeler,
    sklearn_lsc.SparseCodingClassifier,
    sklearn_lsc.StructuredSparseClassifier,
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_the_html_representation_links_to_the_api_page(estimator):
    name = estimator.__name__
    link = estimator()._get_doc_link()
    assert link == f"{DOCUMENTATION_URL}generated/sklearn_lsc.{name}.html"
    assert f'href="{link}"' in estimator()._repr_html_()
    # doc/api.rst's autosummary writes that page (generated/sklearn_lsc.NAME).
    api = (ROOT / "doc" / "api.rst").read_text(encoding="utf-8")
    assert re.search(rf"^\s+{name}$", api, flags=re.MULTILINE)


def test_a_subclass_elsewhere_gets_no_link():
    Subclass = type("Subclass", (sklearn_lsc.LearnedLassoEncoder,), {"__module__": "user_code"})
    assert Subclass()._get_doc_link() == ""


def test_the_package_metadata_names_the_same_address():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    with open(ROOT / "pyproject.toml", "rb") as file:
        urls = tomllib.load(file)["project"]["urls"]
    assert urls["Documentation"] == DOCUMENTATION_URL
