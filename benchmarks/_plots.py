"""PNG figures of the suites' results: horizontal bar charts, one panel per quantity.

matplotlib is optional: without it no figure is drawn (the suites' tables and
JSON files are the results; the figures only show them).
"""

import importlib.util


def bar_panels(path, panels, *, width=8.0):
    """Draw ``panels`` one above the other into ``path``; returns the path, or None.

    Each panel is a dict with ``title``, ``xlabel``, ``bars`` (a list of
    ``(label, value)``), and optionally ``log`` (a log-scale axis, for times
    spanning orders of magnitude) and ``percent`` (values are fractions shown
    as percentages). Bars whose value is missing or not positive on a log
    axis are left out.
    """
    if importlib.util.find_spec("matplotlib") is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [panel for panel in panels if _drawable(panel)]
    if not panels:
        return None
    heights = [0.9 + 0.32 * len(_drawable(panel)) for panel in panels]
    figure, axes = plt.subplots(
        len(panels), 1, figsize=(width, sum(heights)), squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )  # fmt: skip
    for axis, panel in zip(axes[:, 0], panels, strict=True):
        bars = _drawable(panel)
        scale = 100.0 if panel.get("percent") else 1.0
        labels = [label for label, _ in bars]
        values = [scale * value for _, value in bars]
        positions = range(len(bars))
        zoom = _zoomed_range(values) if not panel.get("log") else None
        xlabel = panel["xlabel"]
        if zoom is None:
            axis.barh(positions, values, color="tab:blue", alpha=0.8)
            axis.margins(x=0.15)
        else:
            # Values close together far from zero (accuracies, say): bars
            # from zero would all look equal, so dots on an axis that says
            # where it starts.
            axis.hlines(positions, zoom[0], values, color="tab:blue", alpha=0.4)
            axis.plot(values, list(positions), "o", color="tab:blue")
            axis.set_xlim(*zoom)
            xlabel += f" (axis from {zoom[0]:.3g}, not 0)"
        axis.set_yticks(list(positions), labels, fontsize=8)
        axis.invert_yaxis()  # the first bar on top, as in the tables
        if panel.get("log"):
            axis.set_xscale("log")
        axis.set_title(panel["title"], fontsize=10)
        axis.set_xlabel(xlabel, fontsize=9)
        for position, value in zip(positions, values, strict=True):
            text = f" {value:.2f}%" if panel.get("percent") else f" {value:.3g}"
            axis.text(value, position, text, va="center", fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _zoomed_range(values):
    """An axis range around ``values`` when they are close together far from zero, else None.

    Bars from zero suit values that differ by a sizeable part of their size;
    when the spread is under a quarter of the largest value (and all are
    positive), a range from a little below the smallest shows the differences.
    """
    low, high = min(values), max(values)
    if low <= 0 or high - low >= 0.25 * high:
        return None
    pad = max(high - low, 0.01 * high)
    return low - 0.5 * pad, high + 0.6 * pad


def _drawable(panel):
    """The panel's bars that have a value its axis can show."""
    return [
        (label, value)
        for label, value in panel["bars"]
        if value is not None and value == value and (value > 0 or not panel.get("log"))
    ]
