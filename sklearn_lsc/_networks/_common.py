"""What every network module shares: saving the constructor's arguments, FISTA's momenta,
resetting the parameters of redrawn atoms."""

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


def reset_atoms(network, atoms, dictionary):
    """Give the parameters of ``atoms`` the values of an untrained network on ``dictionary``.

    ``atoms``: a LongTensor of atom indices (atoms just redrawn by the
    dictionary step). Each network lists in ``atom_axes`` the axes of its
    parameters that run over the atoms (none: every parameter is shared by
    all atoms, as the analytic networks' few numbers); along each, the
    slices of ``atoms`` are copied from a network built afresh, as the
    algorithm prescribes, on the current ``dictionary``, so a redrawn atom
    starts from its algorithm's weights and thresholds rather than from
    what training learned for the atom it replaces. The other atoms'
    entries are unchanged. Parameters listed in ``atom_zeroed`` get zeros
    there instead (a fresh value that would not fit the trained ones, such
    as one atom's row of a basis the other layers were trained against).
    Returns the names of the parameters touched.
    """
    axes_of = getattr(network, "atom_axes", {})
    if not axes_of:
        return []
    options = {}
    if getattr(network, "norm_floor", None) is not None:
        options["norm_floor"] = network.norm_floor
    fresh = type(network)(dictionary, network.penalty, network.n_layers, **options)
    zeroed = getattr(network, "atom_zeroed", ())
    touched = []
    with torch.no_grad():
        for name, axes in axes_of.items():
            target, source = getattr(network, name), getattr(fresh, name)
            for axis in axes:
                index = atoms.to(target.device)
                if name in zeroed:
                    target.index_fill_(axis, index, 0.0)
                else:
                    target.index_copy_(axis, index, source.index_select(axis, index))
            touched.append(name)
    return touched


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
