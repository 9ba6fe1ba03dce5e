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
    machine's noise; the order turns from round to round, so that no
    function always follows the same one. A warm-up call compiles kernels
    and pages buffers in; a function whose second call is faster than
    ``min_seconds`` runs several times per round (at most 25), the round
    keeping the median of its runs.
    """
    calls = {}
    for name, function in functions.items():
        function()
        start = time.perf_counter()
        function()
        elapsed = time.perf_counter() - start
        calls[name] = max(1, min(25, int(min_seconds / max(elapsed, 1e-9))))
    times = {name: [] for name in functions}
    names = list(functions)
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            runs = []
            for _ in range(calls[name]):
                start = time.perf_counter()
                functions[name]()
                runs.append(time.perf_counter() - start)
            times[name].append(statistics.median(runs))
    return {name: statistics.median(values) for name, values in times.items()}
