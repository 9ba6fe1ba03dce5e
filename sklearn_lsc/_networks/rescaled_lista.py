"""Rescaled LISTA: LISTA with momentum whose layers move each code to a better point of a plane."""

import math

import torch
from torch import nn

from .. import _fused as fused
from .._penalties import L1Penalty
from ._common import fista_momentum, records_constructor_arguments
from ._plane import PlaneCoefficients
from .lista import LISTA


def correction_basis(dictionary, rank):
    """The top ``rank`` eigenvectors of the atoms' Gram matrix, of unit norm.

    Shape (n_components, min(rank, n_components)), in the dictionary's dtype
    and device; computed on the CPU in float64, each vector's largest entry
    made positive, so that every machine starts from the same basis.
    """
    n_components = dictionary.shape[0]
    atoms = dictionary.detach().to("cpu", torch.float64)
    _, vectors = torch.linalg.eigh(atoms @ atoms.T)
    top = vectors[:, n_components - min(rank, n_components) :].flip(1)
    signs = top.gather(0, top.abs().argmax(dim=0, keepdim=True)).sign()
    top = top * torch.where(signs == 0, 1.0, signs)
    return top.to(dictionary.device, dictionary.dtype)


def _combine(first, a, second, b):
    """``first = a first + b second`` in place; formed in ``a``'s dtype when it is wider.

    In bfloat16 ``a first`` rounded before ``b second`` is added would lose
    the result where the two nearly cancel (a plane nearly degenerate).
    """
    if a.dtype == first.dtype:
        first.mul_(a).addcmul_(second, b)
    else:
        first.copy_(torch.addcmul(first * a, second, b))


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
    ``theta_t = alpha / L``, or ISTA's steps per atom with ``norm_floor``,
    as :class:`LISTA`'s) its first layer is ISTA's first iterate
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
    of a layer's two products with 64 features, and in the fused kernels
    also a product of the first layer's codes, which are dense, with every
    later ``U_t``; kept at 64 features all the same, as without it the
    held-out gaps rise (``python -m benchmarks.correction_rank``). Rank 16
    rather than 8: with more training data or input noise the larger rank
    lowers the held-out gap further; from the Gram matrix's top
    eigenvectors rather than random bases: a better start at small ranks.

    Built as every network is (see :mod:`sklearn_lsc._networks`); its
    layers threshold with the penalty's l1 part, and choose the plane's
    points on the whole penalty.
    """

    # The 2 x 2 system is solved only when its determinant exceeds this
    # fraction of the product of its diagonal (G D and Z D not parallel).
    _CONDITION = 1e-6
    # Rank of the learned correction of each layer's matrix on the code.
    _CORRECTION_RANK = 16

    def __init__(self, dictionary, penalty, n_layers, norm_floor=None):
        super().__init__(dictionary, penalty, n_layers, norm_floor)
        dtype = self.W.dtype
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

    # The axes of each parameter that run over the atoms (see reset_atoms).
    atom_axes = {
        "W": (2,),
        "theta": (1,),
        "gain": (1,),
        "correction_basis": (1,),
        "correction": (2,),
    }
    # A fresh basis's row (its signs and order arbitrary) would feed the
    # trained correction: a redrawn atom's row of it is zeroed instead.
    atom_zeroed = ("correction_basis",)

    @property
    def grouped(self):
        """Whether the penalty has a group term (the plane's points are chosen on it)."""
        return self.penalty.grouped

    def forward(self, X):
        if not torch.is_grad_enabled():
            return self._forward_in_place(X)
        # Each layer's parameters from one unbind (see LISTA.forward).
        W, theta = self.W.unbind(), self.theta.unbind()
        momentums, gains = self.momentum.unbind(), self.gain.unbind()
        bases, corrections = self.correction_basis.unbind(), self.correction.unbind()
        code = self.penalty.shrink(X @ W[0], theta[0])
        approximation = code @ self.dictionary
        factor, _ = self._coefficients(X, code, approximation)
        code, approximation = code * factor, approximation * factor
        previous, previous_approximation = torch.zeros_like(code), torch.zeros_like(X)
        for layer in range(1, self.n_layers):
            momentum = momentums[layer - 1]
            ahead = code + momentum * (code - previous)
            residual = X - approximation - momentum * (approximation - previous_approximation)
            B = torch.addmm(ahead * gains[layer - 1], residual, W[layer])
            projection = ahead @ bases[layer - 1]
            B = torch.addmm(B, projection, corrections[layer - 1], alpha=self._correction_scale)
            step = self.penalty.shrink(B, theta[layer])
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
        self.penalty.shrink_in_place(code, self.theta[0], spare)
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
            self.penalty.shrink_in_place(step, self.theta[layer], spare)
            torch.mm(step, self.dictionary, out=image)
            a, b = self._coefficients(
                X, step, image, code, approximation, scratch=spare, image_scratch=residual
            )
            _combine(step, a, code, b)
            if self.penalty.positive:  # chosen nonnegative; (r a) G + (r b) Z may round below
                step.clamp_min_(0.0)
            _combine(image, a, approximation, b)
            code, previous = step, code
            approximation, previous_approximation = image, approximation
        return code

    def _coefficients(
        self, X, step, image, code=None, approximation=None, scratch=None, image_scratch=None
    ):
        """Each signal's ``(a, b)``, shape (n_samples, 1): the layer returns ``a G + b Z``.

        ``step`` is ``G`` and ``image`` is ``G D``; ``code`` and
        ``approximation`` are ``Z`` and ``Z D`` (None in the first layer:
        ``b`` is None and ``a`` the best factor). ``scratch``, a buffer
        shaped like ``step``, and ``image_scratch``, shaped like ``X``, save
        the temporaries of inference.

        In training with the Lasso's penalty, :class:`PlaneCoefficients`
        (the same values, its backward written out) replaces the reference,
        :meth:`_coefficients_autograd`.
        """
        if torch.finfo(X.dtype).bits < 32:
            # bfloat16 keeps too few digits for the per-signal algebra (the
            # plane's basis, the comparison): it runs in float32, and so do a
            # and b (the caller forms a G + b Z in float32, see _combine).
            wide = [
                None if t is None else t.float() for t in (X, step, image, code, approximation)
            ]
            return self._coefficients_autograd(*wide)
        if code is not None and scratch is None and type(self.penalty) is L1Penalty:
            return PlaneCoefficients.apply(
                X, step, image, code, approximation,
                self.penalty.alpha, self.penalty.positive, self._CONDITION,
            )  # fmt: skip
        return self._coefficients_autograd(
            X, step, image, code, approximation, scratch, image_scratch
        )

    def _coefficients_autograd(
        self, X, step, image, code=None, approximation=None, scratch=None, image_scratch=None
    ):
        """:meth:`_coefficients` in torch operations, any penalty (the reference)."""
        fit = torch.linalg.vecdot(X, image).unsqueeze(1)
        energy = torch.linalg.vector_norm(image, dim=1, keepdim=True).square()
        penalty = self._penalty(step, scratch)
        # An all-zero G has fit = penalty = 0: its factor is 0, not 0 / 0.
        tiny = torch.finfo(energy.dtype).tiny
        unclamped = (fit - penalty) / energy.clamp_min(tiny)
        factor = unclamped.clamp_min(0.0)
        if code is None:
            return factor, None
        slope = self._linearised_penalty(step, code, scratch)
        # The plane in the orthogonal basis (G D, R), R = Z D - ratio G D: the
        # 2 x 2 system's determinant is energy ||R||^2, and R is formed, not
        # inferred from inner products (energy ||Z D||^2 - cross^2 cancels
        # where G D and Z D are nearly parallel: float32 keeps few digits).
        cross = torch.linalg.vecdot(image, approximation).unsqueeze(1)
        ratio = cross / energy.clamp_min(tiny)
        orthogonal = torch.addcmul(approximation, image, ratio, value=-1, out=image_scratch)
        fit_orthogonal = torch.linalg.vecdot(X, orthogonal).unsqueeze(1)
        energy_orthogonal = torch.linalg.vector_norm(orthogonal, dim=1, keepdim=True).square()
        # ||R||^2 > condition ||Z D||^2, and G not zero: the determinant
        # exceeds condition times the product of the diagonal.
        energy_code = energy_orthogonal + ratio.square() * energy
        solvable = (energy_orthogonal > self._CONDITION * energy_code) & (energy > 0)
        # a G + b Z = u G + b (Z - ratio G): u is the best multiple's
        # unclamped factor, b the best step along R.
        # (Guarded as the determinant was: no infinities, even unselected,
        # whose gradients would be NaN.)
        energy_orthogonal = torch.where(solvable, energy_orthogonal, 1.0)
        b = (fit_orthogonal - slope + ratio * penalty) / energy_orthogonal
        b = torch.where(solvable, b, 0.0)
        a = torch.where(solvable, unclamped - ratio * b, factor)
        if scratch is None:
            candidate = torch.addcmul(step * a, code, b)
        else:
            candidate = torch.mul(step, a, out=scratch).addcmul_(code, b)
        # Nonnegative codes: a G + b Z may have negative entries (before the
        # penalty below overwrites the scratch buffer holding it).
        feasible = self.penalty.feasible(candidate)
        # The plane's point, rescaled to its own best multiple (free: its fit,
        # energy and penalty follow from the inner products above).
        planar_penalty = self._penalty(candidate, scratch)
        # a + ratio b: u where solvable (the factor, finite, elsewhere).
        along = torch.where(solvable, unclamped, factor)
        planar_fit = along * fit + b * fit_orthogonal
        planar_energy = along.square() * energy + b.square() * energy_orthogonal
        rescale = ((planar_fit - planar_penalty) / planar_energy.clamp_min(tiny)).clamp_min(0.0)
        # The plane's point's objective less the best multiple's. Its image is
        # scaled_along G D + across R and fit = u energy + penalty, so every
        # term is of the objective's size (each objective less 0.5 ||x||^2,
        # compared in float32, would carry rounding of the size of ||x||^2).
        scaled_along, across = rescale * along, rescale * b
        change = (scaled_along - factor) * (0.5 * (scaled_along + factor) - unclamped) * energy
        change = change + across * (0.5 * across * energy_orthogonal - fit_orthogonal)
        change = change + rescale * planar_penalty - scaled_along * penalty
        better = solvable & (change < 0)
        if feasible is not None:
            better &= feasible
        zero = torch.zeros_like(b)
        return torch.where(better, rescale * a, factor), torch.where(better, rescale * b, zero)

    def _penalty(self, code, scratch=None):
        """``P(code)`` per signal, shape (n_samples, 1); may overwrite ``scratch``."""
        return self.penalty.value(code, scratch).unsqueeze(1)

    def _linearised_penalty(self, step, code, scratch=None):
        """``<s, code>`` per signal, ``s`` a subgradient of ``P`` at ``step`` (see the penalty)."""
        return self.penalty.linearised(step, code, scratch).unsqueeze(1)
