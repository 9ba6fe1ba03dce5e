"""What the experiments over problems, modes and seeds share: their folder, summary and runner.

An experiment (``python -m benchmarks.<name>``) fits each of its problems in
each of its modes for each seed; ``measure(problem, seeds, modes)`` returns
one row per fit, with at least ``problem``, ``mode``, ``gap`` and
``fit_seconds``. Its results go to ``benchmarks/experiments``, beside the
suites' reference results, and the history page includes them.
"""

import argparse
import pathlib
import statistics

from benchmarks._machine import machine_info
from benchmarks._report import RESULTS, finish

EXPERIMENTS = RESULTS.parent / "experiments"


def seed_summary(rows, fields):
    """One row per problem and mode: its seeds' count, mean and worst gap and mean
    fit time, and the entries ``fields(runs)`` adds (``runs``: that pair's rows)."""
    groups = {}
    for row in rows:
        groups.setdefault((row["problem"], row["mode"]), []).append(row)
    return [
        {
            "problem": problem,
            "mode": mode,
            "seeds": len(runs),
            "gap": statistics.mean(run["gap"] for run in runs),
            "worst_gap": max(run["gap"] for run in runs),
            **fields(runs),
            "fit_seconds": statistics.mean(run["fit_seconds"] for run in runs),
        }
        for (problem, mode), runs in groups.items()
    ]


def run_experiment(argv, *, description, name, problems, modes, measure, summarize, report):
    """Parse ``argv`` (``--problems``, ``--seeds``, ``--modes``, ``--name``,
    ``--output-dir``), measure, and write ``<name>.md`` and ``.json``.

    ``summarize(rows)`` makes the summary; ``report(summary, machine, seeds)``
    its markdown. Returns the exit code.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--problems", nargs="+", default=list(problems), choices=problems)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--modes", nargs="+", default=list(modes), choices=modes)
    parser.add_argument("--name", default=name)
    parser.add_argument("--output-dir", default=EXPERIMENTS, type=pathlib.Path)
    args = parser.parse_args(argv)
    rows = [row for problem in args.problems for row in measure(problem, args.seeds, args.modes)]
    summary = summarize(rows)
    machine = machine_info()
    payload = {"machine": machine, "seeds": args.seeds, "summary": summary, "runs": rows}
    return finish(args.output_dir, args.name, report(summary, machine, args.seeds), payload, [])
