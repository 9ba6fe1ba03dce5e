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


def interleaved_medians(functions, rounds, min_seconds=0.0):
    """Median seconds of each of ``functions``, timed one after another in each round.

    A ratio of two medians is then measured under the same spells of the
    machine's noise. After a warm-up call (which compiles kernels and pages
    buffers in), a function faster than ``min_seconds`` runs several times
    per round, the round keeping the median of its runs.
    """
    calls = {}
    for name, function in functions.items():
        start = time.perf_counter()
        function()
        elapsed = time.perf_counter() - start
        calls[name] = max(1, min(25, int(min_seconds / max(elapsed, 1e-9))))
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            runs = []
            for _ in range(calls[name]):
                start = time.perf_counter()
                function()
                runs.append(time.perf_counter() - start)
            times[name].append(statistics.median(runs))
    return {name: statistics.median(values) for name, values in times.items()}
