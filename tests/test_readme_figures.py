"""README.rst's headline figures agree with the committed benchmark results."""

import json
import shutil

import pytest

from benchmarks import readme


def test_the_readme_figures_are_the_committed_results():
    text = readme.README.read_text(encoding="utf-8")
    assert readme.render(text) == text, "run python -m benchmarks.readme"
    assert readme.main(["--check"]) == 0


def test_a_changed_result_changes_the_readme(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(readme.RESULTS, results)
    path = results / "online.json"
    online = json.loads(path.read_text(encoding="utf-8"))
    exact = online["means"]["exact online (MiniBatchDictionaryLearning)"]
    online["means"]["OnlineSparseModeler"] = 1.0123 * exact
    path.write_text(json.dumps(online), encoding="utf-8")
    text = readme.README.read_text(encoding="utf-8")
    rendered = readme.render(text, results)
    assert rendered != text
    assert "within 1.23% of exact online" in " ".join(rendered.split())
    # Only the generated block changed.
    assert rendered.split(readme.BEGIN)[0] == text.split(readme.BEGIN)[0]
    assert rendered.split(readme.END)[1] == text.split(readme.END)[1]


def test_render_needs_both_markers_once():
    with pytest.raises(ValueError, match="markers"):
        readme.render("no markers here")
    with pytest.raises(ValueError, match="markers"):
        readme.render(f"{readme.BEGIN}\n{readme.END}\n{readme.END}\n")


def test_bullets_wrap_within_the_width():
    text = " ".join(["word"] * 60)
    lines = readme.bullet(text, width=30).splitlines()
    assert lines[0].startswith("- ") and all(line.startswith("  ") for line in lines[1:])
    assert all(len(line) <= 30 for line in lines)
    assert " ".join(" ".join(lines)[2:].split()) == text
