"""A Sphinx directive that shows a benchmark's Markdown results as real tables.

The suites write ``benchmarks/results/NAME.md`` (headings, paragraphs, pipe
tables, bullet lists and fenced text); ``.. benchmark-result:: PATH`` renders
such a file on a page: tables as tables, headings as rubrics, code spans as
literals.
"""

import pathlib
import re

_CODE_SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def inline(text):
    """Markdown inline text as reStructuredText (code spans; ``|``, ``*`` and ``_`` escaped)."""
    parts = re.split(r"(``[^`]+``|`[^`]+`)", text)
    converted = []
    for part in parts:
        if part.startswith("`"):
            converted.append(_CODE_SPAN.sub(r"``\1``", part))
        else:
            # Markdown bold is reStructuredText's; lone stars, bars and a word's
            # trailing underscore (a reference in rst) are literal.
            part = part.replace("|", r"\|")
            part = re.sub(r"(?<!\*)\*(?!\*)", r"\*", part)
            part = re.sub(r"(\w)_(?=\W|$)", r"\1\_", part)
            converted.append(part)
    return "".join(converted)


def _cells(line):
    # A cell that starts like a list item ("-" for "not applicable") is text.
    return [
        re.sub(r"^([-+*])(?=\s|$)", r"\\\1", inline(cell.strip()))
        for cell in line.strip().strip("|").split("|")
    ]


def _table(lines):
    rows = [_cells(line) for line in lines if not re.fullmatch(r"\|[\s:|-]+\|", line.strip())]
    width = max(len(row) for row in rows)
    out = [".. list-table::", "   :header-rows: 1", "   :class: benchmark-table", ""]
    for row in rows:
        row = row + [""] * (width - len(row))
        out.append(f"   * - {row[0] or ' '}")
        out.extend(f"     - {cell or ' '}" for cell in row[1:])
    return [*out, ""]


def markdown_to_rst(text):
    """The subset of Markdown the suites write, as reStructuredText lines."""
    lines, out, index = text.splitlines(), [], 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            block = []
            index += 1
            while index < len(lines) and not lines[index].startswith("```"):
                block.append(lines[index])
                index += 1
            out.extend(["::", "", *(f"    {row}" if row else "" for row in block), ""])
        elif line.startswith("|"):
            block = []
            while index < len(lines) and lines[index].startswith("|"):
                block.append(lines[index])
                index += 1
            out.extend(["", *_table(block)])
            continue
        elif line.startswith("#"):
            out.extend(["", f".. rubric:: {inline(line.lstrip('#').strip())}", ""])
        else:
            # Markdown lets a list follow a paragraph (and text follow a list)
            # with no blank line between; reStructuredText does not.
            previous = out[-1] if out else ""
            is_item, was_item = line.startswith("- "), previous.startswith("- ")
            if line.strip() and previous.strip() and is_item != was_item:
                out.append("")
            out.append(inline(line))
        index += 1
    return out


def setup(app):
    # Imported here: the converter above is tested without Sphinx installed.
    from sphinx.util.docutils import SphinxDirective

    class BenchmarkResult(SphinxDirective):
        """``.. benchmark-result:: ../benchmarks/results/NAME.md`` (a path from the doc folder)."""

        required_arguments = 1

        def run(self):
            path = (pathlib.Path(self.env.srcdir) / self.arguments[0]).resolve()
            self.env.note_dependency(str(path))
            rst = markdown_to_rst(path.read_text(encoding="utf-8"))
            self.state_machine.insert_input(rst, str(path))
            return []

    app.add_directive("benchmark-result", BenchmarkResult)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
