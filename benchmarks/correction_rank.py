"""Experiment: rescaled LISTA's correction rank on 64 features, held-out gap and transform time.

The default network on 64 features (digits, 8x8 patches, the 64 x 128
Gaussian problem of the ``defaults`` suite) is a 5-layer rescaled LISTA
whose layers carry a learned correction of rank 16 (see
:class:`sklearn_lsc._networks.RescaledLISTA`). This experiment fits it with
the default constructor (only ``alpha`` and ``dictionary`` or
``n_components``, ``architecture="rescaled_lista"``, ``random_state`` the
seed) at each of ``--ranks`` (the class's rank set for the run: not a user
setting), measures the held-out gap to the exact optimum, and times its
``transform`` of 10,000 rows against a 5-layer LISTA's fitted on the same
rows with the same defaults, in interleaved rounds (the ``transform``
suite's reference). It asks whether a smaller rank meets the "out of the
box" issue's transform target (at most 1.5 times LISTA's time) and what it
costs in gap against that issue's targets (1% with 2,000 rows, 3% with 500).

``--long-training`` adds the convergence suite's training of its digits
problem (input noise 0.25, 500 epochs) at each rank: does the rank matter
more when trained longer?

Run ``python -m benchmarks.correction_rank`` (about 20 minutes on two
cores). Writes ``benchmarks/experiments/correction_rank.md`` and ``.json``
(``--name``, ``--output-dir``).
"""

import argparse
import pathlib
import statistics
import sys
import time

import numpy as np

from benchmarks._experiment import EXPERIMENTS
from benchmarks._machine import machine_info
from benchmarks._report import finish
from benchmarks._timing import interleaved_medians
from benchmarks.defaults import N_TIMED, PROBLEMS, exact, objective
from sklearn_lsc import LearnedLassoEncoder
from sklearn_lsc._networks import RescaledLISTA

PROBLEMS_64 = ("digits", "patches", "patches-learned", "gaussian-64x128")


def fit_with_rank(rank, params, X_train, seed):
    """A default rescaled LISTA whose correction has ``rank``, and its fit time."""
    default = RescaledLISTA._CORRECTION_RANK
    RescaledLISTA._CORRECTION_RANK = rank
    try:
        start = time.perf_counter()
        encoder = LearnedLassoEncoder(
            **params, architecture="rescaled_lista", random_state=seed
        ).fit(X_train)
        return encoder, time.perf_counter() - start
    finally:
        RescaledLISTA._CORRECTION_RANK = default


def measure(problem, n_train, seed, ranks, rounds):
    X_train, X_test, params = PROBLEMS[problem](n_train, seed)
    encoders, fit_seconds = {}, {}
    for rank in ranks:
        encoders[rank], fit_seconds[rank] = fit_with_rank(rank, params, X_train, seed)
    dictionary = encoders[ranks[0]].components_
    lista = LearnedLassoEncoder(
        dictionary=dictionary, alpha=params["alpha"], architecture="lista", random_state=seed
    ).fit(X_train)
    X_timed = np.resize(X_test, (N_TIMED, X_test.shape[1]))
    functions = {"lista": lambda: lista.transform(X_timed)}
    for rank, encoder in encoders.items():
        functions[rank] = lambda encoder=encoder: encoder.transform(X_timed)
    seconds = interleaved_medians(functions, rounds)
    rows = []
    X64 = X_test.astype(np.float64)
    optima = {}  # by dictionary: a given one is shared by every rank, learned ones differ
    for rank, encoder in encoders.items():
        D = encoder.components_.astype(np.float64)
        key = D.tobytes()
        if key not in optima:
            optima[key] = objective(X64, exact(X64, D, params, 20_000, 1e-12), D, params)
        optimum = optima[key]
        reached = objective(X64, encoder.transform(X_test).astype(np.float64), D, params)
        rows.append(
            {
                "problem": problem,
                "n_train": int(X_train.shape[0]),
                "requested": n_train,
                "seed": seed,
                "rank": rank,
                "gap": reached / optimum - 1,
                "fit_seconds": fit_seconds[rank],
                "transform_seconds": seconds[rank],
                "lista_transform_seconds": seconds["lista"],
                "ratio": seconds[rank] / seconds["lista"],
            }
        )
        print(
            f"{problem} {n_train} seed {seed} rank {rank}: gap {rows[-1]['gap']:.3%}, "
            f"{rows[-1]['ratio']:.2f}x LISTA's transform",
            flush=True,
        )
    return rows


def long_training_rows(ranks):
    """The convergence suite's digits problem and training (input noise 0.25, 500
    epochs): a 5-layer rescaled LISTA at each rank, its held-out gap."""
    from benchmarks._training import committed_training
    from benchmarks.convergence import ALPHA, TRAINING
    from sklearn_lsc.datasets import load_digits_problem

    X_train, X_test, dictionary = load_digits_problem(random_state=0)
    X64, D64 = X_test.astype(np.float64), dictionary.astype(np.float64)
    penalty = {"alpha": ALPHA}
    optimum = objective(X64, exact(X64, D64, penalty, 20_000, 1e-12), D64, penalty)
    params = dict(
        dictionary=dictionary, learning_rate=1e-3, **penalty,
        **committed_training(**TRAINING["digits"]),
    )  # fmt: skip
    rows = []
    for rank in ranks:
        encoder, seconds = fit_with_rank(rank, params, X_train, 0)
        reached = objective(X64, encoder.transform(X_test).astype(np.float64), D64, penalty)
        gap = reached / optimum - 1
        rows.append({"rank": rank, "gap": gap, "fit_seconds": seconds})
        print(f"digits, long training, rank {rank}: gap {gap:.3%}", flush=True)
    return rows


def summarize(rows):
    groups = {}
    for row in rows:
        groups.setdefault((row["problem"], row["requested"], row["rank"]), []).append(row)
    return [
        {
            "problem": problem,
            "requested": requested,
            "n_train": runs[0]["n_train"],
            "rank": rank,
            "seeds": len(runs),
            "gap": statistics.mean(run["gap"] for run in runs),
            "worst_gap": max(run["gap"] for run in runs),
            "ratio": statistics.mean(run["ratio"] for run in runs),
            "worst_ratio": max(run["ratio"] for run in runs),
            "fit_seconds": statistics.mean(run["fit_seconds"] for run in runs),
        }
        for (problem, requested, rank), runs in groups.items()
    ]


def report(summary, long_rows, info, seeds):
    lines = [
        "# Rescaled LISTA's correction rank on 64 features",
        "",
        f"{info['cpu']} ({info.get('vector_extensions') or 'vector extensions unknown'}), "
        f"{info['cores']} cores, torch {info['torch']}, numba {info.get('numba') or 'absent'}. "
        "5-layer rescaled LISTA with the correction's rank set for each run.",
    ]
    if summary:
        lines += [
            "",
            'Default constructors with `architecture="rescaled_lista"`; seeds '
            f"{', '.join(map(str, seeds))}; 10,000 rows coded, timed against a 5-layer LISTA "
            "fitted on the same rows (interleaved rounds, fused kernels).",
            "",
            "| problem | training rows | rank | mean gap | worst gap "
            "| transform / LISTA's (mean) | worst | fit (s) |",
            "|---|---|---|---|---|---|---|---|",
        ]
    for row in summary:
        lines.append(
            f"| {row['problem']} | {row['n_train']:,} | {row['rank']} | {row['gap']:.3%} | "
            f"{row['worst_gap']:.3%} | {row['ratio']:.2f}x | {row['worst_ratio']:.2f}x | "
            f"{row['fit_seconds']:.1f} |"
        )
    if long_rows:
        lines += [
            "",
            "Digits with the convergence suite's training (1,500 rows, input noise 0.25, "
            "500 epochs, seed 0):",
            "",
            "| rank | held-out gap | fit (s) |",
            "|---|---|---|",
            *(
                f"| {row['rank']} | {row['gap']:.3%} | {row['fit_seconds']:.0f} |"
                for row in long_rows
            ),
        ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS_64), choices=PROBLEMS)
    parser.add_argument("--sizes", nargs="+", type=int, default=[500, 2000])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--ranks", nargs="+", type=int, default=[16, 8, 4, 0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--long-training", action="store_true",
        help="also the convergence suite's digits training at each rank (a minute per rank)",
    )  # fmt: skip
    parser.add_argument("--name", default="correction_rank")
    parser.add_argument("--output-dir", default=EXPERIMENTS, type=pathlib.Path)
    args = parser.parse_args(argv)
    if any(rank < 0 for rank in args.ranks):
        parser.error("--ranks must be at least 0")
    rows = [
        row
        for problem in args.problems
        for n_train in args.sizes
        for seed in args.seeds
        for row in measure(problem, n_train, seed, args.ranks, args.rounds)
    ]
    long_rows = long_training_rows(args.ranks) if args.long_training else []
    summary = summarize(rows)
    machine = machine_info()
    payload = {
        "machine": machine, "seeds": args.seeds, "summary": summary, "runs": rows,
        "long_training": long_rows,
    }  # fmt: skip
    text = report(summary, long_rows, machine, args.seeds)
    finish(args.output_dir, args.name, text, payload, [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
