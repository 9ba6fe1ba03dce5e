"""HyperLISTA: ALISTA with momentum, each layer's parameters computed from its input."""

import torch
from torch import nn

from ._common import records_constructor_arguments
from .alista import AnalyticWeightNetwork, threshold_scales


@records_constructor_arguments
class HyperLISTA(AnalyticWeightNetwork):
    """ALISTA with momentum whose per-layer parameters follow from four learned scalars.

    After Chen, Liu, Wang & Yin (NeurIPS 2021, "Hyperparameter tuning is all
    you need for LISTA"): no parameter belongs to a layer. Each layer computes
    its momentum and threshold, for each row, from the iterate it receives::

        beta   = c_momentum * ||Z||_0 / n_components
        Y      = Z + beta (Z - Z_prev)
        G      = (X - Y D) W
        theta  = c_step * gamma * (c_threshold * alpha + c_residual * ||G||_1 / n_components)
        Z_next = h_theta(Y + c_step * gamma * G)

    with ``W`` and ``gamma = 1 / L_W`` ALISTA's analytic weight and step
    (:func:`analytic_weight`), ``alpha`` divided by each atom's squared norm
    as in :class:`ALISTA` (:func:`threshold_scales`). Momentum grows with the
    support found so far and the threshold shrinks with the residual, as in
    the paper, with deliberate differences: the gradient is taken at the
    extrapolated point ``Y`` (Nesterov's form; the paper's momentum is added
    after the step), the residual is measured through ``W`` (the paper:
    ``A^+``) and the support size as a fraction of the atoms; the threshold keeps the floor
    ``alpha`` the Lasso needs (the paper's recovery target has none), and
    support selection is left out (it biases Lasso codes). Four numbers in
    all, whatever ``n_layers``: few training signals suffice, and a changed
    dictionary needs no retraining.

    Untrained (``c_step = c_threshold = 1``, ``c_residual = c_momentum = 0``)
    it equals untrained :class:`ALISTA`: ``n_layers`` iterations of the
    analytic update from zero.

    Built as every network is (see :mod:`sklearn_lsc._networks`); its
    layers threshold with the penalty's l1 part.
    """

    def __init__(self, dictionary, penalty, n_layers):
        super().__init__()
        step = self._set_up(dictionary, penalty)
        self._n_layers = int(n_layers)
        self.c_step = nn.Parameter(torch.ones_like(step))
        self.c_threshold = nn.Parameter(torch.ones_like(step))
        self.c_residual = nn.Parameter(torch.zeros_like(step))
        self.c_momentum = nn.Parameter(torch.zeros_like(step))

    @property
    def n_layers(self):
        return self._n_layers

    def forward(self, X):
        n_components = self.W.shape[1]
        step = self.c_step * self.analytic_step
        code = previous = None
        scales = threshold_scales(self.dictionary)
        for _ in range(self.n_layers):
            if code is None:  # from zero: the residual is X itself
                ahead, gradient = 0.0, X @ self.W
            else:
                density = torch.count_nonzero(code, dim=1).unsqueeze(1) / n_components
                ahead = torch.lerp(previous, code, 1.0 + self.c_momentum * density.to(code.dtype))
                gradient = torch.addmm(X, ahead, self.dictionary, alpha=-1.0) @ self.W
            residual_size = gradient.abs().mean(dim=1, keepdim=True)
            floor, _ = self.penalty.thresholds(self.c_threshold * scales)
            threshold = step * (floor + self.c_residual * residual_size)
            previous, code = code, self.penalty.shrink(ahead + step * gradient, threshold)
            if previous is None:
                previous = torch.zeros_like(code)
        return code
