"""Fits that train more than once and keep one: the shared random draws, state and warnings.

``architecture="auto"`` trains each candidate network and keeps the cheapest
whose set-aside rows' loss is within a tolerance of the lowest;
``input_noise="auto"`` may train again without noise and keeps the fit whose
set-aside rows' loss is lower. Each trial starts from the estimator as the
fit found it and draws from one seed (the same rows set aside), and only
the kept trial's warnings are given.
"""

import numbers
import os
import sys
import warnings

import numpy as np
from sklearn.utils import check_random_state


def shared_seed(random_state):
    """One int every trial draws from: ``random_state`` itself when it is an int
    (so that a trial is the fit its settings given explicitly would make)."""
    if isinstance(random_state, numbers.Integral):
        return random_state
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def run_trial(estimator, before, train):
    """``train()`` from the estimator's state ``before``; returns
    ``(train()'s result, the fitted state, its warnings)``."""
    set_state(estimator, before)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train()
    return result, dict(vars(estimator)), caught


def keep(estimator, state, caught, others=()):
    """Make ``state`` the estimator's and give its warnings ``caught``, with
    the RuntimeWarnings of the ``others`` trials' warnings (an overflow is
    worth knowing of, whichever trial met it)."""
    set_state(estimator, state)
    given = list(caught)
    for other in others:
        given += [w for w in other if issubclass(w.category, RuntimeWarning)]
    for warning in given:
        warnings.warn_explicit(
            warning.message,
            warning.category,
            warning.filename,
            warning.lineno,
            module=_module_name(warning.filename),
            registry=_REGISTRY,
        )


def set_state(estimator, state):
    vars(estimator).clear()
    vars(estimator).update(state)


# Where the re-given warnings' "default" and "once" filters remember what was
# shown (as a module's __warningregistry__ does).
_REGISTRY = {}


def _module_name(filename):
    """The name of the loaded module of ``filename`` (the filters match it), else its stem."""
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == filename:
            return name
    return os.path.splitext(os.path.basename(filename))[0]
