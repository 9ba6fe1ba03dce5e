"""The benchmark runner: suite selection, bad input, skipping and failure isolation."""

import json
import sys
import types

import numpy as np
import pytest

run = pytest.importorskip("benchmarks.run")


def fake_suite(monkeypatch, tmp_path, name, main):
    module = types.ModuleType(f"benchmarks.{name}")
    module.main = main
    monkeypatch.setitem(sys.modules, f"benchmarks.{name}", module)
    monkeypatch.setitem(run.SUITES, name, run.Suite(name, quick=["--quick"]))
    return module


def test_unknown_suites_and_devices_are_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--suite", "nope"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.main(["--device", "tpu"])
    assert "'device'" in capsys.readouterr().err


def test_the_convergence_suite_refuses_unknown_architectures(capsys):
    convergence = pytest.importorskip("benchmarks.convergence")
    with pytest.raises(SystemExit) as exit_info:
        convergence.main(["--architectures", "lista,nope"])
    assert exit_info.value.code == 2
    assert "unknown architectures ['nope']" in capsys.readouterr().err


def test_a_failing_suite_does_not_stop_the_others(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(run, "RESULTS", tmp_path)
    seen = []

    def broken(argv):
        raise RuntimeError("boom")

    def fine(argv):
        seen.append(argv)
        return 0

    fake_suite(monkeypatch, tmp_path, "broken", broken)
    fake_suite(monkeypatch, tmp_path, "fine", fine)
    code = run.main(["--suite", "broken", "--suite", "fine", "--quick"])
    # Quick runs keep the full results apart.
    assert code == 2 and seen == [["--quick", "--output-dir", str(tmp_path / "quick")]]
    summary = (tmp_path / "quick" / "summary.md").read_text()
    assert "| broken | failed" in summary and "| fine | targets met" in summary


def test_a_suite_missing_its_optional_dependency_is_skipped(monkeypatch, tmp_path):
    monkeypatch.setattr(run, "RESULTS", tmp_path)
    monkeypatch.setitem(
        run.SUITES,
        "needy",
        run.Suite("needy", modules=("no_such_module_here",), programs=("no-such-program",)),
    )
    assert run.main(["--suite", "needy"]) == 0
    summary = (tmp_path / "summary.md").read_text()
    assert "skipped (needs no_such_module_here, no-such-program)" in summary


def test_bar_panels_draw_what_their_axes_can_show(tmp_path):
    pytest.importorskip("matplotlib")
    plots = pytest.importorskip("benchmarks._plots")
    panels = [
        {"title": "gap", "xlabel": "gap", "percent": True, "bars": [("a", 0.0), ("b", 0.5)]},
        # A log axis cannot show 0 or NaN: those bars are left out, not drawn as errors.
        {"title": "time", "xlabel": "s", "log": True,
         "bars": [("a", 0.0), ("b", float("nan")), ("c", 2.0)]},
    ]  # fmt: skip
    assert [bar for bar, _ in plots._drawable(panels[1])] == ["c"]
    path = plots.bar_panels(tmp_path / "figure.png", panels)
    assert path.read_bytes().startswith(b"\x89PNG")
    nothing = [{"title": "t", "xlabel": "s", "log": True, "bars": [("a", 0.0)]}]
    assert plots.bar_panels(tmp_path / "none.png", nothing) is None
    assert not (tmp_path / "none.png").exists()


def test_finish_writes_the_report_files_and_says_whether_every_target_is_met(tmp_path):
    report_module = pytest.importorskip("benchmarks._report")
    checks = [("a target", "2x", True), ("another", "0.5x", False)]
    assert report_module.check_lines(checks) == [
        "- a target: 2x (met)",
        "- another: 0.5x (NOT met)",
    ]
    drawn = []
    code = report_module.finish(
        tmp_path / "out", "suite", "# report", {"value": 1.5}, checks, draw=drawn.append
    )
    assert code == 1 and drawn == [tmp_path / "out" / "suite.png"]
    assert (tmp_path / "out" / "suite.md").read_text() == "# report\n"
    assert '"value": 1.5' in (tmp_path / "out" / "suite.json").read_text()
    assert report_module.finish(tmp_path, "ok", "", {}, checks[:1]) == 0


def test_finish_keeps_the_results_when_the_figure_fails(tmp_path):
    report_module = pytest.importorskip("benchmarks._report")

    def broken_figure(path):
        raise ModuleNotFoundError("No module named 'matplotlib'")

    with pytest.raises(ModuleNotFoundError):
        report_module.finish(
            tmp_path, "long", "# hours of work", {"gap": 0.1}, [], draw=broken_figure
        )
    assert (tmp_path / "long.md").read_text() == "# hours of work\n"
    assert '"gap": 0.1' in (tmp_path / "long.json").read_text()


def test_the_convergence_figure_is_skipped_without_matplotlib(monkeypatch, tmp_path):
    convergence = pytest.importorskip("benchmarks.convergence")
    real_find_spec = convergence.importlib.util.find_spec
    monkeypatch.setattr(
        convergence.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "matplotlib" else real_find_spec(name, *args),
    )
    assert convergence.plot({}, tmp_path / "figure.png") is None
    assert not (tmp_path / "figure.png").exists()


def test_the_convergence_suite_passes_the_patch_training_options_on(monkeypatch):
    convergence = pytest.importorskip("benchmarks.convergence")
    seen = {}

    class Stop(Exception):
        pass

    def run_problem(name, problem, depths, architectures, training, seed):
        seen[name] = training
        seen[name, "seed"] = seed
        if name == "image patches":
            raise Stop

    monkeypatch.setattr(convergence, "run_problem", run_problem)
    monkeypatch.setattr(convergence, "patch_problem", lambda n_train: None)
    with pytest.raises(Stop):
        convergence.main(["--patch-batch-size", "25", "--patch-epochs", "7", "--patch-noise", "0",
                          "--seed", "3"])  # fmt: skip
    assert seen["image patches"] == {
        "input_noise": 0.0, "max_iter": 7, "n_iter_no_change": 7, "batch_size": 25
    }  # fmt: skip
    assert "batch_size" not in seen["digits"]
    assert seen["digits", "seed"] == seen["image patches", "seed"] == 3


def test_the_speed_suite_names_its_results_after_the_device_unless_told():
    speed = pytest.importorskip("benchmarks.speed")
    torch = pytest.importorskip("torch")
    assert speed.results_name(None, torch.device("cpu")) == "speed"
    assert speed.results_name(None, torch.device("cuda")) == "speed_cuda"
    assert speed.results_name("speed_amd_epyc", torch.device("cpu")) == "speed_amd_epyc"


def test_the_defaults_suite_checks_the_worst_seed():
    defaults = pytest.importorskip("benchmarks.defaults")

    def run_row(problem, requested, seed, gap, fit=10.0, ratio=1.2):
        return {"problem": problem, "requested": requested, "n_train": requested, "seed": seed,
                "gap": gap, "fista_iterations": 20, "fit_seconds": fit,
                "transform_seconds": ratio, "lista_transform_seconds": 1.0}  # fmt: skip

    rows = [
        run_row("gaussian-100x256", 2000, 0, 0.004),
        run_row("gaussian-100x256", 2000, 1, 0.012),  # one seed over 1%
        run_row("digits", 500, 0, 0.02, ratio=1.4),
        run_row("hilasso", 2000, 0, 0.015, ratio=9.0),  # not a Lasso transform
    ]
    summary = defaults.summarize(rows)
    by_name = {(row["problem"], row["requested"]): row for row in summary}
    assert by_name["gaussian-100x256", 2000]["gap"] == pytest.approx(0.008)
    assert by_name["gaussian-100x256", 2000]["worst_gap"] == pytest.approx(0.012)
    checks = {name: ok for name, _, ok in defaults.checks_of(summary)}
    assert checks == {
        "gaussian-100x256, 2000 rows: worst held-out gap <= 1%": False,
        "default fit, gaussian-100x256, 2,000 rows <= 60 s": True,
        "digits, 500 rows: worst held-out gap <= 3%": True,
        "hilasso, 2000 rows: worst held-out gap <= 2%": True,
    }  # the transform target is the transform suite's (below)


def test_the_transform_suite_checks_the_worst_problem_with_and_without_numba():
    transform = pytest.importorskip("benchmarks.transform")
    rows = [
        {"ratio": 1.3, "ratio_torch": 2.9},
        {"ratio": 1.6, "ratio_torch": 1.4},  # the worst with the kernels
    ]
    name = "default transform <= 1.5x a 5-layer LISTA's"
    checks = {check: (value, ok) for check, value, ok in transform.checks_of(rows, True)}
    assert checks == {
        f"{name} (fused kernels)": ("1.60x", False),
        f"{name} (torch pass)": ("2.90x", False),
    }
    rows[1]["ratio"], rows[0]["ratio_torch"] = 1.5, 1.5
    assert all(ok for _, _, ok in transform.checks_of(rows, True))
    # Without numba the kernels' target cannot be met, whatever the rows say.
    fused_check, _ = transform.checks_of(rows, False)
    assert fused_check[1:] == ("numba not installed", False)


def test_the_defaults_problems_hold_out_rows_disjoint_from_the_training_rows():
    defaults = pytest.importorskip("benchmarks.defaults")
    for name in ("digits", "patches", "gaussian-64x128", "hilasso"):
        X_train, X_test, params = defaults.PROBLEMS[name](300, 0)
        assert X_train.shape[0] == 300 and X_train.dtype == np.float32
        train = {row.tobytes() for row in X_train}
        assert not any(row.tobytes() in train for row in X_test), name
        assert params["alpha"] > 0


def test_close_values_far_from_zero_get_a_zoomed_axis():
    plots = pytest.importorskip("benchmarks._plots")
    low, high = plots._zoomed_range([98.7, 99.4, 99.0])
    assert 98.0 < low < 98.7 and 99.4 < high < 100.5
    # Values that differ by a sizeable part of their size, or reach zero, keep bars from 0.
    assert plots._zoomed_range([1.2, 30.0]) is None
    assert plots._zoomed_range([0.0, 0.1]) is None


def test_the_pareto_front_keeps_what_nothing_beats_on_both_time_and_gap():
    pareto = pytest.importorskip("benchmarks.pareto")
    points = [
        {"method": "slow exact", "seconds": 9.0, "gap": 0.0, "kind": "exact"},
        {"method": "fast rough", "seconds": 1.0, "gap": 0.2, "kind": "network"},
        {"method": "beaten", "seconds": 3.0, "gap": 0.3, "kind": "fista"},
        {"method": "middle", "seconds": 2.0, "gap": 0.01, "kind": "network"},
        {"method": "tie, slower", "seconds": 2.5, "gap": 0.01, "kind": "fista"},
    ]
    front = pareto.pareto_front(points)
    assert [point["method"] for point in front] == ["fast rough", "middle", "slow exact"]

    # Matched accuracy: each front network (and the default one) against FISTA at its gap.
    default = {"method": "default", "seconds": 4.0, "gap": 0.05, "kind": "network"}
    points.append(default)
    asked = []

    def match(gap):
        asked.append(gap)
        return (10, 8.0) if gap > 0.1 else (30, 20.0)

    rows = pareto.matched_speedups(points, match, "default")
    assert [row["method"] for row in rows] == ["fast rough", "middle", "default"]
    assert [row["speedup"] for row in rows] == [8.0, 10.0, 5.0]
    assert asked == [0.2, 0.01, 0.05]


def test_the_defaults_suite_updates_the_rows_it_reruns(tmp_path):
    defaults = pytest.importorskip("benchmarks.defaults")

    def row(problem, size, seed, gap):
        return {"problem": problem, "requested": size, "seed": seed, "gap": gap}

    stored = [row("digits", 500, 0, 0.1), row("digits", 500, 1, 0.2), row("hilasso", 500, 0, 0.3)]
    path = tmp_path / "defaults.json"
    path.write_text(json.dumps({"seeds": [0, 1], "runs": stored}), encoding="utf-8")
    rerun = [row("digits", 500, 1, 0.25), row("digits", 2000, 2, 0.05)]
    runs, seeds = defaults.updated_runs(path, rerun)
    assert runs == [stored[0], rerun[0], stored[2], rerun[1]]  # in place, new ones last
    assert seeds == [0, 1, 2]
