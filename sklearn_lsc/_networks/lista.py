"""LISTA: learned ISTA (Gregor & LeCun 2010), coupled to the dictionary."""

import torch
from torch import nn

from .. import _fused_lista as fused_lista
from .._penalties import penalty_like
from ..solvers import (
    ista_operators,
)
from ._common import records_constructor_arguments


@records_constructor_arguments
class LISTA(nn.Module):
    """Learned ISTA (Gregor & LeCun 2010), ``n_layers`` proximal steps.

    Layer ``t`` computes ``Z <- h_{theta_t}(Z + (X - Z D) W_t)``, i.e. the
    LISTA update ``h(X W_t + Z S_t)`` with ``S_t = I - D W_t``. Tying ``S_t``
    to ``W_t`` through the dictionary (the weight coupling of Chen et al.
    2018) keeps the fixed points of the Lasso and halves the parameters: on
    small training sets it generalizes much better than a free ``S_t``, and
    it costs ``2 n_features n_components`` per sample and layer, no more than a
    free ``S_t`` (``n_components ** 2``) once atoms number at least twice
    the features.

    Untrained (``W_t = D^T / L``, ``theta_t = alpha / L``) it equals
    ``n_layers`` iterations of ISTA started from zero. With ``norm_floor``,
    ISTA's steps are one per atom (``W_t = D^T P``, ``theta_t = alpha P``,
    see :func:`sklearn_lsc.solvers.ista_operators`): on atoms of very
    different norms a far better start.

    Built as every network is (see :mod:`sklearn_lsc._networks`); its
    layers threshold with the penalty's l1 part. Inference on the CPU runs
    through numba kernels where numba is installed and the penalty is the
    Lasso's (:mod:`sklearn_lsc._fused_lista`: the residual's product skips
    zero codes); the torch pass is the fallback and the reference.
    """

    def __init__(self, dictionary, penalty, n_layers, norm_floor=None):
        super().__init__()
        W, _, step = ista_operators(dictionary, norm_floor)
        self.norm_floor = norm_floor
        self.penalty = penalty_like(penalty, W)
        self.register_buffer("dictionary", dictionary.detach().clone())
        self.W = nn.Parameter(W.expand(n_layers, -1, -1).clone())
        threshold, _ = self.penalty.thresholds(step)
        self.theta = nn.Parameter(threshold.to(W.dtype).expand(n_layers, W.shape[1]).clone())

    @property
    def n_layers(self):
        return self.theta.shape[0]

    # The axes of each parameter that run over the atoms (see reset_atoms).
    atom_axes = {"W": (2,), "theta": (1,)}
    # Its untrained network may take ISTA's steps per atom (``norm_floor``).
    per_atom_steps = True
    # How each parameter scales with the atoms' norms: the same problem with
    # atoms c times larger (alpha too) has codes c times smaller, and so are W
    # and the thresholds, in the codes' units (see make_optimizer).
    dictionary_powers = {"W": 1, "theta": 1}

    def set_dictionary(self, dictionary):
        """Follow a dictionary update: the layers' residuals use the new atoms."""
        self.dictionary.copy_(dictionary)

    def forward(self, X):
        if not torch.is_grad_enabled():
            return self._forward_in_place(X)
        shrink = self.penalty.shrink
        # Views of one unbind: its backward stacks the layers' gradients once,
        # where indexing each layer would fill a zero gradient of all of W.
        W, theta = self.W.unbind(), self.theta.unbind()
        code = shrink(X @ W[0], theta[0])
        for layer in range(1, self.n_layers):
            residual = torch.addmm(X, code, self.dictionary, alpha=-1.0)
            code = shrink(torch.addmm(code, residual, W[layer]), theta[layer])
        return code

    def _forward_in_place(self, X):
        """The forward pass for inference: fused CPU kernels where they apply, else torch's."""
        if fused_lista.applies(self, X):
            code = fused_lista.lista_forward(self, X)
            if code is not None:
                return code
        return self._forward_in_place_torch(X)

    def _forward_in_place_torch(self, X):
        """The forward pass for inference, in three buffers every layer reuses.

        Same arithmetic as the autograd forward; fresh large temporaries at
        every operation cost page faults on the CPU.
        """
        code = torch.mm(X, self.W[0])
        spare = torch.empty_like(code)
        residual = torch.empty_like(X)
        self.penalty.shrink_in_place(code, self.theta[0], spare)
        for layer in range(1, self.n_layers):
            torch.addmm(X, code, self.dictionary, alpha=-1.0, out=residual)
            torch.addmm(code, residual, self.W[layer], out=spare)
            code, spare = spare, code
            self.penalty.shrink_in_place(code, self.theta[layer], spare)
        return code
