"""Experiment: default encoders on given dictionaries whose atoms differ in norm.

A given dictionary need not have unit-norm atoms (an NMF's components,
training rows taken as atoms). The encoders then start their network from
ISTA steps per atom where the training rows gain from them (``norm_floor_``)
and scale the rates of the weights and thresholds by the atoms' typical
norm (see the User Guide's "Atoms of different norms"). This experiment
fits the default constructor (only ``dictionary`` and ``alpha``, and
``positive`` for the NMF's codes; ``random_state`` the seed) four ways:

- ``defaults``: as the package does;
- ``one step``: the network started from ISTA's one step ``1 / L``
  (``norm_floor_`` forced to None), the rates scaled;
- ``one rate``: the steps chosen, the rates not scaled;
- ``neither``: both switched off, as before either existed.

The switches replace the package's own functions for the run
(``sklearn_lsc._base.choose_norm_floor``,
``sklearn_lsc._training.parameter_groups``): they are not user settings.
It reports the held-out gap to the exact optimum of each, over seeds.

Problems: an NMF's 24 components of scikit-learn's digits (``alpha_H=0``:
atom norms a factor twelve apart; ``alpha_H="same"``: two) and a
MiniBatchNMF's, as the ``family`` suite fits them; 128 digits (rows centred, not normalized) and
128 8x8 image patches (centred, not normalized: contrast varies) taken as
atoms, ``alpha`` a tenth of ``alpha_max``; 256 Gaussian atoms in 100
dimensions of norms spread log-uniformly over [0.2, 5], and the same atoms
of unit norm (the control: nothing may change there).

Run ``python -m benchmarks.atom_norms`` (about 12 minutes on two cores).
Writes ``benchmarks/experiments/atom_norms.md`` and ``.json`` (``--name``,
``--output-dir``).
"""

import contextlib
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, load_sample_images
from sklearn.decomposition import NMF, MiniBatchNMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.image import extract_patches_2d

import sklearn_lsc._base as base_module
import sklearn_lsc._training as training_module
from benchmarks._experiment import run_experiment, seed_summary
from sklearn_lsc import LearnedLassoEncoder, lasso_alpha_max, lasso_objective, sparse_encode

MODES = ("defaults", "one step", "one rate", "neither")
N_TEST = 1000


def nmf_problem(alpha_H, model=NMF):
    def problem():
        X = load_digits().data / 16.0
        np.random.default_rng(0).shuffle(X)
        X_train, X_test = X[:1400], X[1400:]
        options = dict(alpha_W=0.001, alpha_H=alpha_H, l1_ratio=1.0, init="nndsvda", tol=1e-6)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NMF's convergence warning
            nmf = model(n_components=24, max_iter=2000, random_state=0, **options).fit(X_train)
        atoms = nmf.components_[np.linalg.norm(nmf.components_, axis=1) > 0]
        # The family suite's mapping: scikit-learn's alpha_W per feature.
        return X_train, X_test, dict(dictionary=atoms, alpha=0.001 * X.shape[1], positive=True)

    return problem


def rows_as_atoms(X, seed=0):
    """128 of the rows as atoms, 1,000 held out, at most 2,000 training rows; ``alpha``
    a tenth of the training rows' ``alpha_max``."""
    X = X[np.random.default_rng(seed).permutation(X.shape[0])]
    atoms, X_test, X_train = X[:128], X[128 : 128 + N_TEST], X[128 + N_TEST :][:2000]
    return X_train, X_test, dict(dictionary=atoms, alpha=0.1 * lasso_alpha_max(X_train, atoms))


def digits_raw():
    X = load_digits().data.astype(np.float32)
    return rows_as_atoms(X - X.mean(axis=1, keepdims=True))


def patches_raw():
    rng = np.random.RandomState(0)
    X = np.concatenate(
        [
            extract_patches_2d(
                image.mean(axis=2) / 255.0, (8, 8), max_patches=2500, random_state=rng
            ).reshape(-1, 64)
            for image in load_sample_images().images
        ]
    ).astype(np.float32)
    X -= X.mean(axis=1, keepdims=True)
    return rows_as_atoms(np.unique(X[np.linalg.norm(X, axis=1) > 0.05], axis=0))


def gaussian(spread):
    def problem():
        rng = np.random.default_rng(2)
        atoms = rng.standard_normal((256, 100))
        atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
        code = np.zeros((2000 + N_TEST, 256))
        support = np.argsort(rng.random(code.shape), axis=1)[:, :10]
        np.put_along_axis(code, support, rng.standard_normal((code.shape[0], 10)), axis=1)
        X = (code @ atoms + 0.01 * rng.standard_normal((code.shape[0], 100))).astype(np.float32)
        norms = np.exp(rng.uniform(np.log(1 / spread), np.log(spread), size=(256, 1)))
        atoms = (atoms * norms).astype(np.float32)
        X_train, X_test = X[N_TEST:], X[:N_TEST]
        return X_train, X_test, dict(dictionary=atoms, alpha=0.1 * lasso_alpha_max(X_train, atoms))

    return problem


PROBLEMS = {
    "NMF, alpha_H=0": nmf_problem(0.0),
    'NMF, alpha_H="same"': nmf_problem("same"),
    'MiniBatchNMF, alpha_H="same"': nmf_problem("same", MiniBatchNMF),
    "digits as atoms": digits_raw,
    "image patches as atoms": patches_raw,
    "Gaussian atoms, norms 0.2-5": gaussian(5.0),
    "Gaussian atoms, unit norms": gaussian(1.0),
}


@contextlib.contextmanager
def mode(name):
    """The package with one step and/or one rate for the run (see the module's docstring)."""
    choose, groups = base_module.choose_norm_floor, training_module.parameter_groups
    if name in ("one step", "neither"):
        base_module.choose_norm_floor = lambda *args: None
    if name in ("one rate", "neither"):
        training_module.parameter_groups = lambda network, scale, atom_scale: groups(
            network, scale, 1.0
        )
    try:
        yield
    finally:
        base_module.choose_norm_floor, training_module.parameter_groups = choose, groups


def gap_of(X, code, params, optimum):
    reached = lasso_objective(X, code.astype(np.float64), params["dictionary"], params["alpha"])
    return reached / optimum - 1


def measure(name, seeds, modes):
    X_train, X_test, params = PROBLEMS[name]()
    X64 = X_test.astype(np.float64)
    D64 = params["dictionary"].astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        exact = sparse_encode(
            X64, D64, alpha=params["alpha"], positive=params.get("positive", False),
            max_iter=50_000, tol=1e-12,
        )  # fmt: skip
    optimum = lasso_objective(X64, exact, D64, params["alpha"])
    norms = np.linalg.norm(params["dictionary"], axis=1)
    rows = []
    for seed in seeds:
        for mode_name in modes:
            with mode(mode_name), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                encoder = LearnedLassoEncoder(**params, random_state=seed).fit(X_train)
                seconds = time.perf_counter() - start
            row = {
                "problem": name, "mode": mode_name, "seed": seed,
                "n_train": int(X_train.shape[0]), "atoms": int(norms.size),
                "norms": [float(norms.min()), float(norms.max())],
                "norm_floor": encoder.norm_floor_, "architecture": encoder.architecture_,
                "gap": gap_of(X_test, encoder.transform(X_test), params, optimum),
                "fit_seconds": seconds, "epochs": encoder.n_iter_,
            }  # fmt: skip
            rows.append(row)
            print(
                f"{name}, seed {seed}, {mode_name}: gap {row['gap']:.3%} "
                f"({row['architecture']}, floor {row['norm_floor']}), {seconds:.0f} s",
                flush=True,
            )
    return rows


def summarize(rows):
    return seed_summary(
        rows,
        lambda runs: {
            "n_train": runs[0]["n_train"],
            "atoms": runs[0]["atoms"],
            "norms": runs[0]["norms"],
            "norm_floor": runs[0]["norm_floor"],
            "architectures": sorted({run["architecture"] for run in runs}),
        },
    )


def report(summary, info, seeds):
    lines = [
        "# Default encoders on dictionaries whose atoms differ in norm",
        "",
        f"{info['cpu']} ({info.get('vector_extensions') or 'vector extensions unknown'}), "
        f"{info['cores']} cores, torch {info['torch']}, numba {info.get('numba') or 'absent'}. "
        "Default constructors (only `dictionary`, `alpha`, and `positive` for the NMF's codes), "
        f"seeds {', '.join(map(str, seeds))}; held-out gap to the exact optimum "
        f"({N_TEST} rows; the NMF's: 397). `defaults`: the package as it is; `one step`: the "
        "network started from ISTA's 1 / L; `one rate`: the rates not scaled by the atoms' "
        "norm; `neither`: both, as before either existed.",
        "",
        "| problem | atoms (norms) | training rows | mode | mean gap | worst gap "
        "| norm_floor_ | network | fit (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        low, high = row["norms"]
        floor = "None" if row["norm_floor"] is None else f"{row['norm_floor']:.3g}"
        lines.append(
            f"| {row['problem']} | {row['atoms']} ({low:.3g}-{high:.3g}) | {row['n_train']:,} "
            f"| {row['mode']} | {row['gap']:.3%} | {row['worst_gap']:.3%} | {floor} "
            f"| {', '.join(row['architectures'])} | {row['fit_seconds']:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    return run_experiment(
        argv,
        description=__doc__.splitlines()[0],
        name="atom_norms",
        problems=PROBLEMS,
        modes=MODES,
        measure=measure,
        summarize=summarize,
        report=report,
    )


if __name__ == "__main__":
    sys.exit(main())
