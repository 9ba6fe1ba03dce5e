"""Default transform time against a 5-layer LISTA's, with and without the fused kernels.

For each problem of the ``defaults`` suite (HiLasso aside), the default
``LearnedLassoEncoder`` (only ``alpha`` and ``dictionary`` or ``n_components``
given, ``random_state`` the seed) is fitted on 2,000 rows; a 5-layer
``architecture="lista"`` encoder on the same dictionary, fitted on the same
rows with the same defaults, is the reference (its time depends on how
sparse its learned thresholds leave its codes: the kernels skip zero
codes). Both code 10,000 rows (the held-out ones repeated), timed in
interleaved rounds (one call of each per round, the median over the
rounds), with the fused numba kernels of their inference passes (when numba
is installed) and both without them (``SKLEARN_LSC_NUMBA=0``), in one run.

Target (issue "out of the box"): the default transform at most 1.5 times
LISTA's time. Run ``python -m benchmarks.transform`` (``--quick``: two
problems, three rounds). Writes ``benchmarks/results/transform.md`` and
``.json``.
"""

import argparse
import importlib.util
import os
import sys

import numpy as np

from benchmarks._machine import machine_info
from benchmarks._report import add_output_argument, check_lines, finish
from benchmarks._timing import interleaved_medians
from benchmarks.defaults import N_TIMED, PROBLEMS, TRANSFORM_RATIO_TARGET
from sklearn_lsc import LearnedLassoEncoder

SWITCH = "SKLEARN_LSC_NUMBA"
N_TRAIN = 2000


def kernels_off(function):
    """``function`` run with the fused kernels turned off."""

    def run():
        previous = os.environ.get(SWITCH)
        os.environ[SWITCH] = "0"
        try:
            return function()
        finally:
            if previous is None:
                del os.environ[SWITCH]
            else:
                os.environ[SWITCH] = previous

    return run


def measure(problem, seed, rounds):
    X_train, X_test, params = PROBLEMS[problem](N_TRAIN, seed)
    encoder = LearnedLassoEncoder(**params, random_state=seed).fit(X_train)
    lista = LearnedLassoEncoder(
        dictionary=encoder.components_,
        alpha=params["alpha"],
        architecture="lista",
        random_state=seed,
    ).fit(X_train)
    X_timed = np.resize(X_test, (N_TIMED, X_test.shape[1]))
    functions = {
        "lista": lambda: lista.transform(X_timed),
        "default": lambda: encoder.transform(X_timed),
        "lista_torch": kernels_off(lambda: lista.transform(X_timed)),
        "default_torch": kernels_off(lambda: encoder.transform(X_timed)),
    }
    seconds = interleaved_medians(functions, rounds)
    return {
        "problem": problem,
        "seed": seed,
        "architecture": encoder.architecture_,
        "n_features": X_timed.shape[1],
        "n_components": encoder.components_.shape[0],
        **{f"{name}_seconds": value for name, value in seconds.items()},
        "ratio": seconds["default"] / seconds["lista"],
        "ratio_torch": seconds["default_torch"] / seconds["lista_torch"],
    }


def checks_of(rows, fused):
    """The target on the worst problem, with the fused kernels (numba installed) and without."""
    name = f"default transform <= {TRANSFORM_RATIO_TARGET}x a 5-layer LISTA's"
    worst = max(row["ratio"] for row in rows)
    if fused:
        checks = [(f"{name} (fused kernels)", f"{worst:.2f}x", worst <= TRANSFORM_RATIO_TARGET)]
    else:
        checks = [(f"{name} (fused kernels)", "numba not installed", False)]
    worst_torch = max(row["ratio_torch"] for row in rows)
    checks.append(
        (f"{name} (torch pass)", f"{worst_torch:.2f}x", worst_torch <= TRANSFORM_RATIO_TARGET)
    )
    return checks


def report(rows, checks, info, fused):
    lines = [
        "# Default transform time against a 5-layer LISTA's",
        "",
        f"{info['cpu']} ({info.get('vector_extensions') or 'vector extensions unknown'}), "
        f"{info['cores']} cores, torch {info['torch']}, numba {info.get('numba') or 'absent'}. "
        f"{N_TIMED:,} rows coded; default encoders fitted on {N_TRAIN:,} rows (digits: 1,497); "
        "medians of interleaved rounds.",
        "",
        "| problem | features x atoms | default network | LISTA, fused kernels (ms) "
        "| default, fused kernels (ms) | ratio | LISTA, torch pass (ms) "
        "| default, torch pass (ms) | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        fused_cells = (
            [f"{1e3 * row['default_seconds']:.1f}", f"{row['ratio']:.2f}x"]
            if fused
            else ["-", "-"]
        )
        cells = [
            f"{row['problem']} (seed {row['seed']})",
            f"{row['n_features']} x {row['n_components']}",
            row["architecture"],
            f"{1e3 * row['lista_seconds']:.1f}",
            *fused_cells,
            f"{1e3 * row['lista_torch_seconds']:.1f}",
            f"{1e3 * row['default_torch_seconds']:.1f}",
            f"{row['ratio_torch']:.2f}x",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", "Targets:", *check_lines(checks)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    problems = [name for name in PROBLEMS if name != "hilasso"]
    parser.add_argument("--problems", nargs="+", choices=problems, default=problems)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="two problems, three rounds")
    parser.add_argument("--name", default="transform", help="the results' file name")
    add_output_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.problems, args.rounds = ["digits", "gaussian-100x256"], 3
    fused = importlib.util.find_spec("numba") is not None
    rows = []
    for problem in args.problems:
        for seed in args.seeds:
            row = measure(problem, seed, args.rounds)
            rows.append(row)
            print(
                f"{problem}, seed {seed}: LISTA {1e3 * row['lista_seconds']:.1f} ms, default "
                f"{1e3 * row['default_seconds']:.1f} ms ({row['ratio']:.2f}x), torch pass "
                f"{1e3 * row['default_torch_seconds']:.1f} ms ({row['ratio_torch']:.2f}x)",
                flush=True,
            )
    info = machine_info()
    checks = checks_of(rows, fused)
    payload = {"machine": info, "rounds": args.rounds, "fused_kernels": fused, "runs": rows}
    payload["checks"] = [{"name": n, "value": v, "met": ok} for n, v, ok in checks]
    return finish(args.output_dir, args.name, report(rows, checks, info, fused), payload, checks)


if __name__ == "__main__":
    sys.exit(main())
