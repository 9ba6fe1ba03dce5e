"""Gregor & LeCun's main figure: relative gap against iterations and against layers.

On two problems, rows centred and scaled to unit norm, a dictionary of 128
training rows, ``alpha=0.1`` (DESIGN.md's calibration setting): scikit-learn's
digits (1500 training / 297 held-out rows) and 8x8 patches of scikit-learn's
bundled sample images (50,000 / 500). For ISTA, FISTA and coordinate descent,
the held-out relative gap ``(F - F*) / F*`` after each number of iterations;
for LISTA, LCoD and rescaled LISTA (LISTA with a learned momentum whose
layers move each code to the better of its best multiple and a point of the
plane of the new and previous codes), the gap of each depth. The
networks train on the Lasso objective with noisy minibatches
(``input_noise``: untied layers overfit 1500 digits otherwise) for a fixed
number of epochs (``TRAINING``).
For each depth, the number of FISTA iterations and of single CoD coordinate
updates that reach the same gap (Gregor & LeCun report about ten times less
computation than CoD: an LCoD layer costs about one coordinate update).

Target (issue 6): a trained 5-layer network matches the gap of at least 50
FISTA iterations. Run ``python -m benchmarks.convergence`` (``--quick``:
depths 1, 3, 5 on digits only; ``--n-patches N``: N training patches;
``--depths``; ``--architectures``; ``--patch-epochs``, ``--patch-noise`` and
``--patch-batch-size``: the patches' training; ``--seed``: the networks'
``random_state``; ``--name``: the results' file name). Writes
``benchmarks/results/convergence.md``, ``.json`` and ``.png``.
"""

import argparse
import importlib.util
import sys
import time

import numpy as np
import torch
from sklearn.datasets import load_sample_images
from sklearn.feature_extraction.image import extract_patches_2d

from benchmarks._machine import machine_info
from benchmarks._report import add_output_argument, check_lines, finish
from benchmarks._training import committed_training
from sklearn_lsc import LearnedLassoEncoder, lasso_objective, sparse_encode
from sklearn_lsc.datasets import load_digits_problem
from sklearn_lsc.solvers import cod_operators

ALPHA = 0.1
MAX_ITERATIONS = 200  # ISTA / FISTA iterations, and CoD sweeps of n_components updates
SHOWN = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200)
DEPTHS = (1, 2, 3, 5, 10)
TARGET_ITERATIONS = 50
ARCHITECTURES = ("lista", "lcod", "rescaled_lista")
# Training per problem: input noise relative to the rows' RMS, and epochs
# (all of them: the noisy loss would trip the early-stopping rule). Networks
# deeper than 5 layers train at a proportionally lower learning rate: at
# 1e-3, 10-layer LISTA blows up after about 100 epochs (and the encoder
# restores that epoch's network).
TRAINING = {
    "digits": dict(input_noise=0.25, max_iter=500, n_iter_no_change=500),
    "image patches": dict(input_noise=0.06, max_iter=100, n_iter_no_change=100),
}
N_PATCHES = 50_000  # training patches: on 20,000 the 5-layer rescaled LISTA overfits


def patch_problem(n_train=N_PATCHES, n_test=500, n_components=128, random_state=0):
    """8x8 grayscale patches of the sample images, centred and of unit norm."""
    rng = np.random.RandomState(random_state)
    patches = []
    for image in load_sample_images().images:
        gray = image.mean(axis=2) / 255.0
        patches.append(
            extract_patches_2d(gray, (8, 8), max_patches=n_train + n_test, random_state=rng)
        )
    X = np.concatenate(patches).reshape(-1, 64)
    X = X - X.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(X, axis=1)
    X = X[norms > 1e-2] / norms[norms > 1e-2, None]  # flat patches carry no structure
    X = X[rng.permutation(X.shape[0])][: n_train + n_test].astype(np.float32)
    X_train, X_test = X[:n_train], X[n_train:]
    dictionary = X_train[rng.choice(n_train, n_components, replace=False)]
    return X_train, X_test, dictionary


def gaps_of_iterations(X, dictionary, optimum, algorithm):
    """Gap after each of 1 .. MAX_ITERATIONS iterations of ISTA or FISTA."""
    return [
        lasso_objective(
            X, sparse_encode(X, dictionary, alpha=ALPHA, algorithm=algorithm, max_iter=k, tol=0.0),
            dictionary, ALPHA,
        ) / optimum - 1
        for k in range(1, MAX_ITERATIONS + 1)
    ]  # fmt: skip


def soft_threshold(values, threshold):
    return torch.sign(values) * (values.abs() - threshold).clamp_min(0.0)


def gaps_of_coordinate_updates(X, dictionary, optimum):
    """Gap after each single greedy coordinate update of CoD (the output ``h(B)``).

    The trajectory of :func:`sklearn_lsc.solvers.cod`, one update at a time:
    what an untrained LCoD of that many layers returns.
    """
    X_t, D = torch.from_numpy(X).double(), torch.from_numpy(dictionary).double()
    W, S, inv_diag = cod_operators(D)
    threshold = ALPHA * inv_diag
    B = X_t @ W
    code = torch.zeros_like(B)
    gaps = []
    for _ in range(MAX_ITERATIONS * D.shape[0]):
        code_bar = soft_threshold(B, threshold)
        selected = (code_bar - code).abs().argmax(dim=1, keepdim=True)
        change = code_bar.gather(1, selected) - code.gather(1, selected)
        B += change * S.index_select(0, selected.squeeze(1))
        code.scatter_add_(1, selected, change)
        output = soft_threshold(B, threshold)
        residual = X_t - output @ D
        value = 0.5 * residual.pow(2).sum(1) + ALPHA * output.abs().sum(1)
        gaps.append(float(value.mean()) / optimum - 1)
    return gaps


def steps_to_reach(gap, curve):
    """Smallest number of steps (1-based) whose gap is at most ``gap`` (None if none)."""
    reached = np.flatnonzero(np.asarray(curve) <= gap)
    return int(reached[0]) + 1 if reached.size else None


def run_problem(name, problem, depths, architectures, training, seed=0):
    X_train, X_test, dictionary = problem
    exact = sparse_encode(X_test.astype(np.float64), dictionary, alpha=ALPHA, tol=1e-12,
                          max_iter=20000)  # fmt: skip
    optimum = lasso_objective(X_test, exact, dictionary, ALPHA)
    curves = {
        algorithm: gaps_of_iterations(X_test, dictionary, optimum, algorithm)
        for algorithm in ("ista", "fista")
    }
    cod_updates = gaps_of_coordinate_updates(X_test, dictionary, optimum)
    networks = {}
    for architecture in architectures:
        networks[architecture] = []
        for depth in depths:
            start = time.perf_counter()
            encoder = LearnedLassoEncoder(
                alpha=ALPHA, dictionary=dictionary, architecture=architecture, n_layers=depth,
                random_state=seed, learning_rate=1e-3 * min(1.0, 5 / depth),
                **committed_training(**training),
            ).fit(X_train)  # fmt: skip
            code = encoder.transform(X_test)
            gap = lasso_objective(X_test, code, dictionary, ALPHA) / optimum - 1
            networks[architecture].append(
                {"depth": depth, "gap": gap, "fit_s": time.perf_counter() - start,
                 "fista_iterations": steps_to_reach(gap, curves["fista"]),
                 "cod_updates": steps_to_reach(gap, cod_updates)}
            )  # fmt: skip
            print(f"  {name}: {architecture} {depth} layers, gap {gap:.2%}", flush=True)
    n_atoms = dictionary.shape[0]
    # One CoD sweep (n_atoms updates) costs about one ISTA iteration.
    curves["cod (sweeps)"] = cod_updates[n_atoms - 1 :: n_atoms]
    return {"curves": curves, "networks": networks, "n_atoms": n_atoms}


def plot(results, path):
    """The gap curves and the networks' gaps; nothing without matplotlib (an optional extra)."""
    if importlib.util.find_spec("matplotlib") is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4), squeeze=False)
    for axis, (name, result) in zip(axes[0], results.items(), strict=True):
        for algorithm, curve in result["curves"].items():
            axis.loglog(np.arange(1, len(curve) + 1), curve, label=algorithm.upper())
        for architecture, rows in result["networks"].items():
            axis.loglog([row["depth"] for row in rows], [row["gap"] for row in rows], marker="o",
                        linewidth=2, label=f"{architecture.upper()} (layers)")  # fmt: skip
        axis.set_ylim(bottom=1e-6)  # CoD reaches float64 round-off within a few sweeps
        axis.set_xlabel("iterations / layers")
        axis.set_ylabel("held-out relative gap")
        axis.set_title(name)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="depths 1, 3, 5 on digits only")
    parser.add_argument("--n-patches", type=int, default=N_PATCHES,
                        help=f"training patches (default {N_PATCHES:,})")  # fmt: skip
    parser.add_argument("--depths", type=lambda text: tuple(int(d) for d in text.split(",")),
                        help="comma-separated network depths (default 1,2,3,5,10)")  # fmt: skip
    parser.add_argument("--architectures", type=lambda text: tuple(text.split(",")),
                        default=ARCHITECTURES,
                        help="comma-separated networks (default: all three)")  # fmt: skip
    parser.add_argument("--patch-epochs", type=int, default=TRAINING["image patches"]["max_iter"],
                        help="training epochs on the patches (default 100)")  # fmt: skip
    parser.add_argument("--patch-noise", type=float,
                        default=TRAINING["image patches"]["input_noise"],
                        help="input_noise on the patches (default 0.06)")  # fmt: skip
    parser.add_argument("--patch-batch-size", type=int, default=100,
                        help="minibatch size on the patches (default 100)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0,
                        help="random_state of the networks' training (default 0)")  # fmt: skip
    parser.add_argument("--name", default="convergence", help="name of the results' files")
    add_output_argument(parser)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.architectures) - set(ARCHITECTURES))
    if unknown:
        parser.error(f"unknown architectures {unknown}; choose from {list(ARCHITECTURES)}")
    depths = args.depths or ((1, 3, 5) if args.quick else DEPTHS)
    training = {
        "digits": TRAINING["digits"],
        "image patches": dict(input_noise=args.patch_noise, max_iter=args.patch_epochs,
                              n_iter_no_change=args.patch_epochs,
                              batch_size=args.patch_batch_size),
    }  # fmt: skip
    problems = {"digits": load_digits_problem(random_state=0)}
    if not args.quick:
        problems["image patches"] = patch_problem(n_train=args.n_patches)
    results = {
        name: run_problem(name, problem, depths, args.architectures, training[name], args.seed)
        for name, problem in problems.items()
    }

    lines = ["# Convergence: gap against iterations and layers", "",
             f"alpha={ALPHA}, 128 atoms"
             + ("" if args.quick else f", {args.n_patches} training patches")
             + f"; networks trained (seed {args.seed}) with {training}, learning rate "
             "1e-3 up to 5 layers, 5e-3 / layers beyond. A rescaled LISTA layer does the two "
             "products of a LISTA layer and more elementwise work (plus one product for the "
             "output): `python -m benchmarks.speed` times both.", ""]  # fmt: skip
    checks = []
    for name, result in results.items():
        lines += [f"## {name}", "", "| iterations | " + " | ".join(result["curves"]) + " |",
                  "|---" * (1 + len(result["curves"])) + "|"]  # fmt: skip
        for k in SHOWN:
            values = " | ".join(f"{curve[k - 1]:.2%}" for curve in result["curves"].values())
            lines.append(f"| {k} | {values} |")
        lines += ["", "| network | layers | gap | FISTA it. to match | CoD updates to match "
                  "| CoD updates / layers |", "|---|---|---|---|---|---|"]  # fmt: skip
        for architecture, rows in result["networks"].items():
            for row in rows:
                updates = row["cod_updates"]
                ratio = f"{updates / row['depth']:.0f}x" if updates else "-"
                lines.append(
                    f"| {architecture} | {row['depth']} | {row['gap']:.2%} | "
                    f"{row['fista_iterations'] or f'>{MAX_ITERATIONS}'} | "
                    f"{updates or '-'} | {ratio} |"
                )
        lines.append("")
        five = [row for rows in result["networks"].values() for row in rows if row["depth"] == 5]
        if not five:  # --depths without 5: no target to check
            continue
        best = min(five, key=lambda row: row["gap"])
        matched = best["fista_iterations"] or MAX_ITERATIONS + 1
        checks.append(
            (f"{name}: best 5-layer network matches >= {TARGET_ITERATIONS} FISTA iterations",
             f"{matched} (gap {best['gap']:.2%})", matched >= TARGET_ITERATIONS)
        )  # fmt: skip
    lines += check_lines(checks)
    payload = {"machine": machine_info(), "results": results, "checks": checks}
    return finish(
        args.output_dir, args.name, "\n".join(lines), payload, checks,
        draw=lambda path: plot(results, path),
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
