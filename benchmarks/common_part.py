"""Experiment: default encoders on rows that share a large common part.

Raw image patches (no centring, no normalisation: each patch's mean
brightness outweighs its texture) and raw digits are what a new user feeds
first. ``input_noise="auto"`` adds noise of half each row's root mean square
to the training rows; on such rows that noise drowns the part the codes must
resolve, and the set-aside rows' loss stops improving within the first few
epochs. ``fit`` then trains again without noise and keeps the better fit
(see the User Guide's ``input_noise="auto"``). This experiment fits each
problem three ways, with only ``alpha`` and ``dictionary`` or
``n_components`` set besides:

- ``defaults``: as the package does;
- ``noise 0.5``: ``input_noise=0.5`` given, the automatic noise of up to
  2,000 training rows without the second fit: the package before it;
- ``noise 0``: ``input_noise=0`` given.

It reports the held-out gap to the exact optimum (under each fit's own
dictionary), the noise kept (``input_noise_``), the held-out optimum itself
(a learned dictionary's quality: lower is better) and the fit time, over
seeds. The centred, normalized patches of the ``defaults`` suite are the
control: their fits do not stall, and nothing may change there.

Run ``python -m benchmarks.common_part`` (about 8 minutes on two cores).
Writes ``benchmarks/experiments/common_part.md`` and ``.json``.
"""

import statistics
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, load_sample_images
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.image import extract_patches_2d

from benchmarks import defaults
from benchmarks._experiment import run_experiment, seed_summary
from sklearn_lsc import LearnedLassoEncoder, lasso_objective, sparse_encode

MODES = {"defaults": {}, "noise 0.5": {"input_noise": 0.5}, "noise 0": {"input_noise": 0.0}}
N_TEST = 500


def raw_patches(n_train, n_components=None, given=False):
    """Raw 8x8 patches of both sample images, in [0, 1]; ``alpha`` a tenth of
    the training rows' median norm."""

    def problem(seed):
        rng = np.random.RandomState(seed)
        per_image = (n_train + N_TEST) // 2 + 1
        X = np.concatenate(
            [
                extract_patches_2d(
                    image.mean(axis=2) / 255.0, (8, 8), max_patches=per_image, random_state=rng
                ).reshape(-1, 64)
                for image in load_sample_images().images
            ]
        ).astype(np.float32)
        X = X[rng.permutation(X.shape[0])]
        X_train, X_test = X[N_TEST : N_TEST + n_train], X[:N_TEST]
        alpha = 0.1 * float(np.median(np.linalg.norm(X_train, axis=1)))
        if not given:
            return X_train, X_test, dict(n_components=n_components, alpha=alpha)
        atoms = X_train[rng.choice(n_train, 128, replace=False)]
        atoms = atoms / np.linalg.norm(atoms, axis=1, keepdims=True)
        return X_train, X_test, dict(dictionary=atoms, alpha=alpha)

    return problem


def raw_digits(seed):
    """The digits as loaded (pixel values 0-16), 48 learned atoms."""
    X = load_digits().data.astype(np.float32)
    X = X[np.random.RandomState(seed).permutation(X.shape[0])]
    X_train, X_test = X[N_TEST:], X[:N_TEST]
    alpha = 0.1 * float(np.median(np.linalg.norm(X_train, axis=1)))
    return X_train, X_test, dict(n_components=48, alpha=alpha)


def centred_patches(seed):
    """The ``defaults`` suite's patches-learned problem at 2,000 rows (the control)."""
    X_train, X_test, params = defaults.patches_learned(2000, seed)
    return X_train, X_test[:N_TEST], params


PROBLEMS = {
    "raw patches, 96 learned atoms, 2,000 rows": raw_patches(2000, n_components=96),
    "raw patches, 32 learned atoms, 600 rows": raw_patches(600, n_components=32),
    "raw patches, 128 given atoms, 2,000 rows": raw_patches(2000, given=True),
    "raw digits, 48 learned atoms, 1,297 rows": raw_digits,
    "centred unit patches, 96 learned atoms, 2,000 rows (control)": centred_patches,
}


def measure(name, seeds, modes):
    rows = []
    for seed in seeds:
        X_train, X_test, params = PROBLEMS[name](seed)
        X64 = X_test.astype(np.float64)
        for mode_name in modes:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                encoder = LearnedLassoEncoder(**params, **MODES[mode_name], random_state=seed).fit(
                    X_train
                )
                seconds = time.perf_counter() - start
                D64 = encoder.components_.astype(np.float64)
                exact = sparse_encode(X64, D64, alpha=params["alpha"], max_iter=50_000, tol=1e-12)
            optimum = lasso_objective(X64, exact, D64, params["alpha"])
            code = encoder.transform(X_test).astype(np.float64)
            row = {
                "problem": name, "mode": mode_name, "seed": seed,
                "gap": lasso_objective(X64, code, D64, params["alpha"]) / optimum - 1,
                "optimum": optimum, "input_noise": encoder.input_noise_,
                "epochs": encoder.n_iter_, "fit_seconds": seconds,
            }  # fmt: skip
            rows.append(row)
            print(
                f"{name}, seed {seed}, {mode_name}: gap {row['gap']:.3%}, noise "
                f"{row['input_noise']:g}, {row['epochs']} epochs, {seconds:.0f} s",
                flush=True,
            )
    return rows


def summarize(rows):
    return seed_summary(
        rows,
        lambda runs: {
            "optimum": statistics.mean(run["optimum"] for run in runs),
            "input_noise": sorted({run["input_noise"] for run in runs}),
            "epochs": statistics.mean(run["epochs"] for run in runs),
        },
    )


def report(summary, info, seeds):
    lines = [
        "# Default encoders on rows that share a large common part",
        "",
        f"{info['cpu']} ({info.get('vector_extensions') or 'vector extensions unknown'}), "
        f"{info['cores']} cores, torch {info['torch']}, numba {info.get('numba') or 'absent'}. "
        f"Seeds {', '.join(map(str, seeds))}; held-out gap to the exact optimum ({N_TEST} rows) "
        "under each fit's dictionary. `defaults`: only `alpha` and `dictionary` or "
        "`n_components` set; `noise 0.5`: `input_noise=0.5` given (the automatic noise "
        "without the second fit: the package before it); `noise 0`: `input_noise=0` given. "
        "`optimum`: the mean held-out optimal objective (for a learned dictionary, lower is a "
        "better dictionary).",
        "",
        "| problem | mode | mean gap | worst gap | input_noise_ | optimum | epochs | fit (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        noise = ", ".join(f"{value:g}" for value in row["input_noise"])
        lines.append(
            f"| {row['problem']} | {row['mode']} | {row['gap']:.3%} | {row['worst_gap']:.3%} "
            f"| {noise} | {row['optimum']:.4g} | {row['epochs']:.0f} "
            f"| {row['fit_seconds']:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    return run_experiment(
        argv,
        description=__doc__.splitlines()[0],
        name="common_part",
        problems=PROBLEMS,
        modes=MODES,
        measure=measure,
        summarize=summarize,
        report=report,
    )


if __name__ == "__main__":
    sys.exit(main())
