"""Step LISTA: FISTA with learned per-layer steps, momenta and thresholds (analytic matrices)."""

import torch
from torch import nn

from .. import _fused_analytic as fused_analytic
from .._penalties import penalty_like
from ..solvers import (
    ista_operators,
)
from ._common import fista_momentum, records_constructor_arguments


@records_constructor_arguments
class StepLISTA(nn.Module):
    """FISTA with learned per-layer steps, thresholds and momenta (analytic matrices).

    Layer ``t`` computes, from ``Y = Z + beta_t (Z - Z_prev)``::

        Z <- h_{theta_t}(Y + gamma_t (X - Y D) D^T P),
        theta_t = gamma_t * rho_t * alpha P

    The matrices are the dictionary's own (analytic, as in the step-size
    LISTA of Ablin, Moreau, Massias & Gramfort, NeurIPS 2019, and the
    analytic weights of ALISTA, Liu et al., ICLR 2019): only the step
    multiples ``gamma_t`` (one per layer), the momenta ``beta_t`` (one per
    layer after the first) and the threshold ratios ``rho_t`` (one per layer
    and atom) are learned, ``(n_components + 2) * n_layers`` numbers in all.
    Few parameters need few training signals and do not overfit them, and the
    network follows a changed dictionary (``set_dictionary`` recomputes ``D^T
    P``) without retraining. On incoherent dictionaries the analytic matrices
    are close to the best; on coherent ones (image patches, digits) a learned
    matrix (:class:`LISTA`) goes further when there is data to learn it.

    Untrained (``gamma_t = rho_t = 1``, FISTA's momenta ``beta_t = (tau_t -
    1) / tau_{t+1}``) it equals ``n_layers`` FISTA iterations from zero,
    without restart. ``P`` is ISTA's step ``1 / L``, or with ``norm_floor``
    one step per atom (see :func:`sklearn_lsc.solvers.ista_operators`).

    Built as every network is (see :mod:`sklearn_lsc._networks`); its
    layers threshold with the penalty's l1 part. Inference on the CPU runs
    through a numba kernel where numba is installed and the penalty is the
    Lasso's (:mod:`sklearn_lsc._fused_analytic`: one product with ``X`` for
    all layers, the later layers' products skip zero codes); the torch pass
    is the fallback and the reference.
    """

    # Few parameters, each a multiple of order one (see make_optimizer).
    learning_rate_scale = 10.0

    def __init__(self, dictionary, penalty, n_layers, norm_floor=None):
        super().__init__()
        W, _, step = ista_operators(dictionary, norm_floor)
        self.norm_floor = norm_floor
        dtype, device = W.dtype, W.device
        self.penalty = penalty_like(penalty, W)
        self.register_buffer("dictionary", dictionary.detach().clone())
        self.register_buffer("W", W.detach().clone())
        self.register_buffer("inverse_lipschitz", step.detach().to(device, dtype).clone())
        self.step = nn.Parameter(torch.ones(n_layers, 1, dtype=dtype, device=device))
        self.momentum = nn.Parameter(
            torch.tensor(fista_momentum(n_layers), dtype=dtype, device=device)
        )
        self.threshold_ratio = nn.Parameter(
            torch.ones(n_layers, W.shape[1], dtype=dtype, device=device)
        )

    # Its untrained network may take ISTA's steps per atom (``norm_floor``).
    per_atom_steps = True
    # The axes of each parameter that run over the atoms (see reset_atoms).
    atom_axes = {"threshold_ratio": (1,)}

    @property
    def n_layers(self):
        return self.step.shape[0]

    def set_dictionary(self, dictionary):
        """Follow a dictionary update: new atoms, matrix ``D^T P`` and steps ``P``."""
        W, _, step = ista_operators(dictionary, self.norm_floor)
        self.dictionary.copy_(dictionary)
        self.W.copy_(W)
        self.inverse_lipschitz.copy_(step)

    def _thresholds(self, layer):
        scale, _ = self.penalty.thresholds(self.inverse_lipschitz)
        return self.step[layer] * self.threshold_ratio[layer] * scale

    def forward(self, X):
        if not torch.is_grad_enabled():
            return self._forward_in_place(X)
        code = self.penalty.shrink(self.step[0] * (X @ self.W), self._thresholds(0))
        previous = torch.zeros_like(code)
        for layer in range(1, self.n_layers):
            ahead = code + self.momentum[layer - 1] * (code - previous)
            residual = torch.addmm(X, ahead, self.dictionary, alpha=-1.0)
            update = ahead + self.step[layer] * (residual @ self.W)
            previous, code = code, self.penalty.shrink(update, self._thresholds(layer))
        return code

    def _layer_parameters(self):
        """Each layer's step and thresholds, and the later layers' weights ``1 + beta_t``
        of the point ahead (see :func:`sklearn_lsc._fused_analytic.analytic_forward`)."""
        thresholds = torch.stack([self._thresholds(layer) for layer in range(self.n_layers)])
        return self.step[:, 0], thresholds, 1.0 + self.momentum[: self.n_layers - 1]

    def _forward_in_place(self, X):
        """The forward pass for inference: the fused CPU kernel where it applies, else torch's."""
        if fused_analytic.applies(self, X):
            code = fused_analytic.analytic_forward(self, X)
            if code is not None:
                return code
        return self._forward_in_place_torch(X)

    def _forward_in_place_torch(self, X):
        """The forward pass for inference, in four buffers every layer reuses (same codes)."""
        code = torch.mm(X, self.W).mul_(self.step[0])
        ahead, previous = torch.empty_like(code), torch.zeros_like(code)
        residual = torch.empty_like(X)
        self.penalty.shrink_in_place(code, self._thresholds(0), ahead)
        for layer in range(1, self.n_layers):
            torch.lerp(previous, code, 1.0 + self.momentum[layer - 1], out=ahead)
            torch.addmm(X, ahead, self.dictionary, alpha=-1.0, out=residual)
            # Z_prev is no longer needed: its buffer takes the new code.
            torch.mm(residual, self.W, out=previous).mul_(self.step[layer]).add_(ahead)
            code, previous = previous, code
            self.penalty.shrink_in_place(code, self._thresholds(layer), ahead)
        return code
