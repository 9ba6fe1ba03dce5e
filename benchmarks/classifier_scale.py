"""Experiment: the classifiers' default penalties on data of different scales.

Lasso codes scale with the signals, so a penalty given in the data's units
suits one scale only. Both classifiers' defaults were such penalties
(``StructuredSparseClassifier``: ``alpha=group_alpha=0.1``;
``SparseCodingClassifier``: ``LearnedLassoEncoder()``, ``alpha=1.0``); they
are now 0.1 times the typical norm of the training rows (the median norm of
the nonzero rows). Problems: scikit-learn's digits (ten classes, 70% to
train, 30% held out, stratified, seed 0) as loaded, times 1,000, divided by
1,000, rows scaled to unit norm, and rows centred then scaled to unit norm;
``make_group_sparse_signals`` with one active group per row (eight classes:
the group; 2,000 rows to train, 1,000 held out, seed 0).

The first table compares the default constructors (``random_state=0``;
``SparseCodingClassifier``'s default encoder has none: numpy's and torch's
global generators are seeded with 0 before each fit) with the former
defaults given explicitly. The second measures the factor: each classifier
with penalties ``f`` times the typical row norm given explicitly, ``f`` from
0.02 to 0.3, on the problems of distinct shapes. Held-out accuracy. A
last table names both sources of two-group mixtures with the structured
classifier (``n_active=2``), at each setting and at the classification
suite's explicit penalties.

Run ``python -m benchmarks.classifier_scale`` (about 12 minutes on two
cores). Writes ``benchmarks/experiments/classifier_scale.md`` and ``.json``.
"""

import argparse
import pathlib
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from benchmarks._experiment import EXPERIMENTS
from benchmarks._machine import machine_info
from benchmarks._report import finish
from sklearn_lsc import LearnedLassoEncoder, SparseCodingClassifier, StructuredSparseClassifier
from sklearn_lsc._scale import typical_row_norm
from sklearn_lsc.datasets import make_group_sparse_signals

FACTORS = (0.02, 0.05, 0.1, 0.2, 0.3)
SWEPT = ("digits", "digits, unit rows", "digits, centred unit rows", "group signals")


def _unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _centred_unit(X):
    return _unit(X - X.mean(axis=1, keepdims=True))


def problems():
    """``{name: (X_train, X_test, y_train, y_test)}``."""
    X, y = load_digits(return_X_y=True)
    split = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    X_train, X_test, y_train, y_test = split
    found = {"digits": split}
    for name, change in {
        "digits x 1000": lambda A: A * 1000.0,
        "digits / 1000": lambda A: A / 1000.0,
        "digits, unit rows": _unit,
        "digits, centred unit rows": _centred_unit,
    }.items():
        found[name] = (change(X_train), change(X_test), y_train, y_test)
    setting = dict(n_features=64, n_groups=8, group_size=16, n_nonzero_per_group=4, noise=0.05)
    G, _, _, active = make_group_sparse_signals(3000, n_active_groups=1, random_state=0, **setting)
    labels = active.argmax(axis=1)
    found["group signals"] = (G[:2000], G[2000:], labels[:2000], labels[2000:])
    return found


def classifiers(penalty=None):
    """``{name: (factory, seeds_globally)}``: a classifier with the penalty ``penalty``
    (None: each one's default; "former": its former default)."""
    if penalty is None:
        return {
            "structured": (lambda: StructuredSparseClassifier(random_state=0), False),
            "sparse coding": (SparseCodingClassifier, True),
        }
    if penalty == "former":
        structured = dict(alpha=0.1, group_alpha=0.1)
        encoder = dict(alpha=1.0)
    else:
        structured = dict(alpha=penalty, group_alpha=penalty)
        encoder = dict(alpha=penalty)
    return {
        "structured": (lambda: StructuredSparseClassifier(random_state=0, **structured), False),
        "sparse coding": (
            lambda: SparseCodingClassifier(LearnedLassoEncoder(random_state=0, **encoder)),
            False,
        ),
    }


def accuracy(factory, seeds_globally, data):
    X_train, X_test, y_train, y_test = data
    if seeds_globally:
        # random_state=None draws from numpy's global generator.
        np.random.seed(0)  # noqa: NPY002
        torch.manual_seed(0)
    with warnings.catch_warnings():
        # The former defaults on rows of unit norm warn that every code is zero.
        warnings.simplefilter("ignore", (ConvergenceWarning, UserWarning))
        start = time.perf_counter()
        classifier = factory().fit(X_train, y_train)
        seconds = time.perf_counter() - start
    return float(classifier.score(X_test, y_test)), seconds


def measure(data):
    rows = []
    for name, split in data.items():
        norm = typical_row_norm(split[0])
        settings = {"default": None, "former default": "former"}
        if name in SWEPT:
            settings.update({f"{factor:g} x norm": factor * norm for factor in FACTORS})
        for setting, penalty in settings.items():
            for classifier, (factory, seeds) in classifiers(penalty).items():
                score, seconds = accuracy(factory, seeds, split)
                rows.append(
                    {
                        "problem": name,
                        "classifier": classifier,
                        "setting": setting,
                        "accuracy": score,
                        "fit_seconds": seconds,
                        "typical_row_norm": norm,
                    }
                )
                print(f"{name}, {classifier}, {setting}: {score:.3f}", flush=True)
    return rows


def two_sources():
    """The structured classifier naming both sources of two-group mixtures
    (``benchmarks.classification``'s problem: 4,000 single-source rows, 16,000
    training mixtures, 1,000 held-out mixtures), with each penalty setting."""
    setting = dict(n_features=64, n_groups=8, group_size=16, n_nonzero_per_group=4, noise=0.05)
    X_train, _, _, single = make_group_sparse_signals(
        4000, n_active_groups=1, random_state=0, **setting
    )
    X_test, _, _, both = make_group_sparse_signals(
        1000, n_active_groups=2, random_state=0, **setting
    )
    norm = typical_row_norm(X_train)
    settings = {
        "default": {},
        "former default": dict(alpha=0.1, group_alpha=0.1),
        "the suite's (alpha=0.05, group_alpha=0.1)": dict(alpha=0.05, group_alpha=0.1),
        **{f"{factor:g} x norm": dict(alpha=factor * norm, group_alpha=factor * norm)
           for factor in FACTORS},
    }  # fmt: skip
    rows = []
    for name, penalty in settings.items():
        classifier = StructuredSparseClassifier(
            n_active=2, n_mixtures=4 * X_train.shape[0], random_state=0, **penalty
        ).fit(X_train, single.argmax(axis=1))
        named = float(np.mean(np.all(classifier.predict(X_test) == both, axis=1)))
        rows.append({"setting": name, "both_sources": named, "typical_row_norm": norm})
        print(f"two sources, {name}: {named:.3f}", flush=True)
    return rows


def _table(rows, settings, problems_shown):
    found = {(r["problem"], r["classifier"], r["setting"]): r["accuracy"] for r in rows}
    header = ["problem", "typical row norm"] + [
        f"{classifier}, {setting}"
        for classifier in ("structured", "sparse coding")
        for setting in settings
    ]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    norms = {r["problem"]: r["typical_row_norm"] for r in rows}
    for problem in problems_shown:
        cells = [problem, f"{norms[problem]:.3g}"] + [
            f"{found[problem, classifier, setting]:.1%}"
            for classifier in ("structured", "sparse coding")
            for setting in settings
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def report(rows, mixtures, info):
    shown = list(dict.fromkeys(row["problem"] for row in rows))
    swept = [name for name in shown if name in SWEPT]
    return "\n".join(
        [
            "# The classifiers' default penalties on data of different scales",
            "",
            f"{info['cpu']} ({info.get('vector_extensions') or 'vector extensions unknown'}), "
            f'{info["cores"]} cores, torch {info["torch"]}. Held-out accuracy. "default": the '
            'default constructor (penalties 0.1 x the typical row norm); "former default": '
            "`StructuredSparseClassifier(alpha=0.1, group_alpha=0.1)`, "
            "`SparseCodingClassifier(LearnedLassoEncoder(alpha=1.0))`.",
            "",
            *_table(rows, ["default", "former default"], shown),
            "",
            "Penalties given as a factor of the typical row norm (both `alpha` and "
            "`group_alpha` for the structured classifier):",
            "",
            *_table(rows, [f"{factor:g} x norm" for factor in FACTORS], swept),
            "",
            "The structured classifier with `n_active=2` on two-group mixtures of the group "
            f"signals (typical row norm {mixtures[0]['typical_row_norm']:.3g}): held-out "
            "mixtures whose two sources are both named.",
            "",
            "| penalties | both sources named |",
            "|---|---|",
            *[f"| {row['setting']} | {row['both_sources']:.1%} |" for row in mixtures],
        ]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="classifier_scale")
    parser.add_argument("--output-dir", default=EXPERIMENTS, type=pathlib.Path)
    args = parser.parse_args(argv)
    rows = measure(problems())
    mixtures = two_sources()
    machine = machine_info()
    payload = {"machine": machine, "factors": FACTORS, "runs": rows, "two_sources": mixtures}
    finish(args.output_dir, args.name, report(rows, mixtures, machine), payload, [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
