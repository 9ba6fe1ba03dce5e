"""The documentation's rendering of the suites' Markdown results (doc/benchmark_tables.py)."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODULE = ROOT / "doc" / "benchmark_tables.py"
spec = importlib.util.spec_from_file_location("benchmark_tables", MODULE)
benchmark_tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark_tables)


def test_a_results_file_becomes_tables_rubrics_and_lists():
    markdown = "\n".join(
        [
            "# Title with `code`",
            "",
            "Machine line, n_iter_ and a | bar.",
            "| method | gap |",
            "|---|---|",
            "| `lista` | 1.0% |",
            "| exact | |",
            "Targets:",
            "- gap <= 2%: 1.0% (met)",
            "After the list.",
            "```",
            "raw  text",
            "```",
        ]
    )
    rst = benchmark_tables.markdown_to_rst(markdown)
    assert ".. rubric:: Title with ``code``" in rst
    assert r"Machine line, n_iter\_ and a \| bar." in rst
    table = rst.index(".. list-table::")
    assert rst[table + 1 : table + 3] == ["   :header-rows: 1", "   :class: benchmark-table"]
    assert rst[table + 4 : table + 10] == [
        "   * - method",
        "     - gap",
        "   * - ``lista``",
        "     - 1.0%",
        "   * - exact",
        "     -  ",
    ]
    item = rst.index("- gap <= 2%: 1.0% (met)")
    assert rst[item - 1] == "" and rst[item + 1] == "" and rst[item + 2] == "After the list."
    literal = rst.index("::")
    assert rst[literal + 2] == "    raw  text"


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks" / "results").glob("*.md")))
def test_every_committed_result_converts(path):
    rst = benchmark_tables.markdown_to_rst(path.read_text(encoding="utf-8"))
    tables = sum(line.startswith("|") for line in path.read_text(encoding="utf-8").splitlines())
    assert not any(line.startswith("|") for line in rst)
    assert (tables == 0) == (".. list-table::" not in rst)
