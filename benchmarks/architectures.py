"""Every Lasso network with default training, against the number of training rows.

For an incoherent dictionary (``gaussian-100x256`` of the ``defaults``
suite: 256 random unit atoms in 100 dimensions) and a coherent one
(``patches``: 128 training patches as atoms, 64 dimensions), each
architecture of ``LearnedLassoEncoder`` is fitted with every other
parameter at its default (``alpha``, ``dictionary``, ``architecture`` and
``random_state`` given) on 50 to 2,000 training rows, and the held-out
relative objective gap to the exact optimum is measured on 1,000 other
rows. It shows where the networks with analytic matrices (``step_lista``,
``alista``, ``hyper_lista``: a few learned numbers) win against those that
learn their matrices (``lista``, ``lcod``, ``rescaled_lista``), which is the
evidence for the default, ``"auto"`` (step LISTA or rescaled LISTA, kept by
the rows early stopping sets aside), also measured.

Check: the default architecture has the smallest mean gap at 2,000 rows on
each problem, or is within 25% of the smallest. Run ``python -m
benchmarks.architectures`` (``--quick``: the Gaussian problem, 200 and 2,000
rows, one seed). Writes ``benchmarks/results/architectures.md`` and ``.json``.
"""

import argparse
import statistics
import sys
import time

import numpy as np

from benchmarks._machine import machine_info
from benchmarks._report import add_output_argument, check_lines, finish
from benchmarks.defaults import PROBLEMS, exact, objective
from sklearn_lsc import LearnedLassoEncoder
from sklearn_lsc.encoders import LASSO_ARCHITECTURES

# The patches problem takes its 128 atoms from the training rows.
SIZES = {"gaussian-100x256": (50, 100, 200, 500, 2000), "patches": (200, 500, 2000)}
CHECKED_SIZE = 2000
# Every network, and the default's choice between two of them.
ARCHITECTURES = ("auto", *LASSO_ARCHITECTURES)
TOLERANCE = 1.25


def default_architecture():
    return LearnedLassoEncoder().architecture


def measure(problem, n_train, seed, architectures):
    X_train, X_test, params = PROBLEMS[problem](n_train, seed)
    X64 = X_test.astype(np.float64)
    dictionary = params["dictionary"].astype(np.float64)
    optimum = objective(X64, exact(X64, dictionary, params, 20_000, 1e-12), dictionary, params)
    rows = []
    for architecture in architectures:
        encoder = LearnedLassoEncoder(**params, architecture=architecture, random_state=seed)
        start = time.perf_counter()
        encoder.fit(X_train)
        fit_seconds = time.perf_counter() - start
        reached = objective(X64, encoder.transform(X_test).astype(np.float64), dictionary, params)
        rows.append(
            {
                "problem": problem,
                "n_train": n_train,
                "seed": seed,
                "architecture": architecture,
                "gap": reached / optimum - 1,
                "fit_seconds": fit_seconds,
                "epochs": encoder.n_iter_,
                "parameters": sum(p.numel() for p in encoder.network_.parameters()),
            }
        )
        print(
            f"{problem}, {n_train} rows, seed {seed}, {architecture}: gap "
            f"{100 * rows[-1]['gap']:.2f}%, fit {fit_seconds:.1f} s",
            flush=True,
        )
    return rows


def mean_gaps(runs):
    """``{(problem, n_train): {architecture: mean gap over seeds}}``."""
    grouped = {}
    for run in runs:
        key = (run["problem"], run["n_train"])
        grouped.setdefault(key, {}).setdefault(run["architecture"], []).append(run["gap"])
    return {
        key: {name: statistics.fmean(gaps) for name, gaps in gaps_of.items()}
        for key, gaps_of in grouped.items()
    }


def checks_of(runs):
    default = default_architecture()
    checks = []
    for (problem, n_train), gaps in mean_gaps(runs).items():
        if n_train != CHECKED_SIZE or default not in gaps:
            continue
        best = min(gaps, key=gaps.get)
        checks.append(
            (
                f"{problem}, {n_train:,} rows: default ({default}) within {TOLERANCE:.2f}x "
                "of the best mean gap",
                f"{100 * gaps[default]:.3f}% against {100 * gaps[best]:.3f}% ({best})",
                gaps[default] <= TOLERANCE * gaps[best],
            )
        )
    return checks


def report(runs, checks, info, seeds):
    gaps = mean_gaps(runs)
    architectures = sorted({run["architecture"] for run in runs})
    fit = {}
    for run in runs:
        fit.setdefault((run["problem"], run["n_train"], run["architecture"]), []).append(
            run["fit_seconds"]
        )
    lines = [
        "# Lasso networks against the number of training rows (default training)",
        "",
        f"{info['cpu']} ({info.get('vector_extensions') or 'vector extensions unknown'}), "
        f"{info['cores']} cores, torch {info['torch']}. Held-out relative objective gap to the "
        f"exact optimum, mean over seeds {', '.join(map(str, seeds))}; 1,000 held-out rows; "
        "5 layers; only `alpha`, `dictionary`, `architecture` and `random_state` set. "
        "Bold: the smallest gap of the row.",
        "",
        "| problem | training rows | " + " | ".join(architectures) + " |",
        "|---|---|" + "---|" * len(architectures),
    ]
    for (problem, n_train), gaps_of in gaps.items():
        best = min(gaps_of.values())
        cells = []
        for name in architectures:
            value = gaps_of.get(name)
            text = "-" if value is None else f"{100 * value:.2f}%"
            cells.append(f"**{text}**" if value == best else text)
        lines.append(f"| {problem} | {n_train:,} | " + " | ".join(cells) + " |")
    lines += ["", "Mean fit time (s):", ""]
    lines += [
        "| problem | training rows | " + " | ".join(architectures) + " |",
        "|---|---|" + "---|" * len(architectures),
    ]
    for problem, n_train in gaps:
        cells = [
            f"{statistics.fmean(fit[problem, n_train, name]):.1f}"
            if (problem, n_train, name) in fit
            else "-"
            for name in architectures
        ]
        lines.append(f"| {problem} | {n_train:,} | " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", "Checks:", *check_lines(checks)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", choices=sorted(SIZES), default=list(SIZES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--architectures",
        nargs="+",
        choices=ARCHITECTURES,
        default=list(ARCHITECTURES),
    )
    parser.add_argument("--quick", action="store_true", help="one problem, two sizes, one seed")
    parser.add_argument("--name", default="architectures", help="the results' file name")
    add_output_argument(parser)
    args = parser.parse_args(argv)
    sizes = dict(SIZES)
    if args.quick:
        args.problems, args.seeds = ["gaussian-100x256"], [0]
        sizes["gaussian-100x256"] = (200, CHECKED_SIZE)
    runs = []
    for problem in args.problems:
        for n_train in sizes[problem]:
            for seed in args.seeds:
                runs += measure(problem, n_train, seed, args.architectures)
    info = machine_info()
    checks = checks_of(runs)
    payload = {"machine": info, "seeds": args.seeds, "runs": runs}
    payload["checks"] = [{"name": n, "value": v, "met": ok} for n, v, ok in checks]
    return finish(
        args.output_dir, args.name, report(runs, checks, info, args.seeds), payload, checks
    )


if __name__ == "__main__":
    sys.exit(main())
