"""Run the benchmark suites: ``python -m benchmarks`` from the repository's root.

Each suite is a module of this package with a ``main(argv)`` (also run alone:
``python -m benchmarks.NAME``) that measures its claims side by side, prints
a report, writes ``<suite>.md`` and ``.json`` (and PNG plots where it draws
any) under ``--output-dir`` (default ``benchmarks/results``) and returns 0
when every target is met, 1 otherwise. This runner picks the suites, passes
``--quick`` and ``--device`` to those that take them and the output folder to
all, shows what is running, skips a
suite whose optional dependency is missing (saying so) and never lets one
suite's failure stop the others. A summary goes to
``benchmarks/results/summary.md`` (``results/quick/`` for ``--quick``).
"""

import argparse
import importlib
import importlib.util
import shutil
import sys
import time
import traceback

from benchmarks._machine import torch_device
from benchmarks._report import RESULTS


class Suite:
    """A benchmark module, its optional needs, and its arguments for a quick run."""

    def __init__(self, name, *, takes_device=False, quick=(), modules=(), programs=()):
        self.name = name
        self.takes_device = takes_device
        self.quick = list(quick)
        self.modules = modules
        self.programs = programs

    def missing(self):
        """What this suite needs and this machine lacks (empty when it can run)."""
        lacking = [name for name in self.modules if importlib.util.find_spec(name) is None]
        lacking += [name for name in self.programs if shutil.which(name) is None]
        return lacking

    def arguments(self, *, quick, device):
        argv = list(self.quick) if quick else []
        if self.takes_device:
            argv += ["--device", device]
        return argv


SUITES = {
    suite.name: suite
    for suite in (
        Suite("core", takes_device=True, quick=["--repeats", "3"]),
        Suite("defaults", quick=["--quick"]),
        Suite("transform", quick=["--quick"]),
        Suite("architectures", quick=["--quick"]),
        Suite("family", quick=["--quick"]),
        Suite("reliability", quick=["--quick"]),
        Suite("convergence", quick=["--quick"], modules=("matplotlib",)),
        Suite("speed", takes_device=True, quick=["--quick", "--repeats", "3"]),
        Suite("pareto", quick=["--quick"]),
        Suite("structured", takes_device=True, quick=["--repeats", "3"]),
        Suite("throughput", takes_device=True, quick=["--n-signals", "20000", "--repeats", "3"]),
        Suite("classification", quick=["--repeats", "3"]),
        Suite(
            "online",
            quick=["--n-per-texture", "3000", "--n-offline-per-texture", "1000"],
            modules=("skimage", "matplotlib"),
        ),
        Suite("speakers", programs=("espeak-ng",)),
    )
}
# A quick run (--quick) leaves out what takes minutes even when reduced.
QUICK_SUITES = ("core", "speed", "structured", "throughput", "online")


def run_suite(suite, *, quick, device):
    """Run one suite; returns ``(status, seconds)``.

    A quick run writes under ``results/quick/``: the full runs' figures, which
    README.rst and the issues quote, stay as they are.
    """
    lacking = suite.missing()
    if lacking:
        return f"skipped (needs {', '.join(lacking)})", 0.0
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.{suite.name}")
        folder = RESULTS / "quick" if quick else RESULTS
        code = module.main(
            [*suite.arguments(quick=quick, device=device), "--output-dir", str(folder)]
        )
    except Exception:  # one suite's failure must not stop the others
        traceback.print_exc()
        return "failed (see the traceback above)", time.perf_counter() - start
    status = "targets met" if code == 0 else "some targets NOT met"
    return status, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--suite",
        action="append",
        choices=sorted(SUITES),
        help="a suite to run (repeat for several); default: all, or the quick set",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes in all")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    args = parser.parse_args(argv)
    try:
        torch_device(args.device)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    names = args.suite or (QUICK_SUITES if args.quick else list(SUITES))

    summary = []
    total = time.perf_counter()
    for position, name in enumerate(names, start=1):
        print(f"\n=== [{position}/{len(names)}] {name} ===", flush=True)
        status, seconds = run_suite(SUITES[name], quick=args.quick, device=args.device)
        print(f"=== {name}: {status} ({seconds:.0f} s) ===", flush=True)
        summary.append((name, status, seconds))

    lines = ["# Benchmark summary", "", "| suite | status | time (s) |", "|---|---|---|"]
    lines += [f"| {name} | {status} | {seconds:.0f} |" for name, status, seconds in summary]
    lines += ["", f"Total: {time.perf_counter() - total:.0f} s, device {args.device}."]
    report = "\n".join(lines)
    print("\n" + report)
    folder = RESULTS / "quick" if args.quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.md").write_text(report + "\n", encoding="utf-8")
    failed = any(status.startswith("failed") for _, status, _ in summary)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
