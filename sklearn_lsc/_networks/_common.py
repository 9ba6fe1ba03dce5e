"""What every network module shares: saving the constructor's arguments, FISTA's momenta."""

import copy
import functools
import math

import torch


def _cpu_copy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, torch.nn.Module):  # a penalty
        return copy.deepcopy(value).to("cpu")
    return value


def records_constructor_arguments(cls):
    """Keep, as ``constructor_arguments``, what ``cls`` was built with (CPU copies).

    Saving a network stores these and its tensors; loading rebuilds it from
    them (see ``_persistence.py``): no pickled torch object is ever needed.
    """
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if type(self) is cls:  # not when a subclass's constructor calls this one
            self.constructor_arguments = (
                tuple(_cpu_copy(value) for value in args),
                {key: _cpu_copy(value) for key, value in kwargs.items()},
            )

    cls.__init__ = __init__
    return cls


def fista_momentum(n_steps):
    """FISTA's extrapolation coefficients ``(tau_k - 1) / tau_{k+1}``, k = 1 .. n_steps - 1."""
    tau = [1.0]
    for _ in range(n_steps):
        tau.append((1.0 + math.sqrt(1.0 + 4.0 * tau[-1] ** 2)) / 2.0)
    return [(tau[k] - 1.0) / tau[k + 1] for k in range(n_steps - 1)]


class GroupedNetwork:
    """What the networks whose layers learn group thresholds share.

    They take only a penalty with groups (``needs_groups``: the registry
    offers them to the structured estimators only) and read the groups from
    it.
    """

    needs_groups = True

    @property
    def group_index(self):
        return self.penalty.group_index

    @property
    def group_size(self):
        """The common size of contiguous groups of a partition (fast paths), else None."""
        return self.penalty.group_size

    @property
    def block_index(self):
        return self.penalty.block_index
