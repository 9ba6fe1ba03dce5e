"""Reliability figures: the same relative gap at any scale, the learning rates training survives,
and the peak memory of ``sparse_encode``.

- **Scale**: ``LearnedLassoEncoder`` with only ``dictionary``, ``alpha`` and
  ``random_state`` given (everything else default), trained on 2,000 rows of
  a random Gaussian problem (64 features, 128 unit atoms, 5 nonzero
  coefficients plus noise 0.01, ``alpha=0.1``) and on the same rows and
  ``alpha`` times 1e-6 and 1e6, in float32 and float64, seeds 0-4; the
  held-out relative gap to the exact optimum on 1,000 other rows. Target:
  the mean gaps at every scale within 10% of each other. (Scales that
  differ by a power of two train to identical networks; 1e-6 and 1e6 give
  problems that differ inside by a factor under 1.5, so each seed's network
  differs, as it would for data perturbed by one part in a million.)
- **Learning rates**: the same problem (500 training rows, no early
  stopping, no input noise, 50 epochs, Adam) at learning rates from 1e-3 to
  10, for three
  architectures: whether training itself beat the untrained network on the
  training rows (no "did not improve" warning) and that what ``fit`` returns
  is never worse than the untrained network (the guard). Reports the largest
  rate at which training helped.
- **Memory**: ``sparse_encode`` (FISTA, 100 iterations) of 200,000 rows of
  64 features on 128 atoms, float32, in a fresh process: the growth of the
  peak resident memory, against the output's size; beside it, the same
  solver run on all rows at once (as before the batching).

Run ``python -m benchmarks.reliability`` (``--quick``: 500 rows and one seed
for the scales, four rates, 50,000 rows for the memory). Writes
``benchmarks/results/reliability.md`` and ``.json``.
"""

import argparse
import json
import subprocess
import sys
import warnings

import numpy as np

from benchmarks._machine import machine_info
from benchmarks._report import add_output_argument, check_lines, finish
from sklearn_lsc import LearnedLassoEncoder, lasso_objective, sparse_encode

SCALES = (1e-6, 1.0, 1e6)
SCALE_TOLERANCE = 0.10
RATES = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
ARCHITECTURES = ("rescaled_lista", "lista", "lcod")

MEMORY_SCRIPT = """
import json, resource, sys
import numpy as np, torch
from sklearn_lsc import sparse_encode
from sklearn_lsc.solvers import _solve
n_rows, batched = int(sys.argv[1]), sys.argv[2] == "batched"
rng = np.random.default_rng(0)
D = rng.standard_normal((128, 64)).astype(np.float32)
D /= np.linalg.norm(D, axis=1, keepdims=True)
X = np.empty((n_rows, 64), dtype=np.float32)  # filled in chunks: no large temporary
for start in range(0, n_rows, 10_000):
    X[start : start + 10_000] = rng.standard_normal((min(10_000, n_rows - start), 64))
sparse_encode(X[:100], D, alpha=0.5, max_iter=2, tol=0.0)  # libraries loaded, pools made
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if batched:
    code = sparse_encode(X, D, alpha=0.5, max_iter=100, tol=0.0)
else:  # the solver on every row at once, as sparse_encode ran before batching
    with torch.inference_mode():
        code = _solve(torch.from_numpy(X), torch.from_numpy(D), 0.5, "fista",
                      100, 0.0, None)[0].numpy()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_bytes": (after - before) * 1024, "output_bytes": code.nbytes}))
"""


def gaussian_problem(n_train, n_test=1000, n_features=64, n_components=128, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    n = n_train + n_test
    codes = np.zeros((n, n_components))
    for row in range(n):
        support = rng.choice(n_components, size=5, replace=False)
        codes[row, support] = rng.standard_normal(5)
    X = codes @ D + 0.01 * rng.standard_normal((n, n_features))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X[:n_train], X[n_train:], D


def relative_gap(X, code, D, alpha):
    optimum = sparse_encode(X, D, alpha=alpha, tol=1e-10, max_iter=5000)
    best = lasso_objective(X, optimum, D, alpha)
    return (lasso_objective(X, code, D, alpha) - best) / best


def scale_rows(n_train, seeds):
    X_train, X_test, D = gaussian_problem(n_train)
    rows = []
    for dtype in (np.float32, np.float64):
        for scale in SCALES:
            alpha = 0.1 * scale
            for seed in seeds:
                encoder = LearnedLassoEncoder(
                    dictionary=D.astype(dtype), alpha=alpha, random_state=seed
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    encoder.fit((X_train * scale).astype(dtype))
                code = encoder.transform((X_test * scale).astype(dtype)).astype(np.float64)
                gap = relative_gap(X_test * scale, code, D, alpha)
                rows.append(
                    {"dtype": np.dtype(dtype).name, "scale": scale, "seed": seed, "gap": gap,
                     "signal_scale_": encoder.signal_scale_, "epochs": encoder.n_iter_}
                )  # fmt: skip
                print(
                    f"scale {scale:g} {np.dtype(dtype).name} seed {seed}: gap {100 * gap:.3f}%",
                    flush=True,
                )
    return rows


def rate_rows(n_train, rates):
    X_train, _, D = gaussian_problem(n_train)
    rows = []
    for architecture in ARCHITECTURES:
        params = dict(dictionary=D, alpha=0.1, architecture=architecture, random_state=0)
        params.update(early_stopping=False, input_noise=0.0)  # the learning rate alone
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            untrained = LearnedLassoEncoder(**params, learning_rate=1e-12, max_iter=1)
            untrained.fit(X_train)
        untrained_objective = lasso_objective(X_train, untrained.transform(X_train), D, 0.1)
        for rate in rates:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                encoder = LearnedLassoEncoder(**params, learning_rate=rate, max_iter=50)
                try:
                    encoder.fit(X_train)
                except ValueError:  # diverged to a non-finite loss: refused, not returned
                    encoder = None
            kept_untrained = any("did not improve" in str(w.message) for w in caught)
            ratio = None
            if encoder is not None:
                objective = lasso_objective(X_train, encoder.transform(X_train), D, 0.1)
                ratio = objective / untrained_objective
            rows.append(
                {"architecture": architecture, "learning_rate": rate,
                 "raised": encoder is None,
                 "training_helped": encoder is not None and not kept_untrained,
                 "objective_over_untrained": ratio}
            )  # fmt: skip
            print(f"{architecture} lr {rate:g}: {rows[-1]}", flush=True)
    return rows


def memory_rows(n_rows):
    rows = []
    for mode in ("batched", "all-rows"):
        output = subprocess.run(
            [sys.executable, "-c", MEMORY_SCRIPT, str(n_rows), mode],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        result = json.loads(output.strip().splitlines()[-1])
        result.update(
            mode=mode, rows=n_rows, ratio=result["growth_bytes"] / result["output_bytes"]
        )
        rows.append(result)
        print(f"sparse_encode {mode}: peak growth {result['ratio']:.2f} x the output", flush=True)
    return rows


def report(scales, rates, memory, checks, info):
    lines = [
        "# Reliability: any scale, any learning rate, bounded memory",
        "",
        f"Machine: {info['cpu']} ({info['vector_extensions']}), {info['cores']} cores, "
        f"torch {info['torch']}.",
        "",
        "## The same problem at three scales (default constructor)",
        "",
        "| dtype | scale | seed | held-out gap | signal_scale_ | epochs |",
        "|---|---|---|---|---|---|",
    ]
    for row in scales:
        lines.append(
            f"| {row['dtype']} | {row['scale']:g} | {row['seed']} | {100 * row['gap']:.3f}% | "
            f"{row['signal_scale_']:.3g} | {row['epochs']} |"
        )
    lines += [
        "",
        "## Adam's learning rate (500 rows, 50 epochs, no early stopping)",
        "",
        "| architecture | learning rate | training helped | objective / untrained's |",
        "|---|---|---|---|",
    ]
    for row in rates:
        if row["raised"]:
            helped, ratio = "no: diverged, fit raised ValueError", "-"
        else:
            helped = "yes" if row["training_helped"] else "no (untrained kept, warned)"
            ratio = f"{row['objective_over_untrained']:.4f}"
        lines.append(f"| {row['architecture']} | {row['learning_rate']:g} | {helped} | {ratio} |")
    lines += [
        "",
        "## sparse_encode's peak memory (FISTA, 100 iterations, float32, 64 x 128)",
        "",
        "| rows | mode | peak growth | output | ratio |",
        "|---|---|---|---|---|",
    ]
    for row in memory:
        lines.append(
            f"| {row['rows']:,} | {row['mode']} | {row['growth_bytes'] / 2**20:.0f} MiB | "
            f"{row['output_bytes'] / 2**20:.0f} MiB | {row['ratio']:.2f} |"
        )
    return "\n".join([*lines, "", "## Checks", "", *check_lines(checks)])


def checks_of(scales, rates, memory):
    checks = []
    for dtype in ("float32", "float64"):
        means = [
            np.mean([row["gap"] for row in scales if (row["dtype"], row["scale"]) == (dtype, s)])
            for s in SCALES
        ]
        spread = max(means) / min(means) - 1
        shown = ", ".join(f"{s:g}: {100 * m:.3f}%" for s, m in zip(SCALES, means, strict=True))
        checks.append(
            (f"{dtype} mean gaps over the seeds at each scale within "
             f"{100 * SCALE_TOLERANCE:.0f}% of each other", f"{shown}; spread {100 * spread:.1f}%",
             spread <= SCALE_TOLERANCE)
        )  # fmt: skip
    worst = max(r["objective_over_untrained"] for r in rates if not r["raised"])
    checks.append(
        ("fit never returns a model worse than the untrained network",
         f"worst objective {worst:.4f} x untrained's", worst <= 1 + 1e-6)
    )  # fmt: skip
    for architecture in ARCHITECTURES:
        helped = [r["learning_rate"] for r in rates if r["architecture"] == architecture
                  and r["training_helped"]]  # fmt: skip
        checks.append(
            (f"{architecture} training helps at the default learning rate 1e-3",
             f"largest rate that helped: {max(helped):g}" if helped else "none helped",
             RATES[0] in helped)
        )  # fmt: skip
    batched = next(row for row in memory if row["mode"] == "batched")
    checks.append(
        ("sparse_encode's peak memory growth at most twice its output",
         f"{batched['ratio']:.2f} x", batched["ratio"] <= 2.0)
    )  # fmt: skip
    return checks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 rows, 4 rates, 50,000 rows")
    parser.add_argument("--name", default="reliability", help="the results' file name")
    parser.add_argument(
        "--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4], help="seeds of the scale runs"
    )
    add_output_argument(parser)
    args = parser.parse_args(argv)
    n_train = 500 if args.quick else 2000
    rates = (1e-3, 0.1, 1.0, 10.0) if args.quick else RATES
    scales = scale_rows(n_train, [0] if args.quick else args.seeds)
    rate_results = rate_rows(500, rates)
    memory = memory_rows(50_000 if args.quick else 200_000)
    checks = checks_of(scales, rate_results, memory)
    info = machine_info()
    payload = {
        "machine": info,
        "scales": scales,
        "learning_rates": rate_results,
        "memory": memory,
        "checks": [{"name": name, "value": value, "met": ok} for name, value, ok in checks],
    }
    return finish(args.output_dir, args.name, report(scales, rate_results, memory, checks, info),
                  payload, checks)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
