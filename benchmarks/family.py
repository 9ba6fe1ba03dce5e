"""Default encoders on the rest of the structured family: nonnegative codes (NMF), trees, sets.

Three problems, default constructors (only the dictionary, the penalties and
``positive`` given), held-out gap to the exact optimum of the same problem,
side by side with FISTA stopped after a few iterations:

- ``nmf``: scikit-learn's ``NMF`` or ``MiniBatchNMF`` (24 components,
  ``alpha_W=0.001``, ``l1_ratio=1``) fitted on 1,400 digits scaled to [0, 1];
  ``LearnedLassoEncoder(dictionary=nmf.components_, positive=True,
  alpha=alpha_W * n_features)`` coded the other 397. With the models' default
  ``alpha_H="same"`` (atoms they zeroed are dropped), and for ``NMF`` also
  ``alpha_H=0`` (unpenalised atoms, whose norms then differ widely). Also
  reported: the largest difference between the model's ``transform`` and the
  exact nonnegative codes (the mapping the user guide gives), and the time
  to code 10,000 rows (the held-out ones repeated) by the encoder, by the
  model's own ``transform`` and by scikit-learn's
  ``sparse_encode(algorithm="lasso_cd", positive=True)`` with its defaults,
  each with its held-out gap.
- ``tree``: 64 features, 128 Gaussian atoms in 8 root groups of 16, each
  split into 2 groups of 8 (24 listed groups); each signal uses 3 atoms of
  one small group, plus noise; 2,000 training and 1,000 held-out signals;
  ``LearnedHiLassoEncoder(groups=tree, alpha=0.05, group_alpha=0.1,
  n_layers=3)`` with each structured architecture (3 layers: the issue's
  setting), timed as above against SPAMS' ``fistaTree`` (the optional
  ``spams-bin`` wheel; left out when it is missing) on the same tree, with
  the l1 term as singleton leaves, stopped at the fewest iterations (of 5,
  10, 20, ... 500) that code the held-out rows as well as the network.
- ``collaborative``: collaborative HiLasso, ``make_group_sparse_signals``
  with 64 features, 8 groups of 16 atoms, 2 active groups per signal shared
  by runs of 5 signals (the sets), noise 0.05; 2,000 training and 1,000
  held-out signals; ``LearnedHiLassoEncoder(groups=8, alpha=0.05,
  group_alpha=0.3, n_layers=3)`` with each structured architecture, fitted
  and coding in sets, against the exact collaborative optimum; timed against
  the same network coding rows alone (no sets: the price of joint coding)
  and against the package's batched FISTA with sets stopped at the fewest
  iterations that code as well.

Each encoder is timed in rounds interleaved with the solvers it is compared
with (five rounds; a function of a few milliseconds runs several times per
round), so that a ratio's two times meet the same spells of the machine's
noise. Everything runs in float64 (SPAMS' dtype). Run ``python -m benchmarks.family``
(``--quick``: the tree and collaborative problems, one architecture). Writes
``benchmarks/results/family.md`` and ``.json``.
"""

import argparse
import functools
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import NMF, MiniBatchNMF
from sklearn.decomposition import sparse_encode as sklearn_sparse_encode

from benchmarks._machine import machine_info
from benchmarks._report import add_output_argument, check_lines, finish
from benchmarks._spams import tree_solver
from benchmarks._timing import interleaved_medians
from sklearn_lsc import (
    LearnedHiLassoEncoder,
    LearnedLassoEncoder,
    hilasso_objective,
    lasso_objective,
    sparse_encode,
)
from sklearn_lsc.datasets import make_group_sparse_signals

FISTA_ITERATIONS = (5, 20, 50)
# SPAMS' fistaTree is stopped at the first of these that codes as well as the network.
SPAMS_ITERATIONS = (5, 10, 20, 50, 100, 200, 500)
N_TIMED = 10_000
# Rounds of interleaved timing (each network beside the solvers it is compared with).
TIMING_ROUNDS = 5
# The bars: a 3-layer tree network within 2% and 100x faster than
# SPAMS' fistaTree; the nonnegative encoder within 1%, 50x faster than
# scikit-learn's lasso_cd and 20x faster than MiniBatchNMF.transform.
TREE_TARGET = 0.02
TREE_SPEEDUP_TARGET = 100
NMF_TARGET = 0.01
LASSO_CD_SPEEDUP_TARGET = 50
NMF_SPEEDUP_TARGET = 20
# And a 3-layer collaborative network within 3%.
COLLABORATIVE_TARGET = 0.03


def norm(atoms):
    return np.linalg.norm(atoms, axis=1)


def gap(reached, optimum):
    return (reached - optimum) / optimum


def timed(functions, X_test):
    """Median seconds of each of ``functions`` (name: function of rows) on 10,000 rows
    (``X_test`` repeated), timed in interleaved rounds so that an encoder and the
    solvers it is compared with meet the same spells of the machine's noise."""
    X_timed = np.resize(X_test, (N_TIMED, X_test.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings: the gap says it
        runs = {name: functools.partial(function, X_timed) for name, function in functions.items()}
        return interleaved_medians(runs, TIMING_ROUNDS, min_seconds=0.2)


def quiet(function, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(X)


def nmf_rows(model, alpha_H):
    X = load_digits().data / 16.0
    np.random.default_rng(0).shuffle(X)
    X_train, X_test = X[:1400], X[1400:]
    alpha_W = 0.001
    options = dict(alpha_W=alpha_W, alpha_H=alpha_H, l1_ratio=1.0, init="nndsvda", tol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NMF's convergence warning
        nmf = model(n_components=24, max_iter=2000, random_state=0, **options).fit(X_train)
    kept = np.linalg.norm(nmf.components_, axis=1) > 0
    atoms, alpha = nmf.components_[kept], alpha_W * X.shape[1]
    exact = sparse_encode(X_test, atoms, alpha=alpha, positive=True, max_iter=20000, tol=1e-10)
    optimum = lasso_objective(X_test, exact, atoms, alpha)

    def gap_of(code):
        return gap(lasso_objective(X_test, code, atoms, alpha), optimum)

    start = time.perf_counter()
    encoder = LearnedLassoEncoder(dictionary=atoms, alpha=alpha, positive=True, random_state=0)
    encoder.fit(X_train)
    fit_seconds = time.perf_counter() - start
    solvers = {
        "encoder": encoder.transform,
        "nmf": lambda X: nmf.transform(X)[:, kept],
        # scikit-learn's alpha of lasso_cd is per feature, as ours (its Lasso
        # divides by n_features).
        "lasso_cd": lambda X: sklearn_sparse_encode(
            X, atoms, algorithm="lasso_cd", alpha=alpha, positive=True, n_jobs=None
        ),
    }
    seconds = timed(solvers, X_test)
    encoder_seconds, nmf_seconds, lasso_cd_seconds = (seconds[n] for n in solvers)
    code, nmf_code, lasso_cd_code = (quiet(solve, X_test) for solve in solvers.values())
    row = {
        "problem": f"{model.__name__}, alpha_H={alpha_H}",
        "atoms": int(atoms.shape[0]),
        "atom_norms": [float(norm(atoms).min()), float(norm(atoms).max())],
        "nmf_transform_difference": float(np.abs(nmf_code - exact).max()),
        "architecture": getattr(encoder, "architecture_", encoder.architecture),
        "n_layers": encoder.n_layers,
        "gap": gap_of(code),
        "fit_seconds": fit_seconds,
        "epochs": encoder.n_iter_,
        "encoder_seconds": encoder_seconds,
        "baselines": {
            f"{model.__name__}.transform": {"seconds": nmf_seconds, "gap": gap_of(nmf_code)},
            "sklearn lasso_cd": {"seconds": lasso_cd_seconds, "gap": gap_of(lasso_cd_code)},
        },
    }
    for k in FISTA_ITERATIONS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = sparse_encode(X_test, atoms, alpha=alpha, positive=True, max_iter=k, tol=0)
        row[f"fista_{k}"] = gap(lasso_objective(X_test, code, atoms, alpha), optimum)
    return [row]


def tree_rows(architectures):
    rng = np.random.default_rng(0)
    n_features, n_atoms = 64, 128
    D = rng.standard_normal((n_atoms, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    roots = [np.arange(16 * r, 16 * r + 16) for r in range(8)]
    groups = roots + [np.arange(8 * c, 8 * c + 8) for c in range(16)]

    def signals(n):
        codes = np.zeros((n, n_atoms))
        for i in range(n):
            child = rng.integers(16)
            atoms = rng.choice(np.arange(8 * child, 8 * child + 8), 3, replace=False)
            codes[i, atoms] = rng.standard_normal(3)
        return codes @ D + 0.05 * rng.standard_normal((n, n_features))

    X_train, X_test = signals(2000), signals(1000)
    options = dict(alpha=0.05, groups=groups, group_alpha=0.1)
    optimum = hilasso_objective(X_test, sparse_encode(X_test, D, **options), D, **options)
    fista = {}
    for k in FISTA_ITERATIONS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = sparse_encode(X_test, D, max_iter=k, tol=0, **options)
        fista[f"fista_{k}"] = gap(hilasso_objective(X_test, code, D, **options), optimum)

    def gap_of(code):
        return gap(hilasso_objective(X_test, code, D, **options), optimum)

    # SPAMS' FISTA after each number of iterations: its gap on the held-out rows.
    spams = {
        n_iter: tree_solver(D, alpha=0.05, groups=groups, group_alpha=0.1, n_iter=n_iter)
        for n_iter in SPAMS_ITERATIONS
    }
    spams_gaps = {n_iter: gap_of(solve(X_test)) for n_iter, solve in spams.items() if solve}

    def timed_against_spams(encoder, network_gap):
        """The encoder's seconds, and SPAMS with the fewest iterations that code as well
        as the network, timed with it."""
        if not spams_gaps:
            return timed({"encoder": encoder.transform}, X_test)["encoder"], {}
        n_iter = min(
            (n for n, value in spams_gaps.items() if value <= network_gap),
            default=max(spams_gaps),
        )
        seconds = timed({"encoder": encoder.transform, "spams": spams[n_iter]}, X_test)
        name = f"SPAMS fistaTree, {n_iter} iterations"
        return seconds["encoder"], {name: {"seconds": seconds["spams"], "gap": spams_gaps[n_iter]}}

    rows = []
    for architecture in architectures:
        start = time.perf_counter()
        encoder = LearnedHiLassoEncoder(
            dictionary=D, architecture=architecture, n_layers=3, random_state=0, **options
        ).fit(X_train)
        fit_seconds = time.perf_counter() - start
        code = encoder.transform(X_test)
        encoder_seconds, baselines = timed_against_spams(encoder, gap_of(code))
        rows.append(
            {
                "problem": "tree",
                "architecture": architecture,
                "n_layers": encoder.n_layers,
                "gap": gap_of(code),
                "fit_seconds": fit_seconds,
                "epochs": encoder.n_iter_,
                "encoder_seconds": encoder_seconds,
                "baselines": baselines,
                **fista,
            }
        )
    return rows


def collaborative_rows(architectures):
    set_size, n_train, n_test = 5, 2000, 1000
    X, D, _, _ = make_group_sparse_signals(
        n_samples=n_train + n_test, n_features=64, n_groups=8, group_size=16,
        n_active_groups=2, n_nonzero_per_group=4, noise=0.05, set_size=set_size,
        random_state=0,
    )  # fmt: skip
    sets = np.arange(X.shape[0]) // set_size
    X_train, X_test = X[:n_train], X[n_train:]
    sets_train, sets_test = sets[:n_train], sets[n_train:]
    options = dict(alpha=0.05, groups=8, group_alpha=0.3)

    def sets_of(n_rows):
        """The sets of ``X_test`` repeated to ``n_rows`` rows (each repetition's are new)."""
        return np.resize(sets_test, n_rows) + (np.arange(n_rows) // n_test) * (sets.max() + 1)

    def fista(X_rows, n_iter, tol=0.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings: the gap says it
            code = sparse_encode(
                X_rows, D, sets=sets_of(X_rows.shape[0]), max_iter=n_iter, tol=tol, **options
            )
        return code

    optimum = hilasso_objective(X_test, fista(X_test, 20000, 1e-10), D, sets=sets_test, **options)

    def gap_of(code):
        return gap(hilasso_objective(X_test, code, D, sets=sets_test, **options), optimum)

    fista_gaps = {n_iter: gap_of(fista(X_test, n_iter)) for n_iter in SPAMS_ITERATIONS}

    rows = []
    for architecture in architectures:
        start = time.perf_counter()
        encoder = LearnedHiLassoEncoder(
            dictionary=D, architecture=architecture, n_layers=3, random_state=0, **options
        ).fit(X_train, sets=sets_train)
        fit_seconds = time.perf_counter() - start

        def with_sets(X_rows, encoder=encoder):
            return encoder.transform(X_rows, sets=sets_of(len(X_rows)))

        code, alone_code = with_sets(X_test), encoder.transform(X_test)
        network_gap = gap_of(code)
        n_iter = min(
            (n for n, value in fista_gaps.items() if value <= network_gap),
            default=max(fista_gaps),
        )
        seconds = timed(
            {
                "encoder": with_sets,
                "alone": encoder.transform,
                "fista": lambda X_rows, n=n_iter: fista(X_rows, n),
            },
            X_test,
        )
        encoder_seconds, alone_seconds, fista_seconds = (
            seconds[n] for n in ("encoder", "alone", "fista")
        )
        rows.append(
            {
                "problem": f"collaborative (sets of {set_size})",
                "architecture": architecture,
                "n_layers": encoder.n_layers,
                "gap": network_gap,
                "fit_seconds": fit_seconds,
                "epochs": encoder.n_iter_,
                "encoder_seconds": encoder_seconds,
                "baselines": {
                    "the same network, rows alone (no sets)": {
                        "seconds": alone_seconds,
                        "gap": gap_of(alone_code),
                    },
                    f"FISTA with sets, {n_iter} iterations": {
                        "seconds": fista_seconds,
                        "gap": fista_gaps[n_iter],
                    },
                },
                **{f"fista_{k}": gap_of(fista(X_test, k)) for k in FISTA_ITERATIONS},
            }
        )
    return rows


def report(rows, checks, info):
    lines = [
        "# Default encoders on nonnegative (NMF), tree-structured and collaborative problems",
        "",
        f"{info['cpu']} ({info.get('vector_extensions') or 'vector extensions unknown'}), "
        f"{info['cores']} cores, torch {info['torch']}, numba {info.get('numba') or 'absent'}. "
        "Default constructors (tree, collaborative: 3 layers); held-out gap to the exact "
        f"optimum of the same problem; {N_TIMED:,} rows coded, float64.",
        "",
        "| problem | network | held-out gap | fit (s) | epochs | transform (ms) "
        "| FISTA 5 | FISTA 20 | FISTA 50 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [
            row["problem"], f"{row['architecture']}, {row['n_layers']} layers",
            f"{row['gap']:.2%}", f"{row['fit_seconds']:.1f}", str(row["epochs"]),
            f"{1e3 * row['encoder_seconds']:.1f}",
            *(f"{row[f'fista_{k}']:.1%}" for k in FISTA_ITERATIONS),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Exact solvers on the same rows (the encoder's time against theirs):",
        "",
        "| problem | solver | held-out gap | time (ms) | encoder faster by |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        for name, baseline in row["baselines"].items():
            speedup = baseline["seconds"] / row["encoder_seconds"]
            lines.append(
                f"| {row['problem']} ({row['architecture']}) | {name} | {baseline['gap']:.3%} "
                f"| {1e3 * baseline['seconds']:.0f} | {speedup:.0f}x |"
            )
    nmf = [row for row in rows if "NMF" in row["problem"]]
    if nmf:
        lines += ["", "NMF mapping (``alpha = alpha_W * n_features``):"]
        for row in nmf:
            low, high = row["atom_norms"]
            lines.append(
                f"- {row['problem']}: {row['atoms']} atoms of norms {low:.3g} to {high:.3g}; "
                f"largest |transform - exact codes| {row['nmf_transform_difference']:.1e}"
            )
    return "\n".join([*lines, "", "Targets:", *check_lines(checks)])


def speedup(row, baseline):
    """How many times faster the encoder coded than ``baseline`` (None when it did not run)."""
    timing = row["baselines"].get(baseline)
    return None if timing is None else timing["seconds"] / row["encoder_seconds"]


def checks_of(rows):
    checks = []
    tree = [row for row in rows if row["problem"] == "tree"]
    best = min(tree, key=lambda row: row["gap"])
    checks.append(
        (
            f"tree, 2,000 rows: best 3-layer default structured network's held-out gap <= "
            f"{TREE_TARGET:.0%}",
            f"{best['gap']:.2%} ({best['architecture']})",
            best["gap"] <= TREE_TARGET,
        )
    )
    spams = [name for name in best["baselines"] if name.startswith("SPAMS")]
    ratio = speedup(best, spams[0]) if spams else None
    checks.append(
        (
            f"tree: that network >= {TREE_SPEEDUP_TARGET}x faster than SPAMS fistaTree "
            "(at the network's gap)",
            "SPAMS not installed" if ratio is None else f"{ratio:.0f}x",
            ratio is not None and ratio >= TREE_SPEEDUP_TARGET,
        )
    )
    collaborative = [row for row in rows if row["problem"].startswith("collaborative")]
    if collaborative:
        best = min(collaborative, key=lambda row: row["gap"])
        checks.append(
            (
                f"collaborative, 2,000 rows: best 3-layer default structured network's "
                f"held-out gap <= {COLLABORATIVE_TARGET:.0%}",
                f"{best['gap']:.2%} ({best['architecture']})",
                best["gap"] <= COLLABORATIVE_TARGET,
            )
        )
    for row in rows:
        if "NMF" not in row["problem"] or not row["problem"].endswith("same"):
            continue  # the targets are the default NMF models'
        name = row["problem"].split(",")[0]
        checks.append(
            (
                f"{name}: default encoder's held-out gap <= {NMF_TARGET:.0%}",
                f"{row['gap']:.2%}",
                row["gap"] <= NMF_TARGET,
            )
        )
        ratio = speedup(row, "sklearn lasso_cd")
        checks.append(
            (
                f"{name}: >= {LASSO_CD_SPEEDUP_TARGET}x faster than scikit-learn's lasso_cd",
                f"{ratio:.0f}x",
                ratio >= LASSO_CD_SPEEDUP_TARGET,
            )
        )
        if name == "MiniBatchNMF":
            ratio = speedup(row, "MiniBatchNMF.transform")
            checks.append(
                (
                    f"MiniBatchNMF: >= {NMF_SPEEDUP_TARGET}x faster than its transform",
                    f"{ratio:.0f}x",
                    ratio >= NMF_SPEEDUP_TARGET,
                )
            )
    return checks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the tree problem, LBCoFB only")
    parser.add_argument("--name", default="family", help="the results' file name")
    add_output_argument(parser)
    args = parser.parse_args(argv)
    rows = []
    if not args.quick:
        rows += nmf_rows(NMF, "same") + nmf_rows(MiniBatchNMF, "same") + nmf_rows(NMF, 0.0)
    rows += tree_rows(["bcofb"] if args.quick else ["bcofb", "ista", "rescaled_lista"])
    rows += collaborative_rows(["bcofb"] if args.quick else ["bcofb", "ista"])
    checks = checks_of(rows)
    info = machine_info()
    payload = {"machine": info, "runs": rows}
    payload["checks"] = [{"name": n, "value": v, "met": ok} for n, v, ok in checks]
    return finish(args.output_dir, args.name, report(rows, checks, info), payload, checks)


if __name__ == "__main__":
    raise SystemExit(main())
