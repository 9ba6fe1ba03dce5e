"""Experiment: every architecture on one problem with its atoms scaled by 2^-6, 1 and 2^6.

The same problem with atoms ``c`` times larger (``alpha`` and
``group_alpha`` too) has codes ``c`` times smaller; a network trained on it
should code it as closely, relatively, at every ``c`` (see the User Guide's
"Atoms of different norms"). Signals from ``make_group_sparse_signals``
(3,000 rows of 64 features, 128 unit-norm atoms in 8 groups, seed 0),
2,000 to train and 1,000 held out; each Lasso architecture at ``alpha=0.1``
and each HiLasso one at ``alpha=0.05``, ``group_alpha=0.1``, defaults
otherwise (``random_state=0``). Reports the held-out gap to the exact
optimum at each scale.

Run ``python -m benchmarks.atom_scale`` (about 3 minutes on two cores).
Writes ``benchmarks/experiments/atom_scale.md`` and ``.json``.
"""

import argparse
import pathlib
import sys
import time
import warnings

from sklearn.exceptions import ConvergenceWarning

from benchmarks._experiment import EXPERIMENTS
from benchmarks._machine import machine_info
from benchmarks._report import finish
from sklearn_lsc import (
    LearnedHiLassoEncoder,
    LearnedLassoEncoder,
    hilasso_objective,
    lasso_objective,
    sparse_encode,
)
from sklearn_lsc._networks import NETWORKS, STRUCTURED_NETWORKS
from sklearn_lsc.datasets import make_group_sparse_signals

SCALES = (2.0**-6, 1.0, 2.0**6)
ARCHITECTURES = ["auto", *sorted(NETWORKS)] + [
    f"hilasso {name}" for name in sorted(STRUCTURED_NETWORKS)
]


def measure(architecture, scales):
    X, D, _, _ = make_group_sparse_signals(n_samples=3000, random_state=0)
    X_train, X_test = X[:2000], X[2000:]
    rows = []
    for scale in scales:
        atoms = D * scale
        if architecture.startswith("hilasso"):
            penalty = dict(alpha=0.05 * scale, group_alpha=0.1 * scale, groups=8)
            estimator = LearnedHiLassoEncoder(
                dictionary=atoms, architecture=architecture.split()[1], random_state=0, **penalty
            )

            def objective(code, atoms=atoms, penalty=penalty):
                return hilasso_objective(X_test, code, atoms, **penalty)
        else:
            penalty = dict(alpha=0.1 * scale)
            estimator = LearnedLassoEncoder(
                dictionary=atoms, architecture=architecture, random_state=0, **penalty
            )

            def objective(code, atoms=atoms, alpha=penalty["alpha"]):
                return lasso_objective(X_test, code, atoms, alpha)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            estimator.fit(X_train)
            seconds = time.perf_counter() - start
            exact = sparse_encode(X_test, atoms, max_iter=50_000, tol=1e-12, **penalty)
        gap = objective(estimator.transform(X_test)) / objective(exact) - 1
        rows.append(
            {"architecture": architecture, "scale": scale, "gap": gap, "fit_seconds": seconds}
        )
        print(f"{architecture}, atoms x {scale:g}: gap {gap:.3%}, {seconds:.1f} s", flush=True)
    return rows


def report(rows, info, scales):
    lines = [
        "# Every architecture at three scales of the atoms",
        "",
        f"{info['cpu']} ({info.get('vector_extensions') or 'vector extensions unknown'}), "
        f"{info['cores']} cores, torch {info['torch']}. `make_group_sparse_signals` (seed 0), "
        "2,000 training and 1,000 held-out rows; atoms, `alpha` and `group_alpha` times the "
        "scale; held-out gap to the exact optimum.",
        "",
        "| architecture | " + " | ".join(f"atoms x {scale:g}" for scale in scales) + " |",
        "|---|" + "---|" * len(scales),
    ]
    by_architecture = {}
    for row in rows:
        by_architecture.setdefault(row["architecture"], {})[row["scale"]] = row["gap"]
    for architecture, gaps in by_architecture.items():
        cells = " | ".join(f"{gaps[scale]:.3%}" for scale in scales)
        lines.append(f"| {architecture} | {cells} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", nargs="+", default=ARCHITECTURES, choices=ARCHITECTURES)
    parser.add_argument("--name", default="atom_scale")
    parser.add_argument("--output-dir", default=EXPERIMENTS, type=pathlib.Path)
    args = parser.parse_args(argv)
    rows = [row for name in args.architectures for row in measure(name, SCALES)]
    machine = machine_info()
    payload = {"machine": machine, "scales": SCALES, "runs": rows}
    finish(args.output_dir, args.name, report(rows, machine, SCALES), payload, [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
