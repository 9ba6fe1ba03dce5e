"""Structured ISTA: learned ISTA with the HiLasso prox."""

import torch
from torch import nn

from .._prox import (
    contiguous_group_size,
    hilasso_prox,
)
from ..solvers import (
    ista_operators,
)
from ._common import records_constructor_arguments


@records_constructor_arguments
class StructuredISTA(nn.Module):
    """Learned ISTA with the HiLasso prox (Sprechmann et al. 2012).

    Layer ``t`` computes ``Z <- prox_{t_t, s_t}(Z + (X - Z D) W_t)``: the soft
    threshold with per-coefficient thresholds ``t_t``, then the group shrink
    with per-group thresholds ``s_t``. Weights are coupled to the dictionary
    as in :class:`LISTA`. Untrained it equals ``n_layers`` iterations of ISTA
    on the HiLasso objective started from zero.

    Parameters
    ----------
    dictionary : Tensor of shape (n_components, n_features)
    alpha : float
    group_index : LongTensor of shape (n_components,)
        The group of each atom.
    group_penalties : Tensor of shape (n_groups,)
        ``group_alpha * group_weights``.
    n_layers : int
    """

    def __init__(self, dictionary, alpha, group_index, group_penalties, n_layers):
        super().__init__()
        W, _, step = ista_operators(dictionary)
        self.register_buffer("dictionary", dictionary.detach().clone())
        self.register_buffer("group_index", group_index.detach().clone())
        self.W = nn.Parameter(W.expand(n_layers, -1, -1).clone())
        self.t = nn.Parameter(
            torch.full((n_layers, W.shape[1]), float(alpha * step), dtype=W.dtype, device=W.device)
        )
        self.s = nn.Parameter((group_penalties * step).to(W.dtype).expand(n_layers, -1).clone())
        self.group_size = contiguous_group_size(group_index, group_penalties.shape[-1])

    @property
    def n_layers(self):
        return self.t.shape[0]

    def set_dictionary(self, dictionary):
        """Follow a dictionary update: the layers' residuals use the new atoms."""
        self.dictionary.copy_(dictionary)

    def forward(self, X):
        group_index, group_size = self.group_index, self.group_size
        code = hilasso_prox(X @ self.W[0], self.t[0], group_index, self.s[0], group_size)
        for layer in range(1, self.n_layers):
            residual = torch.addmm(X, code, self.dictionary, alpha=-1.0)
            code = hilasso_prox(
                torch.addmm(code, residual, self.W[layer]),
                self.t[layer],
                group_index,
                self.s[layer],
                group_size,
            )
        return code
