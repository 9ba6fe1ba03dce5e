"""Structured ISTA: learned ISTA with the HiLasso prox."""

import torch
from torch import nn

from .._penalties import grouped_penalty_like
from ..solvers import (
    ista_operators,
)
from ._common import GroupedNetwork, records_constructor_arguments


@records_constructor_arguments
class StructuredISTA(GroupedNetwork, nn.Module):
    """Learned ISTA with the HiLasso prox (Sprechmann et al. 2012).

    Layer ``t`` computes ``Z <- prox_{t_t, s_t}(Z + (X - Z D) W_t)``: the soft
    threshold with per-coefficient thresholds ``t_t``, then the group shrink
    with per-group thresholds ``s_t``. Weights are coupled to the dictionary
    as in :class:`LISTA`. Untrained it equals ``n_layers`` iterations of ISTA
    on the HiLasso objective started from zero.

    Built as every network is (see :mod:`sklearn_lsc._networks`), with a
    penalty that has groups. With ``sets`` (collaborative HiLasso) the group
    shrink uses each set's joint norms: untrained it equals ISTA on the
    collaborative objective.
    """

    def __init__(self, dictionary, penalty, n_layers):
        super().__init__()
        W, _, step = ista_operators(dictionary)
        self.penalty = grouped_penalty_like(penalty, W, type(self).__name__)
        self.register_buffer("dictionary", dictionary.detach().clone())
        self.W = nn.Parameter(W.expand(n_layers, -1, -1).clone())
        thresholds, group_thresholds = self.penalty.thresholds(step)
        self.t = nn.Parameter(
            torch.full((n_layers, W.shape[1]), float(thresholds), dtype=W.dtype, device=W.device)
        )
        self.s = nn.Parameter(group_thresholds.expand(n_layers, -1).clone())

    # The axes of each parameter that run over the atoms (see reset_atoms).
    atom_axes = {"W": (2,), "t": (1,)}
    # How each parameter scales with the atoms' norms (see LISTA): W is
    # D^T / L, the thresholds alpha / L and group_alpha / L.
    dictionary_powers = {"W": 1, "t": 1, "s": 1}

    @property
    def n_layers(self):
        return self.t.shape[0]

    def set_dictionary(self, dictionary):
        """Follow a dictionary update: the layers' residuals use the new atoms."""
        self.dictionary.copy_(dictionary)

    def forward(self, X, sets=None):
        """Codes of ``X``; rows of one of ``sets`` (compact labels) shrink their groups as one."""
        shrink = self.penalty.with_sets(sets).shrink
        W = self.W.unbind()  # (one backward for all layers: see LISTA.forward)
        code = shrink(X @ W[0], self.t[0], self.s[0])
        for layer in range(1, self.n_layers):
            residual = torch.addmm(X, code, self.dictionary, alpha=-1.0)
            code = shrink(torch.addmm(code, residual, W[layer]), self.t[layer], self.s[layer])
        return code
