"""What every suite does with its results: the checks' lines, the report, the files."""

import json
import pathlib

# The reference results of every suite, which the documentation includes.
RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def add_output_argument(parser):
    """``--output-dir``: where a suite writes its results (default: ``benchmarks/results``)."""
    parser.add_argument(
        "--output-dir",
        type=pathlib.Path,
        default=RESULTS,
        help="folder for the results' .md, .json and plots (default: benchmarks/results)",
    )


def check_lines(checks):
    """One markdown line per ``(name, value, ok)`` check, saying met or NOT met."""
    return [f"- {name}: {value} ({'met' if ok else 'NOT met'})" for name, value, ok in checks]


def finish(folder, name, report, payload, checks, *, draw=None):
    """Print ``report``, write ``<name>.md``, ``.json`` (and ``.png``) under ``folder``.

    ``draw(path)``, when given, draws the suite's figure. Returns the suite's
    exit code: 0 when every check is met, 1 otherwise.
    """
    print()
    print(report)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.md").write_text(report + "\n", encoding="utf-8")
    (folder / f"{name}.json").write_text(
        json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8"
    )
    # Last: a figure that fails to draw must not lose a long run's results.
    if draw is not None:
        draw(folder / f"{name}.png")
    return 0 if all(ok for _, _, ok in checks) else 1
