"""LCoD: learned coordinate descent (Gregor & LeCun 2010)."""

import torch
from torch import nn

from .._penalties import penalty_like
from ..solvers import (
    cod_operators,
    coordinate_buffers,
    coordinate_step_in_place,
)
from ._common import records_constructor_arguments


@records_constructor_arguments
class LCoD(nn.Module):
    """Learned coordinate descent (Gregor & LeCun 2010), ``n_layers`` updates.

    Each layer computes ``Zbar = h_theta(B)``, picks per sample the coordinate
    ``k`` where ``Zbar`` moves most, and updates ``B += (Zbar_k - Z_k) S[k]``.
    The output is ``h_theta(B)``. The arg-max is piecewise constant: gradients
    flow through the selected updates. Untrained it equals ``n_layers`` greedy
    coordinate-descent updates followed by the final threshold.

    Built as every network is (see :mod:`sklearn_lsc._networks`); its
    layers threshold with the penalty's l1 part.
    """

    def __init__(self, dictionary, penalty, n_layers):
        super().__init__()
        W, S, inv_diag = cod_operators(dictionary)
        self.penalty = penalty_like(penalty, W)
        self.W = nn.Parameter(W.clone())
        self.S = nn.Parameter(S.expand(n_layers, -1, -1).clone())
        thresholds, _ = self.penalty.thresholds(inv_diag)
        self.theta = nn.Parameter(thresholds.expand(n_layers + 1, -1).clone())

    # The axes of each parameter that run over the atoms (see reset_atoms).
    atom_axes = {"W": (1,), "S": (1, 2), "theta": (1,)}
    # How each parameter scales with the atoms' norms (see LISTA): W is D^T
    # over the squared norms, the thresholds alpha over them; S is scale-free.
    dictionary_powers = {"W": 1, "theta": 1}

    @property
    def n_layers(self):
        return self.S.shape[0]

    def set_dictionary(self, dictionary):
        """Nothing to do: LCoD's learned ``W`` and ``S`` do not read the atoms."""

    def forward(self, X):
        if not torch.is_grad_enabled():
            return self._forward_in_place(X)
        B = X @ self.W
        code = torch.zeros_like(B)
        S = self.S.unbind()  # (one backward for all layers: see LISTA.forward)
        for layer in range(self.n_layers):
            code_bar = self.penalty.shrink(B, self.theta[layer])
            selected = (code_bar - code).abs().argmax(dim=1, keepdim=True)
            new_value = code_bar.gather(1, selected)
            change = new_value - code.gather(1, selected)
            B = B + change * S[layer].index_select(0, selected.squeeze(1))
            code = code.scatter(1, selected, new_value)
        return self.penalty.shrink(B, self.theta[self.n_layers])

    def _forward_in_place(self, X):
        """The forward pass for inference, in buffers every layer reuses (same codes).

        A layer is the exact CoD's step (:func:`coordinate_step_in_place`,
        with a faster arg-max on the CPU than torch's) with the layer's ``S``
        and thresholds.
        """
        B = torch.mm(X, self.W)
        code = torch.zeros_like(B)
        buffers = coordinate_buffers(B)
        rows, _, scratch, _ = buffers
        for layer in range(self.n_layers):
            selected, new_value, _ = coordinate_step_in_place(
                B, code, self.S[layer], self.theta[layer], buffers, self.penalty
            )
            code.index_put_((rows, selected), new_value)
        return self.penalty.shrink_in_place(B, self.theta[self.n_layers], scratch)
