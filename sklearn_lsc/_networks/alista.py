"""ALISTA: an analytic, least-coherent weight with learned steps and thresholds."""

import torch
from torch import nn

from .. import _fused_analytic as fused_analytic
from .._penalties import penalty_like
from ._common import records_constructor_arguments


def analytic_weight(dictionary):
    """ALISTA's weight ``W`` (``n_features x n_components``) and its step ``1 / L_W``.

    Column ``j`` of ``W`` is the vector least correlated with every atom
    (smallest ``||D w||_2``) among those with ``d_j . w = 1`` (Liu, Chen, Wang
    & Yin, ICLR 2019). With ``M = D^T D`` it is ``M^+ d_j / (d_j M^+ d_j)``;
    a zero atom gets a zero column. ``L_W`` is the largest eigenvalue of ``D
    W`` (real and nonnegative): the step ``1 / L_W`` keeps ``I - D W / L_W``
    positive semi-definite, as ISTA's ``1 / L`` does for ``I - D D^T / L``.
    Computed on the CPU in float64 whatever the dictionary's device and dtype
    (the pseudo-inverse of a coherent dictionary's Gram matrix needs it, and
    some accelerators have no float64), then returned on its device and dtype.
    """
    D = dictionary.detach().to("cpu", torch.float64)
    eigenvalues, eigenvectors = torch.linalg.eigh(D.T @ D)
    largest = eigenvalues[-1].clamp(min=torch.finfo(torch.float64).tiny)
    kept = eigenvalues > largest * max(D.shape) * 1e-12
    inverse = torch.where(kept, 1.0 / torch.where(kept, eigenvalues, 1.0), 0.0)
    pseudo = ((D @ eigenvectors) * inverse) @ eigenvectors.T  # row j: M^+ d_j
    norm = (pseudo * D).sum(dim=1)  # d_j M^+ d_j, at least ||d_j||^2 / lambda_max
    # Zero atoms only (a relative test: rounding leaves tiny nonzero norms).
    live = norm > 0.5 * (D * D).sum(dim=1) / largest
    W = torch.where(live[:, None], pseudo / torch.where(live, norm, 1.0)[:, None], 0.0).T
    # D W = P diag(1 / norm) with P the projector onto D's column space:
    # similar to the symmetric diag(norm^-1/2) P diag(norm^-1/2).
    root = torch.where(live, norm, 1.0).rsqrt() * live
    top = torch.linalg.eigvalsh(root[:, None] * (D @ pseudo.T) * root[None, :])[-1]
    step = 1.0 / top.clamp(min=torch.finfo(torch.float64).tiny)
    return (
        W.to(dictionary.device, dictionary.dtype),
        step.to(dictionary.device, dictionary.dtype),
    )


def threshold_scales(dictionary):
    """Each atom's ``1 / ||d_j||^2``, the factor of its threshold (zero atoms: 0).

    Column ``j`` of the analytic weight has ``d_j . w_j = 1``, so along it the
    update moves coefficient ``j`` by about ``r . d_j / ||d_j||^2``: ISTA's
    step for that atom, up to ``gamma``. Its threshold, ``alpha`` times the
    step, follows: with atoms ``c`` times larger (``alpha`` too) the codes,
    the updates and the thresholds are all ``c`` times smaller, and with
    unit-norm atoms the factor is one (ALISTA's ``gamma alpha``).
    """
    squared = dictionary.detach().square().sum(dim=1)
    live = squared > squared.max() * 1e-24  # zero atoms only (their weight column is zero)
    return torch.where(live, 1.0 / torch.where(live, squared, 1.0), 0.0)


class AnalyticWeightNetwork(nn.Module):
    """What the networks on the analytic weight share: its buffers and following the atoms.

    Their few parameters are multiples of order one (see make_optimizer).
    """

    learning_rate_scale = 10.0

    def _set_up(self, dictionary, penalty):
        """Keep the penalty, the atoms, the analytic weight and its step; return the step."""
        W, step = analytic_weight(dictionary)
        self.penalty = penalty_like(penalty, dictionary)
        self.register_buffer("dictionary", dictionary.detach().clone())
        self.register_buffer("W", W)
        self.register_buffer("analytic_step", step)
        return step

    def set_dictionary(self, dictionary):
        """Follow a dictionary update: new atoms and analytic weight (the steps stay learned)."""
        W, step = analytic_weight(dictionary)
        self.dictionary.copy_(dictionary)
        self.W.copy_(W)
        self.analytic_step.copy_(step)


@records_constructor_arguments
class ALISTA(AnalyticWeightNetwork):
    """Analytic LISTA (Liu, Chen, Wang & Yin, ICLR 2019): two learned numbers per layer.

    Layer ``t`` computes::

        Z <- h_{theta_t}(Z + s_t gamma (X - Z D) W),  theta_t = s_t gamma rho_t alpha

    with the weight ``W`` computed from the dictionary, not learned: each
    column is the vector least coherent with all atoms that has unit inner
    product with its own, and ``gamma = 1 / L_W`` its step
    (:func:`analytic_weight`). Atoms of other than unit norm threshold at
    ``theta_t / ||d_j||^2`` (:func:`threshold_scales`), so that any scale of
    the atoms gives the same codes, rescaled. Only the step multiple ``s_t``
    and the threshold ratio ``rho_t`` of each layer are learned, ``2 * n_layers``
    numbers, so it needs few training signals and a changed dictionary
    (``set_dictionary`` recomputes ``W``) needs no retraining.
    ALISTA's support selection is left out: it stops shrinking the largest
    coefficients, which biases the Lasso codes this network is trained to
    reach.

    The analytic weight replaces the Lasso's gradient ``(X - Z D) D^T`` by a
    decorrelated one, so the fixed points are not exactly the Lasso's: the
    trained steps and thresholds make up for it over a few layers on
    incoherent dictionaries; more layers do not converge to the Lasso, and on
    coherent dictionaries (image patches, digits) the decorrelated gradient
    points far from the Lasso's. Untrained (``s_t = rho_t = 1``) it equals
    ``n_layers`` iterations of that update from zero.

    Built as every network is (see :mod:`sklearn_lsc._networks`); its
    layers threshold with the penalty's l1 part. Inference on the CPU runs
    through a numba kernel where numba is installed and the penalty is the
    Lasso's (:mod:`sklearn_lsc._fused_analytic`: one product with ``X`` for
    all layers, the later layers' products skip zero codes); the torch pass
    is the fallback and the reference.
    """

    def __init__(self, dictionary, penalty, n_layers):
        super().__init__()
        step = self._set_up(dictionary, penalty)
        # Multiples of the analytic step: the optimizer's steps are then
        # relative, whatever the dictionary's scale.
        self.step = nn.Parameter(torch.ones(n_layers, dtype=step.dtype, device=step.device))
        self.threshold_ratio = nn.Parameter(torch.ones_like(self.step))

    @property
    def n_layers(self):
        return self.step.shape[0]

    def _layer_parameters(self):
        """Each layer's step and thresholds, and None: no momentum (see
        :func:`sklearn_lsc._fused_analytic.analytic_forward`)."""
        steps = self.step * self.analytic_step
        ratios = (steps * self.threshold_ratio)[:, None] * threshold_scales(self.dictionary)
        return steps, self.penalty.thresholds(ratios)[0], None

    def forward(self, X):
        if not torch.is_grad_enabled() and fused_analytic.applies(self, X):
            code = fused_analytic.analytic_forward(self, X)
            if code is not None:
                return code
        return self._forward_in_place_torch(X)

    def _forward_in_place_torch(self, X):
        """The torch pass: training's (autograd), inference's fallback and the
        fused pass's reference (named as the other networks' inference passes)."""
        code = None
        scales = threshold_scales(self.dictionary)
        for layer in range(self.n_layers):
            step = self.step[layer] * self.analytic_step
            threshold = self.penalty.thresholds(step * self.threshold_ratio[layer] * scales)[0]
            if code is None:  # from zero: the residual is X itself
                update = step * (X @ self.W)
            else:
                residual = torch.addmm(X, code, self.dictionary, alpha=-1.0)
                update = code + step * (residual @ self.W)
            code = self.penalty.shrink(update, threshold)
        return code
