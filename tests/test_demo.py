"""The command line: ``python -m sklearn_lsc demo``."""

import subprocess
import sys

import pytest

from sklearn_lsc.__main__ import main
from sklearn_lsc.datasets import load_digits_problem
from sklearn_lsc.demo import run_demo


def test_demo_problem_matches_its_description():
    X_train, X_test, dictionary = load_digits_problem(random_state=0)
    assert X_train.shape == (1500, 64) and X_test.shape == (297, 64)
    assert dictionary.shape == (128, 64)
    for X in (X_train, X_test):
        norms = (X**2).sum(axis=1) ** 0.5
        assert ((abs(norms - 1) < 1e-5) | (norms == 0)).all()
        assert abs(X.mean(axis=1)).max() < 1e-6


def test_run_demo_reports_every_method():
    rows, encoders = run_demo(
        n_layers=3, encoder_params={"max_iter": 2}, repeats=1, log=lambda *a: None
    )
    methods = [row["method"] for row in rows]
    assert methods == [
        "FISTA (3 it.)",
        "FISTA (50 it.)",
        "sklearn lasso_lars",
        "sklearn lasso_cd",
        "RESCALED_LISTA",
        "LISTA",
    ]
    by_method = {row["method"]: row for row in rows}
    # lasso_lars is exact: the reference optimum's gap, near zero; 3 FISTA
    # iterations are far from it.
    assert abs(by_method["sklearn lasso_lars"]["gap"]) < 1e-4
    assert by_method["FISTA (3 it.)"]["gap"] > 0.1
    assert by_method["LISTA"]["vs_fista_same_steps"] == pytest.approx(
        by_method["FISTA (3 it.)"]["seconds"] / by_method["LISTA"]["seconds"]
    )
    assert set(encoders) == {"rescaled_lista", "lista"}


def test_main_prints_the_table(capsys):
    code = main(["demo", "--max-iter", "1", "--repeats", "1", "--architectures", "lista"])
    out = capsys.readouterr().out
    assert code == 0
    assert "rel. gap" in out and "LISTA" in out and "sklearn lasso_cd" in out


def test_main_reports_bad_options_without_a_traceback(capsys):
    code = main(["demo", "--architectures", "rnn", "--max-iter", "1", "--repeats", "1"])
    assert code == 2
    assert "architecture" in capsys.readouterr().err


def test_help_documents_the_options():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_lsc", "demo", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for option in ("--n-layers", "--alpha", "--max-iter", "--device", "--repeats"):
        assert option in result.stdout


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(architectures="lista"), "architectures"),
        (dict(repeats=0), "repeats"),
        (dict(log="print"), "log"),
        (dict(n_layers=0), "n_layers"),
        (dict(alpha=-0.1), "alpha"),
    ],
)
def test_run_demo_refuses_bad_arguments_by_name(bad, match):
    with pytest.raises(ValueError, match=match):
        run_demo(**bad)
