"""Class probabilities from class objectives: a softmax at a fitted temperature.

A class's objective is minus a log-likelihood up to the noise's variance: under
Gaussian noise of variance ``T``, ``exp(-objective / T)`` is proportional to
the class's likelihood of the signal. ``T`` is in the objectives' units (the
signal's squared), so a softmax at ``T = 1`` would make the probabilities of
the same problem depend on the scale the data come in. It is fitted instead
by minimising the log loss of the training rows (temperature scaling, Guo et
al. 2017) toward targets after Platt (1999): of ``n`` training rows, each
aims at ``1 - 1 / (n + 2)`` for its class, the rest spread evenly over the
others, so that training rows every class's model separates perfectly give
a finite temperature, not probabilities of exactly one. (One count for all
rows rather than Platt's one per class: with many classes, counts per class
spread a large weight over the wrong classes and pull the temperature up.)
"""

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

# The search runs over log(T / spread), spread the objectives' typical
# distance from their row's mean: within these bounds for any data scale.
_LOG_RANGE = 30.0
# partial_fit fits the temperature on the latest this many rows' objectives
# (each as the models gave it when its chunk came): a chunk of a few rows
# alone would give a temperature of its own, and one row a degenerate one.
WINDOW_ROWS = 2000


def append_to_window(window, objectives, y_index):
    """``window`` (``(objectives, y_index)`` or None) with the new rows last,
    cut to its latest :data:`WINDOW_ROWS` rows."""
    if window is not None:
        objectives = np.concatenate([window[0], objectives])
        y_index = np.concatenate([window[1], y_index])
    return objectives[-WINDOW_ROWS:].copy(), y_index[-WINDOW_ROWS:].copy()


def class_probabilities(objectives, temperature):
    """Softmax of ``-objectives / temperature`` over the classes (axis 1)."""
    return softmax(-objectives / temperature, axis=1)


def fit_temperature(objectives, y_index):
    """The ``T`` minimising the cross-entropy of ``softmax(-objectives / T)``
    against Platt's targets for the rows' classes ``y_index``.

    ``objectives`` is (n_samples, n_classes); ``y_index`` each row's column.
    The loss is convex in ``1 / T``; 1.0 where every row's objectives are
    equal (any ``T`` gives the same, uniform, probabilities).
    """
    objectives = np.asarray(objectives, dtype=np.float64)
    n_samples, n_classes = objectives.shape
    spread = np.mean(np.abs(objectives - objectives.mean(axis=1, keepdims=True)))
    if not (np.isfinite(spread) and spread > 0):
        return 1.0
    targets = _platt_targets(y_index, n_samples, n_classes)
    scaled = objectives / spread

    def loss(log_temperature):
        log_probabilities = log_softmax(-scaled * np.exp(-log_temperature), axis=1)
        return -np.sum(targets * log_probabilities) / n_samples

    result = minimize_scalar(
        loss, bounds=(-_LOG_RANGE, _LOG_RANGE), method="bounded", options={"xatol": 1e-8}
    )
    return float(spread * np.exp(result.x))


def _platt_targets(y_index, n_samples, n_classes):
    smoothing = 1.0 / (n_samples + 2.0)
    targets = np.full((n_samples, n_classes), smoothing / (n_classes - 1))
    targets[np.arange(n_samples), y_index] = 1.0 - smoothing
    return targets
