"""The code the README, the documentation's front page and the user guide show runs as written."""

import contextlib
import io
import os
import pathlib
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sklearn_lsc import LearnedLassoEncoder, lasso_objective, sparse_encode

ROOT = pathlib.Path(__file__).resolve().parents[1]


def literal_block(text, after):
    """The first indented literal block (``::`` or ``.. code-block:: python``) after ``after``."""
    start = text.index(after)
    match = re.search(r"(?:::|\.\. code-block:: python)\n\n((?:    .*\n|\n)+)", text[start:])
    lines = match.group(1).splitlines()
    return "\n".join(line[4:] for line in lines) + "\n"


def literal_blocks(text):
    """Every code block of an rst text, in order: ``::`` paragraphs and ``code-block:: python``.

    Directives ending in ``::`` (``math``, ``toctree``...) are not code.
    """
    blocks = []
    pattern = r"^(.*(?:::|\.\. code-block:: python))\n\n((?:    .*\n|\n)+)"
    for match in re.finditer(pattern, text, flags=re.MULTILINE):
        opening = match.group(1).strip()
        if opening.startswith("..") and opening != ".. code-block:: python":
            continue
        lines = match.group(2).splitlines()
        blocks.append("\n".join(line[4:] for line in lines).strip("\n") + "\n")
    return blocks


def user_guide_blocks():
    return literal_blocks((ROOT / "doc" / "user_guide.rst").read_text(encoding="utf-8"))


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
    # The figure the README states for it (rounding differs between CPUs a little).
    readme = " ".join((ROOT / "README.rst").read_text(encoding="utf-8").split())
    stated = re.search(r"the snippet's held-out codes are ([0-9.]+)% above", readme)
    assert abs(100 * (reached / optimum - 1) - float(stated.group(1))) < 0.3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_front_page_example_prints_a_small_gap():
    code = literal_block((ROOT / "doc" / "index.rst").read_text(encoding="utf-8"), "Start here")
    _, printed = run(code)
    gap = float(re.fullmatch(r"(-?[0-9.]+)% above the optimum\n", printed).group(1))
    assert 0 <= gap < 3


def test_literal_blocks_finds_code_not_directives():
    text = (
        "A formula\n\n.. math::\n\n    x^2\n\nCode::\n\n    a = 1\n\n    b = 2\n"
        "\n.. code-block:: python\n\n    c = 3\n\n.. toctree::\n\n    api\n"
    )
    assert literal_blocks(text) == ["a = 1\n\nb = 2\n", "c = 3\n"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_user_guide_code_runs_in_order(tmp_path, monkeypatch):
    """Every code block of the user guide, in one namespace as a reader would run them.

    The distributed recipe runs in its own processes (the next test).
    """
    blocks = [block for block in user_guide_blocks() if "init_process_group" not in block]
    assert len(blocks) >= 4  # the tree, collaborative, NMF and skops blocks
    monkeypatch.chdir(tmp_path)  # the skops block writes a file
    namespace, printed = {"__name__": "__doc__"}, io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, "<user guide>", "exec"), namespace)
    lines = printed.getvalue().splitlines()
    gaps = {}
    for line in lines:
        match = re.fullmatch(r"(-?[0-9.]+)% above (.+)", line)
        gaps[match.group(2)] = float(match.group(1))
    assert 0 <= gaps["the collaborative optimum"] < 3
    # NMF's transform solves the same problem to its tolerance: the network's
    # codes are at most a little above (or a hair below) them.
    assert -0.1 < gaps["NMF's transform"] < 1
    # The skops block loaded the encoder back, trusting only this package.
    assert type(namespace["encoder"]).__module__.startswith("sklearn_lsc")
    assert all(name.startswith("sklearn_lsc.") for name in namespace["untrusted"])


def test_the_user_guide_distributed_recipe_trains(tmp_path):
    """The recipe, as written, trains one network in two processes (gloo on the CPU)."""
    torch = pytest.importorskip("torch")
    if not torch.distributed.is_available():
        pytest.skip("this torch build has no torch.distributed")
    (recipe,) = [block for block in user_guide_blocks() if "init_process_group" in block]
    (tmp_path / "train.py").write_text(recipe, encoding="utf-8")
    X = load_digits().data
    X = X - X.mean(axis=1, keepdims=True)
    # Rows of norm 10, not 1: the network then codes X / signal_scale_ with
    # signal_scale_ != 1, so the recipe's units are exercised.
    X = 10 * X / np.linalg.norm(X, axis=1, keepdims=True)
    dictionary = X[np.random.RandomState(0).choice(1500, 128, replace=False)] / 10
    np.save(tmp_path / "signals.npy", X[:1500])
    np.save(tmp_path / "dictionary.npy", dictionary)
    # Two CPU processes (gloo) even where a GPU is visible; one thread each.
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    finished = subprocess.run(
        [*command, "--nproc_per_node=2", "train.py"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    with open(tmp_path / "encoder.pkl", "rb") as file:
        trained = pickle.load(file)
    assert trained.signal_scale_ != 1.0
    # Its starting point: the recipe's one-epoch fit.
    start = LearnedLassoEncoder(
        dictionary=dictionary.astype(np.float32), alpha=0.1, max_iter=1, random_state=0
    ).fit(X[:1000].astype(np.float32))
    held_out = X[1500:].astype(np.float32)
    optimum = lasso_objective(
        held_out, sparse_encode(held_out, dictionary, alpha=0.1), dictionary, 0.1
    )
    gaps = [
        lasso_objective(held_out, encoder.transform(held_out), dictionary, 0.1) / optimum - 1
        for encoder in (start, trained)
    ]
    assert gaps[1] < 0.5 * gaps[0]
