"""Per-vector cost of the 5-layer networks at the paper's GPU setting, on one device.

Sprechmann et al. (2012) report 3.6 microseconds per vector per layer for
their structured network on a 2011 GPU, with 100 features and 250 atoms.
Issue 6's GPU target is below 0.01. Here: 100,000 signals of 100 features,
group-sparse under a random dictionary of 250 unit atoms (10 groups of 25; 2
active groups with 4 atoms each, noise 0.01), coded by a 5-layer LBCoFB
(HiLasso, ``alpha=0.05``, ``group_alpha=0.1``) and a 5-layer LISTA (Lasso,
``alpha=0.05``). The networks are trained for two epochs only: a layer's
cost does not depend on its weights (dense products and elementwise
operations), and the other suites measure the trained networks' gaps.

For each network, medians after a warm-up of:

- ``forward``: the network on a float32 tensor already on the device (the
  paper's measure), synchronised before the clock stops;
- ``forward, TF32 products`` (CUDA only): the same, with
  ``torch.backends.cuda.matmul.allow_tf32 = True`` (torch's default is off;
  a user may turn it on: float32 storage, 10-bit mantissa products);
- ``forward, bfloat16``: a bfloat16 copy of the network on a bfloat16 tensor;
- ``forward, compiled`` (``--compile``): ``torch.compile`` of the network;
- ``transform``: the encoder's ``transform``, numpy in and numpy out, so the
  copies between host and device are included; with ``--compile`` also with
  ``transform_compile=True`` (the estimator's compiled path).

Target (issue 6, on a GPU): LBCoFB's forward below 0.01 us per vector per
layer. On a CPU the figures are reported without a target.

Run ``python -m benchmarks.throughput --device cuda`` (``--compile`` to add
the compiled networks; ``--n-signals`` for fewer signals, as ``python -m
benchmarks --quick`` does, with no target check). Writes
``benchmarks/results/throughput.md``, ``.json`` and ``.png``; on a device
other than the CPU the files are named after it (``throughput_cuda.md``) so
the CPU's figures stay.
"""

import argparse
import contextlib
import copy
import sys

import numpy as np
import torch

from benchmarks._machine import machine_info, torch_device
from benchmarks._plots import bar_panels
from benchmarks._report import add_output_argument, check_lines, finish
from benchmarks._timing import median_time
from benchmarks._training import committed_training
from sklearn_lsc import LearnedHiLassoEncoder, LearnedLassoEncoder
from sklearn_lsc.datasets import make_group_sparse_signals

N_SIGNALS, N_FEATURES, N_GROUPS, GROUP_SIZE, N_LAYERS = 100_000, 100, 10, 25, 5
N_TRAIN = 2000
PAPER_US, TARGET_US = 3.6, 0.01


def encoders(dictionary, X_train, device):
    """The two 5-layer encoders, briefly trained on ``device``."""
    common = dict(dictionary=dictionary, n_layers=N_LAYERS, max_iter=2, device=device,
                  random_state=0, **committed_training())  # fmt: skip
    lbcofb = LearnedHiLassoEncoder(
        alpha=0.05, groups=N_GROUPS, group_alpha=0.1, architecture="bcofb", **common
    )
    lista = LearnedLassoEncoder(alpha=0.05, architecture="lista", **common)
    return {"LBCoFB": lbcofb.fit(X_train), "LISTA": lista.fit(X_train)}


def synchronised(function, device):
    """``function`` followed by a wait for the device, so a clock around it is honest."""

    def run():
        result = function()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return result

    return run


@contextlib.contextmanager
def tf32_products(allowed):
    """Allow (or not) TF32 tensor cores for float32 products on CUDA inside the block."""
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = allowed
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def network_rows(name, encoder, X, device, repeats, compile_network):
    """Forward and transform times of one encoder's network on ``X`` (numpy)."""
    network = encoder.network_.to(device)
    # The network codes X / signal_scale_ (a power of two), its codes times
    # the scale being transform's: compared in those units.
    scale = encoder.signal_scale_
    X_device = torch.as_tensor(X / scale, device=device, dtype=torch.float32)
    # measure: (module, inputs, TF32 products allowed)
    forwards = {"forward": (network, X_device, False)}
    if device.type == "cuda":  # torch's default is off: the user's choice, not ours
        forwards["forward, TF32 products"] = (network, X_device, True)
    forwards["forward, bfloat16"] = (
        copy.deepcopy(network).to(torch.bfloat16),
        X_device.to(torch.bfloat16),
        False,
    )
    if compile_network:
        forwards["forward, compiled"] = (torch.compile(network, dynamic=False), X_device, False)
    rows = []
    reference = None
    for kind, (module, inputs, tf32) in forwards.items():
        try:
            with torch.inference_mode(), tf32_products(tf32):
                seconds, code = median_time(
                    synchronised(lambda module=module, inputs=inputs: module(inputs), device),
                    repeats=repeats,
                    warmup=2,
                )
        except Exception as error:  # a compiler that fails here is a finding, not a crash
            rows.append({"network": name, "kind": kind, "error": f"{type(error).__name__}: "
                         f"{error}"[:200]})  # fmt: skip
            continue
        code = code.float().cpu().numpy() * scale
        if reference is None:
            reference = code
        rows.append(row(name, kind, seconds, len(X), np.max(np.abs(code - reference))))
    transforms = {"transform (numpy in and out)": False}
    if compile_network:
        transforms["transform, transform_compile=True"] = True
    for kind, compiled in transforms.items():
        encoder.set_params(transform_compile=compiled)
        seconds, code = median_time(lambda: encoder.transform(X), repeats=repeats, warmup=2)
        rows.append(row(name, kind, seconds, len(X), np.max(np.abs(code - reference))))
    encoder.set_params(transform_compile=False)
    for line in rows:
        if "error" in line:
            print(f"  {name} {line['kind']}: failed: {line['error']}", flush=True)
        else:
            print(f"  {name} {line['kind']}: {line['us']:.4f} us/vector/layer", flush=True)
    return rows


def row(name, kind, seconds, n_signals, difference):
    return {
        "network": name,
        "kind": kind,
        "s": seconds,
        "us": 1e6 * seconds / (n_signals * N_LAYERS),
        "max_difference": float(difference),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--compile", action="store_true", help="also torch.compile'd networks")
    parser.add_argument(
        "--n-signals", type=int, default=N_SIGNALS,
        help=f"signals to code (default {N_SIGNALS}, the target's size)",
    )  # fmt: skip
    add_output_argument(parser)
    args = parser.parse_args(argv)
    device = torch_device(args.device)
    X, dictionary, _, _ = make_group_sparse_signals(
        N_TRAIN + args.n_signals, N_FEATURES, N_GROUPS, GROUP_SIZE, 2, 4, 0.01, random_state=0
    )
    X, dictionary = X.astype(np.float32), dictionary.astype(np.float32)
    X_train, X = X[:N_TRAIN], X[N_TRAIN:]

    rows = []
    for name, encoder in encoders(dictionary, X_train, args.device).items():
        rows += network_rows(name, encoder, X, device, args.repeats, args.compile)

    lines = [
        "# Per-vector cost at the paper's GPU setting",
        "",
        f"{args.n_signals} signals, {N_FEATURES} features, {N_GROUPS * GROUP_SIZE} atoms "
        f"({N_GROUPS} groups of {GROUP_SIZE}), {N_LAYERS}-layer networks, device {device}"
        f"{f' ({torch.cuda.get_device_name(device)})' if device.type == 'cuda' else ''}. "
        "Max difference: largest absolute difference from the float32 forward's codes.",
        "",
        "| network | measure | time (ms) | us per vector per layer | max difference |",
        "|---|---|---|---|---|",
    ]
    for line in rows:
        if "error" in line:
            lines.append(f"| {line['network']} | {line['kind']} | failed: {line['error']} | | |")
        else:
            lines.append(
                f"| {line['network']} | {line['kind']} | {1e3 * line['s']:.2f} | "
                f"{line['us']:.4f} | {line['max_difference']:.1e} |"
            )
    lines += ["", f"Sprechmann et al. (2012): {PAPER_US} us per vector per layer (2011 GPU).", ""]
    checks = []
    if device.type == "cuda" and args.n_signals == N_SIGNALS:  # the target's size
        forward = next(r for r in rows if r["network"] == "LBCoFB" and r["kind"] == "forward")
        checks.append(
            (f"LBCoFB forward below {TARGET_US} us per vector per layer",
             f"{forward['us']:.4f} us", forward["us"] < TARGET_US)
        )  # fmt: skip
    lines += check_lines(checks)
    payload = {"rows": rows, "checks": checks, "device": str(device), "machine": machine_info()}
    name = "throughput" if device.type == "cpu" else f"throughput_{device.type}"
    timed = [r for r in rows if "error" not in r]
    return finish(
        args.output_dir, name, "\n".join(lines), payload, checks,
        draw=lambda path: bar_panels(path, [
            {"title": f"us per vector per layer ({device.type})", "xlabel": "microseconds",
             "log": True, "bars": [(f"{r['network']}, {r['kind']}", r["us"]) for r in timed]},
        ]),
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
