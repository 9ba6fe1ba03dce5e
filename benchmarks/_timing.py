"""Wall-clock timing as every suite reports it."""

import statistics
import time


def median_time(function, *, repeats=5, warmup=1):
    """Median wall time of ``function()`` over ``repeats`` runs after ``warmup`` runs.

    Returns ``(seconds, result of the last run)``.
    """
    result = None
    for _ in range(warmup):
        result = function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result
