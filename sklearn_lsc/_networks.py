"""Unrolled sparse-coding networks (torch modules, no scikit-learn here).

Each network has the shape of ``n_layers`` iterations of an exact algorithm
and is initialized from the dictionary exactly as that algorithm prescribes,
so an untrained network returns the algorithm's iterate. Training then moves
the matrices ``W``, ``S`` and the thresholds away from those values.

Every layer has its own weights and thresholds (untied: the networks reach a
given accuracy with fewer layers than with weights shared across layers).
"""

import functools
import math

import torch
from torch import nn

from . import _fused as fused
from ._prox import (
    contiguous_group_size,
    group_norms,
    group_shrink_factor,
    group_shrink_in_place,
    group_sums,
    hilasso_prox,
    keep_group,
    soft_threshold,
    soft_threshold_in_place,
)
from .solvers import (
    bcofb_operators,
    cod_operators,
    coordinate_buffers,
    coordinate_step_in_place,
    ista_operators,
)


def _cpu_copy(value):
    return value.detach().to("cpu", copy=True) if isinstance(value, torch.Tensor) else value


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
    ``n_layers`` iterations of ISTA started from zero.

    Parameters
    ----------
    dictionary : Tensor of shape (n_components, n_features)
    alpha : float
    n_layers : int
    """

    def __init__(self, dictionary, alpha, n_layers):
        super().__init__()
        W, _, step = ista_operators(dictionary)
        self.register_buffer("dictionary", dictionary.detach().clone())
        self.W = nn.Parameter(W.expand(n_layers, -1, -1).clone())
        self.theta = nn.Parameter(
            torch.full((n_layers, W.shape[1]), float(alpha * step), dtype=W.dtype, device=W.device)
        )

    @property
    def n_layers(self):
        return self.theta.shape[0]

    def set_dictionary(self, dictionary):
        """Follow a dictionary update: the layers' residuals use the new atoms."""
        self.dictionary.copy_(dictionary)

    def forward(self, X):
        if not torch.is_grad_enabled():
            return self._forward_in_place(X)
        code = soft_threshold(X @ self.W[0], self.theta[0])
        for layer in range(1, self.n_layers):
            residual = torch.addmm(X, code, self.dictionary, alpha=-1.0)
            code = soft_threshold(torch.addmm(code, residual, self.W[layer]), self.theta[layer])
        return code

    def _forward_in_place(self, X):
        """The forward pass for inference, in three buffers every layer reuses.

        Same arithmetic as the autograd forward; fresh large temporaries at
        every operation cost page faults on the CPU.
        """
        code = torch.mm(X, self.W[0])
        spare = torch.empty_like(code)
        residual = torch.empty_like(X)
        soft_threshold_in_place(code, self.theta[0], spare)
        for layer in range(1, self.n_layers):
            torch.addmm(X, code, self.dictionary, alpha=-1.0, out=residual)
            torch.addmm(code, residual, self.W[layer], out=spare)
            code, spare = spare, code
            soft_threshold_in_place(code, self.theta[layer], spare)
        return code


def fista_momentum(n_steps):
    """FISTA's extrapolation coefficients ``(tau_k - 1) / tau_{k+1}``, k = 1 .. n_steps - 1."""
    tau = [1.0]
    for _ in range(n_steps):
        tau.append((1.0 + math.sqrt(1.0 + 4.0 * tau[-1] ** 2)) / 2.0)
    return [(tau[k] - 1.0) / tau[k + 1] for k in range(n_steps - 1)]


def correction_basis(dictionary, rank):
    """The top ``rank`` eigenvectors of the atoms' Gram matrix, of unit norm.

    Shape (n_components, min(rank, n_components)), in the dictionary's dtype
    and device; computed on the CPU in float64, each vector's largest entry
    made positive, so that every machine starts from the same basis.
    """
    n_components = dictionary.shape[0]
    atoms = dictionary.detach().to("cpu", torch.float64)
    _, vectors = torch.linalg.eigh(atoms @ atoms.T)
    top = vectors[:, -min(rank, n_components) :].flip(1)
    signs = top.gather(0, top.abs().argmax(dim=0, keepdim=True)).sign()
    top = top * torch.where(signs == 0, 1.0, signs)
    return top.to(dictionary.device, dictionary.dtype)


@records_constructor_arguments
class RescaledLISTA(LISTA):
    """Learned ISTA with momentum whose layers move each code to a better point of a plane.

    Layer ``t`` steps from ``Y = Z + beta_t (Z - Z_prev)`` (a learned
    momentum per layer, starting from FISTA's coefficients) to the proximal
    point ``G = h_{theta_t}(g_t * Y + (X - Y D) W_t + (Y U_t) V_t)`` (learned
    per-atom gains and a low-rank correction, below), then returns, per
    signal, the better of two points of the plane spanned by ``G`` and the
    previous layer's output ``Z``:

    - the best multiple ``c G``. The penalty ``P`` is positively
      homogeneous, so ``c = max(0, (<x, G D> - P(G)) / ||G D||^2)``;
    - the ``a G + b Z`` that minimises the objective with ``P`` replaced by
      its linearisation ``<s, .>`` at ``G``, then rescaled to its own best
      multiple. ``s`` is a subgradient of ``P`` at ``G`` (taken at ``Z``
      where ``G`` is zero): the model is exact at ``G``, a lower bound
      elsewhere, and its minimiser solves a 2 x 2 linear system per signal.

    "Better" is decided on the exact objective, so a layer's output is never
    worse than the best multiple of its proximal point, and is its own best
    multiple. A LISTA layer keeps one threshold and one step for all
    signals; the plane adapts each signal's magnitude and step (a per-signal
    momentum). ``G D`` is the product the next layer's residual needs (``Y D
    = Z D + beta (Z D - Z_prev D)`` and the output's image follow from it),
    so a layer costs the two products of a LISTA layer plus elementwise
    work, and the last layer one product more.

    ``P`` is ``alpha ||z||_1``, plus ``sum_g s_g ||z_g||_2`` when groups are
    given (the HiLasso objective; the unsupervised penalties, also under a
    discriminative objective). Untrained (``W_t = D^T / L``,
    ``theta_t = alpha / L``) its first layer is ISTA's first iterate
    rescaled, and every later layer starts from a FISTA step: ``beta_t =
    (tau_{t+1} - 1) / tau_{t+2}`` with ``tau_1 = 1``, ``tau_{k+1} = (1 +
    sqrt(1 + 4 tau_k^2)) / 2`` (0.28, 0.43, 0.53, ...; FISTA's own first
    extrapolation, 0, is skipped: the plane already rescales the first
    layer). Trained from there rather than from ``beta_t = 0``, the networks
    reach smaller held-out gaps.

    The learned per-atom gains ``g_t`` (ones untrained) free the diagonal of
    the layer's matrix on the code, ``B = Y (diag(g_t) - D W_t) + X W_t``,
    which with ``g_t = 1`` is tied to the identity; they cost an elementwise
    product and lower the held-out gap.

    A learned correction of rank ``r = min(16, n_components)`` frees that
    matrix further: ``B`` adds ``(Y U_t) V_t``, with ``U_t`` (n_components,
    r) starting from the top eigenvectors of the atoms' Gram matrix and
    ``V_t`` (r, n_components) from zero, so the untrained network is
    unchanged. ``U_t`` is stored with unit columns and scaled by ``1 /
    sqrt(n_components)`` in the product: stored at that scale, its entries
    were small against Adam's steps and shallow networks trained badly. It
    costs ``4 r n_components`` operations per signal and layer, a quarter
    of a layer's two products with 64 features. Rank 16 rather than 8:
    with more training data or input noise the larger rank lowers the
    held-out gap further; from the Gram matrix's top eigenvectors rather
    than random bases: a better start at small ranks.

    Parameters
    ----------
    dictionary : Tensor of shape (n_components, n_features)
    alpha : float
    n_layers : int
    group_index : LongTensor of shape (n_components,), default=None
        The group of each atom; None for the Lasso.
    group_penalties : Tensor of shape (n_groups,), default=None
        ``group_alpha * group_weights`` when ``group_index`` is given.
    """

    # The 2 x 2 system is solved only when its determinant exceeds this
    # fraction of the product of its diagonal (G D and Z D not parallel).
    _CONDITION = 1e-6
    # Rank of the learned correction of each layer's matrix on the code.
    _CORRECTION_RANK = 16

    def __init__(self, dictionary, alpha, n_layers, group_index=None, group_penalties=None):
        super().__init__(dictionary, alpha, n_layers)
        dtype = self.W.dtype
        self.alpha = float(alpha)
        self.momentum = nn.Parameter(
            torch.tensor(fista_momentum(n_layers + 1)[1:], dtype=dtype, device=self.W.device)
        )
        self.gain = nn.Parameter(
            torch.ones(n_layers - 1, self.W.shape[2], dtype=dtype, device=self.W.device)
        )
        basis = correction_basis(dictionary, self._CORRECTION_RANK)
        self.correction_basis = nn.Parameter(basis.expand(n_layers - 1, -1, -1).clone())
        self.correction = nn.Parameter(basis.new_zeros(n_layers - 1, *basis.T.shape))
        self._correction_scale = 1.0 / math.sqrt(self.W.shape[2])
        self.grouped, self.group_size = group_index is not None, None
        if self.grouped:
            self.register_buffer("group_index", group_index.detach().clone())
            self.register_buffer("group_penalties", group_penalties.detach().to(dtype).clone())
            self.group_size = contiguous_group_size(group_index, group_penalties.shape[-1])

    def forward(self, X):
        if not torch.is_grad_enabled():
            return self._forward_in_place(X)
        code = soft_threshold(X @ self.W[0], self.theta[0])
        approximation = code @ self.dictionary
        factor, _ = self._coefficients(X, code, approximation)
        code, approximation = code * factor, approximation * factor
        previous, previous_approximation = torch.zeros_like(code), torch.zeros_like(X)
        for layer in range(1, self.n_layers):
            momentum = self.momentum[layer - 1]
            ahead = code + momentum * (code - previous)
            residual = X - approximation - momentum * (approximation - previous_approximation)
            B = torch.addmm(ahead * self.gain[layer - 1], residual, self.W[layer])
            projection = ahead @ self.correction_basis[layer - 1]
            B = torch.addmm(
                B, projection, self.correction[layer - 1], alpha=self._correction_scale
            )
            step = soft_threshold(B, self.theta[layer])
            image = step @ self.dictionary
            a, b = self._coefficients(X, step, image, code, approximation)
            previous, previous_approximation = code, approximation
            code = torch.addcmul(step * a, code, b)
            approximation = torch.addcmul(image * a, approximation, b)
        return code

    def _forward_in_place(self, X):
        """The forward pass for inference: fused CPU kernels where they apply, else torch's."""
        if fused.applies(self, X):
            code = fused.rescaled_lista_forward(self, X)
            if code is not None:
                return code
        return self._forward_in_place_torch(X)

    def _forward_in_place_torch(self, X):
        """The forward pass for inference, in six buffers every layer reuses (same codes).

        Fresh large temporaries at every operation cost page faults on the
        CPU. The momentum stays a tensor (no host synchronisation on GPUs).
        """
        code = torch.mm(X, self.W[0])
        spare, previous = torch.empty_like(code), torch.empty_like(code)
        soft_threshold_in_place(code, self.theta[0], spare)
        approximation = torch.mm(code, self.dictionary)
        factor, _ = self._coefficients(X, code, approximation, scratch=spare)
        code.mul_(factor)
        approximation.mul_(factor)
        previous_approximation, residual = torch.empty_like(X), torch.empty_like(X)
        for layer in range(1, self.n_layers):
            # The point ahead Y = Z + m (Z - Z_prev) = lerp(Z_prev, Z, 1 + m) and
            # X - Y D, with Z_prev = 0 before the first layer.
            weight = 1.0 + self.momentum[layer - 1]
            if layer == 1:
                torch.mul(code, weight, out=spare)
                torch.mul(approximation, weight, out=residual)
            else:
                torch.lerp(previous, code, weight, out=spare)
                torch.lerp(previous_approximation, approximation, weight, out=residual)
            torch.sub(X, residual, out=residual)
            projection = torch.mm(spare, self.correction_basis[layer - 1])
            spare.mul_(self.gain[layer - 1])
            step, image = previous, previous_approximation  # Z_prev is no longer needed
            torch.addmm(spare, residual, self.W[layer], out=step)
            step.addmm_(projection, self.correction[layer - 1], alpha=self._correction_scale)
            soft_threshold_in_place(step, self.theta[layer], spare)
            torch.mm(step, self.dictionary, out=image)
            a, b = self._coefficients(X, step, image, code, approximation, scratch=spare)
            step.mul_(a).addcmul_(code, b)
            image.mul_(a).addcmul_(approximation, b)
            code, previous = step, code
            approximation, previous_approximation = image, approximation
        return code

    def _coefficients(self, X, step, image, code=None, approximation=None, scratch=None):
        """Each signal's ``(a, b)``, shape (n_samples, 1): the layer returns ``a G + b Z``.

        ``step`` is ``G`` and ``image`` is ``G D``; ``code`` and
        ``approximation`` are ``Z`` and ``Z D`` (None in the first layer:
        ``b`` is None and ``a`` the best factor). ``scratch``, a buffer
        shaped like ``step``, saves the temporaries of inference.
        """
        fit = torch.linalg.vecdot(X, image).unsqueeze(1)
        energy = torch.linalg.vector_norm(image, dim=1, keepdim=True).square()
        penalty = self._penalty(step, scratch)
        # An all-zero G has fit = penalty = 0: its factor is 0, not 0 / 0.
        tiny = torch.finfo(energy.dtype).tiny
        factor = ((fit - penalty) / energy.clamp_min(tiny)).clamp_min(0.0)
        if code is None:
            return factor, None
        slope = self._linearised_penalty(step, code, scratch)
        fit_code = torch.linalg.vecdot(X, approximation).unsqueeze(1)
        energy_code = torch.linalg.vector_norm(approximation, dim=1, keepdim=True).square()
        cross = torch.linalg.vecdot(image, approximation).unsqueeze(1)
        determinant = energy * energy_code - cross.square()
        solvable = determinant > self._CONDITION * energy * energy_code
        determinant = torch.where(solvable, determinant, torch.ones_like(determinant))
        a = (energy_code * (fit - penalty) - cross * (fit_code - slope)) / determinant
        b = (energy * (fit_code - slope) - cross * (fit - penalty)) / determinant
        a, b = torch.where(solvable, a, factor), torch.where(solvable, b, torch.zeros_like(b))
        if scratch is None:
            candidate = torch.addcmul(step * a, code, b)
        else:
            candidate = torch.mul(step, a, out=scratch).addcmul_(code, b)
        # The plane's point, rescaled to its own best multiple (free: its fit,
        # energy and penalty follow from the inner products above).
        planar_penalty = self._penalty(candidate, scratch)
        planar_fit = a * fit + b * fit_code
        planar_energy = a.square() * energy + 2 * a * b * cross + b.square() * energy_code
        rescale = ((planar_fit - planar_penalty) / planar_energy.clamp_min(tiny)).clamp_min(0.0)
        # The exact objectives of both points, less the common 0.5 ||x||^2.
        planar = rescale * (0.5 * rescale * planar_energy - planar_fit + planar_penalty)
        scaled = factor * (0.5 * factor * energy - fit + penalty)
        better = solvable & (planar < scaled)
        zero = torch.zeros_like(b)
        return torch.where(better, rescale * a, factor), torch.where(better, rescale * b, zero)

    def _penalty(self, code, scratch=None):
        """``P(code)`` per signal, shape (n_samples, 1); may overwrite ``scratch``."""
        total = 0.0
        if self.grouped:
            n_groups = self.group_penalties.shape[-1]
            norms = group_norms(code, self.group_index, n_groups, self.group_size)
            total = (norms * self.group_penalties).sum(dim=1, keepdim=True)
        magnitudes = code.abs() if scratch is None else torch.abs(code, out=scratch)
        return self.alpha * magnitudes.sum(dim=1, keepdim=True) + total

    def _linearised_penalty(self, step, code, scratch=None):
        """``<s, code>`` for ``s`` a subgradient of ``P`` at ``step``, per signal.

        Per coefficient ``s`` is the sign of ``step``, or of ``code`` where
        ``step`` is zero; per group ``s_g`` is ``step_g / ||step_g||``, or
        ``code_g / ||code_g||`` where ``step_g`` is zero.
        """
        if scratch is None:
            signs = torch.where(step != 0, step, code).sign_()
            slope = self.alpha * torch.linalg.vecdot(signs, code).unsqueeze(1)
        else:
            # Inference, with no mask (its compare and select cost a quarter of
            # a layer on the CPU): s_i z_i is |z_i|, or -|z_i| where step_i
            # and z_i have opposite signs.
            opposite = torch.sign(step, out=scratch).mul_(code).neg_().relu_()
            opposite = opposite.sum(dim=1, keepdim=True)
            magnitude = torch.abs(code, out=scratch).sum(dim=1, keepdim=True)
            slope = self.alpha * (magnitude - 2 * opposite)
        if not self.grouped:
            return slope
        n_groups = self.group_penalties.shape[-1]
        squares = group_sums(step * step, self.group_index, n_groups, self.group_size)
        dots = group_sums(step * code, self.group_index, n_groups, self.group_size)
        along = torch.where(
            squares > 0,
            dots / squares.clamp_min(1e-30).sqrt(),
            group_norms(code, self.group_index, n_groups, self.group_size),
        )
        return slope + (along * self.group_penalties).sum(dim=1, keepdim=True)


@records_constructor_arguments
class StepLISTA(nn.Module):
    """FISTA with learned per-layer steps, thresholds and momenta (analytic matrices).

    Layer ``t`` computes, from ``Y = Z + beta_t (Z - Z_prev)``::

        Z <- h_{theta_t}(Y + gamma_t (X - Y D) D^T / L),
        theta_t = gamma_t * rho_t * alpha / L

    The matrices are the dictionary's own (analytic, as in the step-size
    LISTA of Ablin, Moreau, Massias & Gramfort, NeurIPS 2019, and the
    analytic weights of ALISTA, Liu et al., ICLR 2019): only the step
    multiples ``gamma_t`` (one per layer), the momenta ``beta_t`` (one per
    layer after the first) and the threshold ratios ``rho_t`` (one per layer
    and atom) are learned, ``(n_components + 2) * n_layers`` numbers in all.
    Few parameters need few training signals and do not overfit them, and the
    network follows a changed dictionary (``set_dictionary`` recomputes ``D^T /
    L``) without retraining. On incoherent dictionaries the analytic matrices
    are close to the best; on coherent ones (image patches, digits) a learned
    matrix (:class:`LISTA`) goes further when there is data to learn it.

    Untrained (``gamma_t = rho_t = 1``, FISTA's momenta ``beta_t = (tau_t -
    1) / tau_{t+1}``) it equals ``n_layers`` FISTA iterations from zero,
    without restart.

    Parameters
    ----------
    dictionary : Tensor of shape (n_components, n_features)
    alpha : float
    n_layers : int
    """

    def __init__(self, dictionary, alpha, n_layers):
        super().__init__()
        W, _, step = ista_operators(dictionary)
        dtype, device = W.dtype, W.device
        self.alpha = float(alpha)
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

    @property
    def n_layers(self):
        return self.step.shape[0]

    def set_dictionary(self, dictionary):
        """Follow a dictionary update: new atoms, matrix ``D^T / L`` and step scale."""
        W, _, step = ista_operators(dictionary)
        self.dictionary.copy_(dictionary)
        self.W.copy_(W)
        self.inverse_lipschitz.copy_(step)

    def _thresholds(self, layer):
        scale = self.alpha * self.inverse_lipschitz
        return self.step[layer] * self.threshold_ratio[layer] * scale

    def forward(self, X):
        if not torch.is_grad_enabled():
            return self._forward_in_place(X)
        code = soft_threshold(self.step[0] * (X @ self.W), self._thresholds(0))
        previous = torch.zeros_like(code)
        for layer in range(1, self.n_layers):
            ahead = code + self.momentum[layer - 1] * (code - previous)
            residual = torch.addmm(X, ahead, self.dictionary, alpha=-1.0)
            update = ahead + self.step[layer] * (residual @ self.W)
            previous, code = code, soft_threshold(update, self._thresholds(layer))
        return code

    def _forward_in_place(self, X):
        """The forward pass for inference, in four buffers every layer reuses (same codes)."""
        code = torch.mm(X, self.W).mul_(self.step[0])
        ahead, previous = torch.empty_like(code), torch.zeros_like(code)
        residual = torch.empty_like(X)
        soft_threshold_in_place(code, self._thresholds(0), ahead)
        for layer in range(1, self.n_layers):
            torch.lerp(previous, code, 1.0 + self.momentum[layer - 1], out=ahead)
            torch.addmm(X, ahead, self.dictionary, alpha=-1.0, out=residual)
            # Z_prev is no longer needed: its buffer takes the new code.
            torch.mm(residual, self.W, out=previous).mul_(self.step[layer]).add_(ahead)
            code, previous = previous, code
            soft_threshold_in_place(code, self._thresholds(layer), ahead)
        return code


@records_constructor_arguments
class LCoD(nn.Module):
    """Learned coordinate descent (Gregor & LeCun 2010), ``n_layers`` updates.

    Each layer computes ``Zbar = h_theta(B)``, picks per sample the coordinate
    ``k`` where ``Zbar`` moves most, and updates ``B += (Zbar_k - Z_k) S[k]``.
    The output is ``h_theta(B)``. The arg-max is piecewise constant: gradients
    flow through the selected updates. Untrained it equals ``n_layers`` greedy
    coordinate-descent updates followed by the final threshold.

    Parameters
    ----------
    dictionary : Tensor of shape (n_components, n_features)
    alpha : float
    n_layers : int
    """

    def __init__(self, dictionary, alpha, n_layers):
        super().__init__()
        W, S, inv_diag = cod_operators(dictionary)
        self.W = nn.Parameter(W.clone())
        self.S = nn.Parameter(S.expand(n_layers, -1, -1).clone())
        self.theta = nn.Parameter((alpha * inv_diag).expand(n_layers + 1, -1).clone())

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
        for layer in range(self.n_layers):
            code_bar = soft_threshold(B, self.theta[layer])
            selected = (code_bar - code).abs().argmax(dim=1, keepdim=True)
            new_value = code_bar.gather(1, selected)
            change = new_value - code.gather(1, selected)
            B = B + change * self.S[layer].index_select(0, selected.squeeze(1))
            code = code.scatter(1, selected, new_value)
        return soft_threshold(B, self.theta[self.n_layers])

    def _forward_in_place(self, X):
        """The forward pass for inference, in buffers every layer reuses (same codes).

        A layer is the exact CoD's step (:func:`coordinate_step_in_place`,
        with a faster arg-max on the CPU: torch's took a third of the layer's
        time) with the layer's ``S`` and thresholds.
        """
        B = torch.mm(X, self.W)
        code = torch.zeros_like(B)
        buffers = coordinate_buffers(B)
        rows, _, scratch, _ = buffers
        for layer in range(self.n_layers):
            selected, new_value, _ = coordinate_step_in_place(
                B, code, self.S[layer], self.theta[layer], buffers
            )
            code.index_put_((rows, selected), new_value)
        return soft_threshold_in_place(B, self.theta[self.n_layers], scratch)


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


# In :meth:`LBCoFB._forward_in_place_by_atom`, every group's move comes from
# the full arrays once the code holds at least n_groups / 5 groups (from there
# gathering the held blocks costs more on a GPU).
_FULL_MOVES_PER_GROUP = 5


@records_constructor_arguments
class LBCoFB(nn.Module):
    """Learned block-coordinate forward-backward (Sprechmann et al. 2012).

    Each layer computes ``Zt = prox_{t, s}(B)``, selects per sample the group
    ``r`` where ``Zt`` moves most (l2 norm of the change), sets ``Z_r = Zt_r``
    and updates ``B``; the output is ``prox_{t, s}(B)``. The selected group's
    change is a masked row vector, so a layer is a few batched products, with
    no loop over samples or groups.

    ``B`` is updated as ``B = Z + (X - Z D) W_t``, i.e. the paper's
    ``B += (Zt_r - Z_r) S_t`` with ``S_t = I - D W_t``: the update matrix is
    coupled to the dictionary as in :class:`LISTA`. With a free ``S_t`` the
    network overfits a few thousand training signals; coupled it
    generalizes, at the same cost per layer once atoms number at least
    twice the features.

    Untrained (``W_t = D^T / mu``) it equals ``n_layers`` block updates of
    BCoFB followed by the final prox.

    Inference with contiguous groups (no autograd) runs in reused buffers and
    forms only the selected group's proximal point, same codes up to rounding:
    on the CPU eagerly (:meth:`_forward_in_place`; compiled for a CPU the
    plain forward is faster), on GPUs eagerly with atoms along rows
    (:meth:`_forward_in_place_by_atom`) and compiled row-major, the fastest
    pass of each case (``benchmarks/throughput.py``).

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
        W, _, step = bcofb_operators(dictionary, group_index, group_penalties.shape[-1])
        self.register_buffer("dictionary", dictionary.detach().clone())
        self.register_buffer("group_index", group_index.detach().clone())
        self.W = nn.Parameter(W.expand(n_layers + 1, -1, -1).clone())
        self.t = nn.Parameter(
            torch.full(
                (n_layers + 1, W.shape[1]), float(alpha * step), dtype=W.dtype, device=W.device
            )
        )
        self.s = nn.Parameter(
            (group_penalties * step).to(W.dtype).expand(n_layers + 1, -1).clone()
        )
        self.group_size = contiguous_group_size(group_index, group_penalties.shape[-1])

    @property
    def n_layers(self):
        return self.t.shape[0] - 1

    def set_dictionary(self, dictionary):
        """Follow a dictionary update: the layers' residuals use the new atoms."""
        self.dictionary.copy_(dictionary)

    def forward(self, X):
        if self.group_size is not None and not torch.is_grad_enabled():
            compiling = torch.compiler.is_compiling()
            if X.device.type == "cuda" and not compiling:
                return self._forward_in_place_by_atom(X)
            # Compiled for a CPU, the in-place pass (gathers and scatters in
            # reused buffers) runs slower than the plain one, which the
            # compiler fuses; compiled for a GPU it is the fastest.
            if not (compiling and X.device.type == "cpu"):
                return self._forward_in_place(X)
        return self._forward_dense(X)

    def _forward_dense(self, X):
        n_groups = self.s.shape[1]
        group_index, group_size = self.group_index, self.group_size
        B = X @ self.W[0]
        code = torch.zeros_like(B)
        for layer in range(self.n_layers):
            change = hilasso_prox(B, self.t[layer], group_index, self.s[layer], group_size) - code
            selected = group_norms(change, group_index, n_groups, group_size).argmax(1, True)
            code = code + keep_group(change, group_index, selected, group_size)
            residual = torch.addmm(X, code, self.dictionary, alpha=-1.0)
            B = torch.addmm(code, residual, self.W[layer + 1])
        return hilasso_prox(B, self.t[-1], group_index, self.s[-1], group_size)

    def _forward_in_place(self, X):
        """The forward pass for inference, in reused buffers (same codes up to rounding).

        A layer touches the full ``(n_samples, n_components)`` arrays only to
        soft-threshold ``B`` in place, take its group norms and form the two
        products; the group shrink and the moves are worked out per group:

        - a group the code does not hold moves by the norm of its proximal
          point, the shrink factor times the soft-thresholded norm;
        - the groups it holds (at most one per earlier layer, remembered)
          move by ``||prox(B)_g - Z_g||``, computed on their gathered blocks;
        - only the selected group's proximal point is formed and written.

        Autograd takes the plain forward, which forms every group's proximal
        point and change (twice the full-size passes per layer). On GPUs,
        where those passes bound the layer, this is faster than forming
        them in place; on the CPU the products bound it (same time).
        """
        n_samples, n_groups, size = X.shape[0], self.s.shape[1], self.group_size
        code = torch.zeros(n_samples, n_groups * size, dtype=X.dtype, device=X.device)
        residual = torch.empty_like(X)
        B, scratch = torch.empty_like(code), torch.empty_like(code)
        # Blocks are addressed as rows of the (n_samples * n_groups, size)
        # views: `index_select` and `index_copy_` there are faster on the CPU
        # than advanced indexing of the (n_samples, n_groups, size) views.
        B_blocks, code_blocks = B.view(-1, size), code.view(-1, size)
        first_block = torch.arange(0, n_samples * n_groups, n_groups, device=X.device)
        held = torch.empty(self.n_layers, n_samples, dtype=torch.long, device=X.device)
        torch.mm(X, self.W[0], out=B)
        for layer in range(self.n_layers):
            soft_threshold_in_place(B, self.t[layer], scratch)
            norms = torch.linalg.vector_norm(B_blocks, dim=1).view(n_samples, n_groups)
            factor = group_shrink_factor(norms, self.s[layer]).view(-1)
            moves = norms.view(-1).mul_(factor)
            if layer:
                earlier = held[:layer].view(-1)
                point = B_blocks.index_select(0, earlier)
                point.mul_(factor.index_select(0, earlier).unsqueeze(1))
                point -= code_blocks.index_select(0, earlier)
                # A group held twice gets the same value twice.
                moves.index_copy_(0, earlier, torch.linalg.vector_norm(point, dim=1))
            # torch's CPU `argmax` is slower than `max`; both name the first
            # of tied maxima.
            selected = moves.view(n_samples, n_groups).max(dim=1).indices.add_(first_block)
            held[layer] = selected
            point = B_blocks.index_select(0, selected)
            code_blocks.index_copy_(
                0, selected, point.mul_(factor.index_select(0, selected).unsqueeze(1))
            )
            torch.addmm(X, code, self.dictionary, alpha=-1.0, out=residual)
            torch.addmm(code, residual, self.W[layer + 1], out=B)
        return self._prox_in_place(B, self.n_layers, scratch)

    def _forward_in_place_by_atom(self, X):
        """:meth:`_forward_in_place` on ``(n_components, n_samples)`` arrays (GPUs).

        With atoms along rows a group is a block of rows, so its norms reduce
        over a middle dimension, which GPUs read coalesced: faster there
        than the row-major pass's runs of ``group_size`` values. The
        products take transposed operands at no cost. Gathering a block per
        sample is the costly part here (the samples' blocks lie in different
        rows), so once the code holds a few groups every group's move is
        computed at once, from the full arrays. On the CPU this layout is
        slower than the row-major pass (gathers along the outer dimension);
        the dense forward remains the reference (same codes up to
        rounding).
        """
        n_samples, n_groups, size = X.shape[0], self.s.shape[1], self.group_size
        X_by_feature = X.T.contiguous()
        code_blocks = torch.zeros(n_groups, size, n_samples, dtype=X.dtype, device=X.device)
        code = code_blocks.view(n_groups * size, n_samples)
        B, scratch = torch.empty_like(code), torch.empty_like(code)
        B_blocks, changes = B.view(n_groups, size, n_samples), scratch.view_as(code_blocks)
        residual = torch.empty_like(X_by_feature)
        held = torch.empty(self.n_layers, n_samples, dtype=torch.long, device=X.device)
        torch.mm(self.W[0].T, X_by_feature, out=B)
        for layer in range(self.n_layers):
            soft_threshold_in_place(B, self.t[layer].unsqueeze(1), scratch)
            norms = torch.linalg.vector_norm(B_blocks, dim=1)
            factor = group_shrink_factor(norms, self.s[layer].unsqueeze(1))
            if layer * _FULL_MOVES_PER_GROUP >= n_groups:
                # Gathering the held blocks of B and of the code would read
                # 2 * layer of the n_groups blocks per sample, uncoalesced (a
                # gathered block costs more than half a full pass on a GPU); one
                # fused pass forms every group's change (where the code is
                # zero, the proximal point).
                torch.addcmul(code_blocks, B_blocks, factor.unsqueeze(1), value=-1.0, out=changes)
                moves = torch.linalg.vector_norm(changes, dim=1)
            else:
                moves = norms.mul_(factor)
                if layer:
                    earlier = held[:layer]
                    blocks = earlier.unsqueeze(1).expand(layer, size, n_samples)
                    point = torch.gather(B_blocks, 0, blocks)
                    point.mul_(torch.gather(factor, 0, earlier).unsqueeze(1))
                    point -= torch.gather(code_blocks, 0, blocks)
                    # A group held twice gets the same value twice.
                    moves.scatter_(0, earlier, torch.linalg.vector_norm(point, dim=1))
            selected = moves.max(dim=0, keepdim=True).indices  # first of tied maxima
            held[layer] = selected[0]
            block = selected.unsqueeze(1).expand(1, size, n_samples)
            point = torch.gather(B_blocks, 0, block)
            point.mul_(torch.gather(factor, 0, selected).unsqueeze(1))
            code_blocks.scatter_(0, block, point)
            torch.addmm(X_by_feature, self.dictionary.T, code, alpha=-1.0, out=residual)
            torch.addmm(code, self.W[layer + 1].T, residual, out=B)
        soft_threshold_in_place(B, self.t[-1].unsqueeze(1), scratch)
        norms = torch.linalg.vector_norm(B_blocks, dim=1)
        factor = group_shrink_factor(norms, self.s[-1].unsqueeze(1)).unsqueeze(1)
        # The last group shrink writes the codes in the caller's layout, in the
        # memory the code and scratch arrays free.
        del code_blocks, code, changes, scratch
        codes = torch.empty(n_samples, n_groups * size, dtype=X.dtype, device=X.device)
        torch.mul(B_blocks, factor, out=codes.T.view(n_groups, size, n_samples))
        return codes

    def _prox_in_place(self, B, layer, scratch):
        """:func:`hilasso_prox` with layer ``layer``'s thresholds, overwriting ``B``."""
        soft_threshold_in_place(B, self.t[layer], scratch)
        return group_shrink_in_place(B, self.s[layer], self.group_size)


# Networks for the Lasso, built as ``cls(dictionary, alpha, n_layers)``.
NETWORKS = {
    "lista": LISTA,
    "lcod": LCoD,
    "rescaled_lista": RescaledLISTA,
    "step_lista": StepLISTA,
}

# Networks with the HiLasso prox, built as
# ``cls(dictionary, alpha, group_index, group_penalties, n_layers)``.
STRUCTURED_NETWORKS = {"bcofb": LBCoFB, "ista": StructuredISTA}
