"""The online issue's targets: the texture stream of Figure 2, measured in one run.

Three textures in sequence (8x8 patches of ``brick``, ``grass`` and ``gravel``
from scikit-image, 10,000 each), 64 atoms, windows of 1000 vectors advanced by
100, 4-layer networks. Patches are centred and divided by the standard
deviation of the offline set's pixels (one number), so that ``alpha=1``, the
paper's value, gives sparse codes (about 10 nonzeros of 64 here).

Compared on the Lasso objective of each incoming step of 100 vectors, coded
by each model as it was before it saw them:

1. ``OnlineSparseModeler`` (default settings; and with LCoD layers, the
   paper's choice);
2. exact online dictionary learning: scikit-learn's
   ``MiniBatchDictionaryLearning.partial_fit`` on each step (exact LARS
   codes inside), the step's objective from exact codes of the dictionary
   before the update;
3. exact offline: a dictionary learned on a separate 6000-patch set, exact
   codes;
4. and 5. offline networks on that dictionary, trained on the 6000 patches
   with the regression (G-L) and the Lasso objective.

Targets: the online model's mean objective over the stream is within 10% of
exact online dictionary learning's; it falls within each texture block; it
processes the stream at least 10x faster than exact online learning (wall
time of all ``partial_fit`` calls of each, in the same run, after a warm-up).

Run ``python -m benchmarks.online`` (needs scikit-image and matplotlib).
Writes ``benchmarks/results/online.md``, ``online.json`` and ``online.png``.
"""

import argparse
import sys
import time

import numpy as np
from sklearn.decomposition import MiniBatchDictionaryLearning

from benchmarks._machine import machine_info
from benchmarks._report import add_output_argument, check_lines, finish
from benchmarks._training import committed_training
from sklearn_lsc import (
    LearnedLassoEncoder,
    OnlineSparseModeler,
    lasso_objective,
    sparse_encode,
)
from sklearn_lsc.datasets import load_texture_patches

TEXTURES = ("brick", "grass", "gravel")
ALPHA = 1.0
N_COMPONENTS = 64
STEP = 100
N_LAYERS = 4
GAP_TARGET = 0.10
SPEEDUP_TARGET = 10


def texture_data(n_per_texture, n_offline_per_texture):
    """The stream and a separate offline set, centred and scaled by the offline set."""
    stream, texture = load_texture_patches(TEXTURES, n_per_texture, random_state=0)
    offline, _ = load_texture_patches(TEXTURES, n_offline_per_texture, random_state=1)
    stream = stream - stream.mean(axis=1, keepdims=True)
    offline = offline - offline.mean(axis=1, keepdims=True)
    scale = offline.std()
    return (stream / scale).astype(np.float32), (offline / scale).astype(np.float32), texture


def steps(stream):
    return [stream[start : start + STEP] for start in range(0, stream.shape[0], STEP)]


def exact_objective(X, dictionary):
    code = sparse_encode(X, dictionary, alpha=ALPHA, tol=1e-6, max_iter=2000)
    return lasso_objective(X, code, dictionary, ALPHA)


def run_online_modeler(stream, **params):
    model = OnlineSparseModeler(
        n_components=N_COMPONENTS, alpha=ALPHA, n_layers=N_LAYERS, random_state=0, **params
    )
    start = time.perf_counter()
    for chunk in steps(stream):
        model.partial_fit(chunk)
    seconds = time.perf_counter() - start
    return np.asarray(model.objective_curve_), seconds


def run_exact_online(stream):
    model = MiniBatchDictionaryLearning(
        n_components=N_COMPONENTS, alpha=ALPHA, batch_size=STEP, random_state=0
    )
    curve, seconds = [np.nan], 0.0  # nothing to code the first step with
    for index, chunk in enumerate(steps(stream)):
        if index:
            curve.append(exact_objective(chunk, model.components_))
        start = time.perf_counter()
        model.partial_fit(chunk)
        seconds += time.perf_counter() - start
    return np.asarray(curve), seconds


def offline_rows(stream, offline):
    start = time.perf_counter()
    learner = MiniBatchDictionaryLearning(
        n_components=N_COMPONENTS, alpha=ALPHA, batch_size=STEP, max_iter=20, random_state=0
    ).fit(offline)
    dictionary = learner.components_.astype(np.float32)
    learn_s = time.perf_counter() - start
    start = time.perf_counter()
    exact = np.array([exact_objective(chunk, dictionary) for chunk in steps(stream)])
    rows = {"exact offline": (exact, learn_s + time.perf_counter() - start)}
    for objective in ("regression", "lasso"):
        start = time.perf_counter()
        encoder = LearnedLassoEncoder(
            alpha=ALPHA,
            dictionary=dictionary,
            architecture="lista",
            n_layers=N_LAYERS,
            objective=objective,
            random_state=0,
            **committed_training(),
        ).fit(offline)
        curve = [
            lasso_objective(chunk, encoder.transform(chunk), dictionary, ALPHA)
            for chunk in steps(stream)
        ]
        label = "network offline, G-L" if objective == "regression" else "network offline, Lasso"
        rows[label] = (np.asarray(curve), learn_s + time.perf_counter() - start)
    return rows


def warm_up(stream):
    """Run each timed method once on a little data: one-time library set-up is not timed."""
    run_online_modeler(stream[: 20 * STEP])
    run_exact_online(stream[: 5 * STEP])


def plot(curves, texture_steps, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 4.5))
    for name, curve in curves.items():
        axes.plot(np.arange(1, curve.size + 1), curve, label=name, linewidth=1)
    for boundary in texture_steps[1:]:
        axes.axvline(boundary + 0.5, color="gray", linestyle=":")
    axes.set_xlabel(f"step ({STEP} new patches each)")
    axes.set_ylabel("Lasso objective of the new patches")
    axes.set_title("Texture stream: " + " / ".join(TEXTURES))
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-texture", type=int, default=10_000)
    parser.add_argument("--n-offline-per-texture", type=int, default=2000)
    add_output_argument(parser)
    args = parser.parse_args(argv)

    stream, offline, texture = texture_data(args.n_per_texture, args.n_offline_per_texture)
    print(f"stream: {stream.shape[0]} patches, offline set: {offline.shape[0]}", flush=True)
    warm_up(stream)
    results = {}
    print("OnlineSparseModeler", flush=True)
    results["OnlineSparseModeler"] = run_online_modeler(stream)
    results["OnlineSparseModeler, LCoD layers"] = run_online_modeler(stream, architecture="lcod")
    print("exact online dictionary learning", flush=True)
    results["exact online (MiniBatchDictionaryLearning)"] = run_exact_online(stream)
    print("offline models", flush=True)
    results.update(offline_rows(stream, offline))

    # Step 1 has no exact-online value (no dictionary before it): compare from step 2.
    means = {name: float(np.mean(curve[1:])) for name, (curve, _) in results.items()}
    exact_name = "exact online (MiniBatchDictionaryLearning)"
    ours, ours_s = results["OnlineSparseModeler"]
    exact_s = results[exact_name][1]
    block_steps = args.n_per_texture // STEP
    blocks = ours.reshape(len(TEXTURES), block_steps)
    falls = [(float(block[:10].mean()), float(block[-10:].mean())) for block in blocks]

    lines = [
        "# Online targets (texture stream, Figure 2 of Sprechmann et al.)",
        "",
        f"{stream.shape[0]} patches ({' / '.join(TEXTURES)}), {N_COMPONENTS} atoms, "
        f"alpha={ALPHA}, steps of {STEP}, {N_LAYERS}-layer networks.",
        "",
        "| method | mean objective (steps 2-) | vs exact online | wall time (s) |",
        "|---|---|---|---|",
    ]
    for name, (_, seconds) in results.items():
        ratio = means[name] / means[exact_name] - 1
        lines.append(f"| {name} | {means[name]:.4f} | {ratio:+.2%} | {seconds:.2f} |")
    lines += ["", "Mean objective of the first and last 10 steps of each block (ours):", ""]
    lines += [
        f"- {name}: {first:.3f} -> {last:.3f}"
        for name, (first, last) in zip(TEXTURES, falls, strict=True)
    ]
    gap = means["OnlineSparseModeler"] / means[exact_name] - 1
    checks = [
        (
            f"mean objective within {GAP_TARGET:.0%} of exact online",
            f"{gap:+.2%}",
            gap <= GAP_TARGET,
        ),
        (
            "objective falls within each texture block",
            ", ".join(f"{first:.2f}->{last:.2f}" for first, last in falls),
            all(last < first for first, last in falls),
        ),
        (
            f"stream processed >= {SPEEDUP_TARGET}x faster than exact online",
            f"{exact_s / ours_s:.1f}x ({ours_s:.2f} s vs {exact_s:.2f} s)",
            exact_s / ours_s >= SPEEDUP_TARGET,
        ),
    ]
    lines.append("")
    lines += check_lines(checks)
    curves = {name: curve for name, (curve, _) in results.items()}
    texture_steps = np.arange(0, stream.shape[0] // STEP, block_steps)
    payload = {
        "machine": machine_info(),
        "means": means,
        "seconds": {name: seconds for name, (_, seconds) in results.items()},
        "curves": {name: curve.tolist() for name, curve in curves.items()},
        "checks": checks,
    }
    return finish(
        args.output_dir, "online", "\n".join(lines), payload, checks,
        draw=lambda path: plot(curves, texture_steps, path),
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
