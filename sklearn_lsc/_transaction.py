"""Calls that fail leave an estimator as it was: a snapshot of its state, restored on error."""

import contextlib
import copy
import functools

from ._warnings import warn


class Undone(Exception):
    """Raised inside a :func:`transactional` call to undo it without failing:
    the estimator is restored, the message becomes a warning of ``category``,
    and the call returns the estimator."""

    def __init__(self, message, category):
        super().__init__(message)
        self.category = category


def _is_fitted_state(name):
    # Parameters have neither a leading nor a trailing underscore; everything
    # a fit sets has one (``components_``, ``network_``, ``_optimizer``).
    return name.startswith("_") or name.endswith("_")


@contextlib.contextmanager
def rollback_on_error(estimator, *, copy_state, transient=()):
    """Restore ``estimator``'s attributes as they were when the block raises.

    ``copy_state``: deep-copy the fitted state first, for calls that change it
    in place (``partial_fit`` trains the network and the optimizer it
    holds); a call that only replaces attributes (``fit`` builds new ones)
    needs no copy. Copied together, so that objects shared between
    attributes (a network's parameters and its optimizer's state) stay
    shared. Attributes named in ``transient`` (caches) are dropped on error.
    Any exception, an interrupt included, rolls back, and is re-raised.
    """
    saved = dict(estimator.__dict__)
    if copy_state:
        state = {
            name: value
            for name, value in saved.items()
            if _is_fitted_state(name) and name not in transient
        }
        saved.update(copy.deepcopy(state))
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(
            {name: value for name, value in saved.items() if name not in transient}
        )
        raise


def transactional(*, copy_state):
    """Decorate a fitting method so that, when it raises, nothing has changed.

    See :func:`rollback_on_error`; the class's ``_TRANSIENT_STATE`` names its
    caches. :class:`Undone` rolls back too, and returns with its warning.
    """

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            transient = getattr(self, "_TRANSIENT_STATE", ())
            try:
                with rollback_on_error(self, copy_state=copy_state, transient=transient):
                    return method(self, *args, **kwargs)
            except Undone as undone:
                warn(str(undone), undone.category)
                return self

        return wrapper

    return decorate
