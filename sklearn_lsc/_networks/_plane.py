"""Rescaled LISTA's plane coefficients for the Lasso's penalty, with a hand-written backward.

A rescaled LISTA layer picks, per signal, ``(a, b)`` from seven inner
products (see :meth:`RescaledLISTA._coefficients_autograd`, the reference).
Through autograd that is some seventy operations on one number per signal,
each recorded and each given a backward node: on training batches of a few
hundred signals the bookkeeping costs far more than the arithmetic. Here the
per-signal algebra runs without recording and its backward is written out,
in fewer operations (the gradient along ``(a, b)`` is zero, see
:meth:`PlaneCoefficients.backward`): the same values, and the same
gradients up to rounding.
"""

import contextlib

import numpy as np
import torch


def _column(values):
    return values.unsqueeze(1)


class _TorchAlgebra:
    """The per-signal algebra's array functions on tensors (any device)."""

    where = staticmethod(torch.where)
    clamp_min = staticmethod(torch.clamp_min)
    quiet = contextlib.nullcontext

    @staticmethod
    def host(column):
        return column

    @staticmethod
    def device(values, like):
        return values


class _NumpyAlgebra:
    """The same on numpy views of CPU tensors: on arrays of a few hundred
    numbers a numpy operation costs a fraction of a torch dispatch."""

    where = staticmethod(np.where)

    @staticmethod
    def quiet():
        # Overflow to inf as torch's would, without a warning (the trainer
        # refuses a non-finite loss).
        return np.errstate(all="ignore")

    @staticmethod
    def clamp_min(values, bound):
        return np.maximum(values, values.dtype.type(bound))

    @staticmethod
    def host(column):
        return column.numpy()

    @staticmethod
    def device(values, like):
        return torch.from_numpy(values).to(like.dtype)


def _algebra(tensor):
    return _NumpyAlgebra if tensor.device.type == "cpu" else _TorchAlgebra


def _products(X, step, image, code, approximation, alpha, tiny):
    """What the coefficients depend on, each (n_samples, 1), in the reference's
    operations: ``<x, G D>``, ``||G D||^2``, ``P(G)``, ``<s, Z>``,
    ``<G D, Z D>``, and ``<x, R>`` and ``||R||^2`` for ``R = Z D - ratio G D``
    (the part of ``Z D`` orthogonal to ``G D``, ``ratio`` the fifth over the
    second); and the subgradient ``s`` (over ``alpha``)."""
    fit = _column(torch.linalg.vecdot(X, image))
    energy = torch.linalg.vector_norm(image, dim=1, keepdim=True).square()
    penalty = alpha * _column(step.abs().sum(dim=1))
    signs = torch.where(step != 0, step, code).sign_()
    slope = alpha * _column(torch.linalg.vecdot(signs, code))
    cross = _column(torch.linalg.vecdot(image, approximation))
    ratio = cross / energy.clamp_min(tiny)
    orthogonal = torch.addcmul(approximation, image, ratio, value=-1)
    fit_orthogonal = _column(torch.linalg.vecdot(X, orthogonal))
    energy_orthogonal = torch.linalg.vector_norm(orthogonal, dim=1, keepdim=True).square()
    products = fit, energy, penalty, slope, cross, ratio, fit_orthogonal, energy_orthogonal
    return products, signs


class PlaneCoefficients(torch.autograd.Function):
    """``(a, b)``, each (n_samples, 1), of :meth:`RescaledLISTA._coefficients`
    for ``P = alpha ||z||_1`` (signed, or nonnegative codes with
    ``positive``), differentiable in ``X``, ``G``, ``G D``, ``Z`` and ``Z D``.

    ``apply(X, step, image, code, approximation, alpha, positive, condition)``
    with ``step`` ``G``, ``image`` ``G D``, ``code`` ``Z`` and
    ``approximation`` ``Z D``; ``condition`` is the 2 x 2 system's
    (:attr:`RescaledLISTA._CONDITION`).
    """

    @staticmethod
    def forward(ctx, X, step, image, code, approximation, alpha, positive, condition):
        xp = ctx.algebra = _algebra(X)
        with xp.quiet():
            return _forward(
                ctx, xp, X, step, image, code, approximation, alpha, positive, condition
            )

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_first, grad_second):
        xp = ctx.algebra
        with xp.quiet():
            return _backward(ctx, xp, grad_first, grad_second)


def _forward(ctx, xp, X, step, image, code, approximation, alpha, positive, condition):
    # The reference's formulas (see RescaledLISTA._coefficients_autograd):
    # the plane solved in the orthogonal basis (G D, R), its point compared
    # with the best multiple by the difference of their objectives.
    tiny = torch.finfo(X.dtype).tiny
    products, signs = _products(X, step, image, code, approximation, alpha, tiny)
    fit, energy, penalty, slope, cross, ratio, fit_orthogonal, energy_orthogonal = map(
        xp.host, products
    )
    # The best multiple of G.
    clamped_energy = xp.clamp_min(energy, tiny)
    unclamped_factor = (fit - penalty) / clamped_energy
    factor = xp.clamp_min(unclamped_factor, 0.0)
    # The minimiser of the linearised model: a G + b Z = u G + b (Z - ratio G),
    # u the best multiple's unclamped factor, b the best step along R.
    energy_code = energy_orthogonal + ratio * ratio * energy
    solvable = (energy_orthogonal > condition * energy_code) & (energy > 0)
    guarded_orthogonal = xp.where(solvable, energy_orthogonal, 1.0)
    b = xp.where(solvable, (fit_orthogonal - slope + ratio * penalty) / guarded_orthogonal, 0.0)
    a = xp.where(solvable, unclamped_factor - ratio * b, factor)
    candidate = torch.addcmul(step * xp.device(a, X), code, xp.device(b, X))
    planar_penalty = alpha * xp.host(_column(candidate.abs().sum(dim=1)))
    # The plane's point rescaled to its own best multiple.
    along = xp.where(solvable, unclamped_factor, factor)
    planar_fit = along * fit + b * fit_orthogonal
    planar_energy = along * along * energy + b * b * guarded_orthogonal
    clamped_planar_energy = xp.clamp_min(planar_energy, tiny)
    unclamped_rescale = (planar_fit - planar_penalty) / clamped_planar_energy
    rescale = xp.clamp_min(unclamped_rescale, 0.0)
    # Its objective less the best multiple's, in terms of the objective's size.
    scaled_along, across = rescale * along, rescale * b
    change = (scaled_along - factor) * (0.5 * (scaled_along + factor) - unclamped_factor) * energy
    change = change + across * (0.5 * across * guarded_orthogonal - fit_orthogonal)
    change = change + rescale * planar_penalty - scaled_along * penalty
    better = solvable & (change < 0)
    if positive:
        better &= xp.host(candidate.amin(dim=1, keepdim=True) >= 0)
    ctx.save_for_backward(X, step, image, code, approximation, signs, candidate)
    ctx.alpha = alpha
    # The per-signal values the backward reads. It differentiates the same
    # functions written in <x, Z D> and ||Z D||^2, the 2 x 2 system's
    # determinant energy ||R||^2 (its two factors kept apart: their product
    # may underflow or overflow in float32).
    fit_code = fit_orthogonal + ratio * fit
    ctx.kept = dict(
        fit=fit, energy=energy, fit_code=fit_code, energy_code=energy_code, cross=cross,
        gain=fit - penalty, gain_code=fit_code - slope, clamped_energy=clamped_energy,
        unclamped_factor=unclamped_factor, guarded_orthogonal=guarded_orthogonal,
        solvable_energy=xp.where(solvable, energy, 1.0),
        a=a, b=b, planar_energy=planar_energy,
        clamped_planar_energy=clamped_planar_energy, unclamped_rescale=unclamped_rescale,
        rescale=rescale, better=better, tiny=tiny,
    )  # fmt: skip
    first = xp.where(better, rescale * a, factor)
    second = xp.where(better, rescale * b, 0.0)
    return xp.device(first, X), xp.device(second, X)


def _backward(ctx, xp, grad_first, grad_second):
    # Reverse mode through the forward's lines, last first; a clamp passes
    # the gradient where its input is at least its bound, as torch's does.
    X, step, image, code, approximation, signs, candidate = ctx.saved_tensors
    grad_first, grad_second = xp.host(grad_first), xp.host(grad_second)
    alpha, k = ctx.alpha, ctx.kept
    a, b, rescale, better = k["a"], k["b"], k["rescale"], k["better"]
    fit, energy, fit_code = k["fit"], k["energy"], k["fit_code"]
    energy_code, cross, tiny = k["energy_code"], k["cross"], k["tiny"]
    # first = where(better, rescale a, factor), second = where(better, rescale b, 0).
    grad_rescaled_a = xp.where(better, grad_first, 0.0)
    grad_rescaled_b = xp.where(better, grad_second, 0.0)
    grad_factor = xp.where(better, 0.0, grad_first)
    grad_rescale = grad_rescaled_a * a + grad_rescaled_b * b
    grad_a = grad_rescaled_a * rescale
    grad_b = grad_rescaled_b * rescale
    # rescale = max(0, (planar_fit - planar_penalty) / max(planar_energy, tiny)).
    grad_ratio = xp.where(k["unclamped_rescale"] >= 0, grad_rescale, 0.0)
    grad_planar_fit = grad_ratio / k["clamped_planar_energy"]
    grad_planar_energy = xp.where(
        k["planar_energy"] >= tiny, -grad_planar_fit * k["unclamped_rescale"], 0.0
    )
    # planar_energy = a^2 energy + 2 a b cross + b^2 energy_code.
    grad_a = grad_a + grad_planar_energy * (2 * a * energy + 2 * b * cross)
    grad_b = grad_b + grad_planar_energy * (2 * a * cross + 2 * b * energy_code)
    grad_energy = grad_planar_energy * a * a
    grad_cross = grad_planar_energy * 2 * a * b
    grad_energy_code = grad_planar_energy * b * b
    # planar_fit = a fit + b fit_code; planar_penalty = alpha ||a G + b Z||_1.
    candidate_signs = candidate.sign()
    along_step = xp.host(_column(torch.linalg.vecdot(candidate_signs, step)))
    along_code = xp.host(_column(torch.linalg.vecdot(candidate_signs, code)))
    grad_a = grad_a + grad_planar_fit * (fit - alpha * along_step)
    grad_b = grad_b + grad_planar_fit * (fit_code - alpha * along_code)
    grad_fit = grad_planar_fit * a
    grad_fit_code = grad_planar_fit * b
    # a = where(solvable, a_solved, factor), b = where(solvable, b_solved, 0):
    # a and b have gradients only where ``better``, so where ``solvable``.
    # The outputs do not change when a and b are scaled together (rescale
    # scales back), so the gradient along (a, b), the determinant's, is zero.
    gain, gain_code = k["gain"], k["gain_code"]
    scaled_a = grad_a / k["solvable_energy"] / k["guarded_orthogonal"]
    scaled_b = grad_b / k["solvable_energy"] / k["guarded_orthogonal"]
    # a_solved = (energy_code gain - cross gain_code) / determinant, and
    # b_solved = (energy gain_code - cross gain) / determinant.
    grad_gain = scaled_a * energy_code - scaled_b * cross
    grad_gain_code = scaled_b * energy - scaled_a * cross
    grad_energy = grad_energy + scaled_b * gain_code
    grad_energy_code = grad_energy_code + scaled_a * gain
    grad_cross = grad_cross - scaled_a * gain_code - scaled_b * gain
    # gain_code = fit_code - slope.
    grad_fit_code = grad_fit_code + grad_gain_code
    # factor = max(0, gain / max(energy, tiny)); gain = fit - penalty.
    grad_ratio = xp.where(k["unclamped_factor"] >= 0, grad_factor, 0.0)
    grad_gain = grad_gain + grad_ratio / k["clamped_energy"]
    grad_energy = grad_energy + xp.where(
        energy >= tiny, -grad_ratio * k["unclamped_factor"] / k["clamped_energy"], 0.0
    )
    grad_fit = grad_fit + grad_gain
    # The inner products' gradients in the tensors: penalty's is -grad_gain,
    # slope's -grad_gain_code, and the candidate's penalty's grad_planar_fit
    # with its sign flipped (planar_fit - planar_penalty).
    along = -alpha * grad_planar_fit
    columns = (
        grad_fit, 2 * grad_energy, grad_cross, grad_fit_code, 2 * grad_energy_code,
        -alpha * grad_gain, along * a, -alpha * grad_gain_code, along * b,
    )  # fmt: skip
    g_fit, g_energy, g_cross, g_fit_code, g_energy_code, g_step, g_a, g_code, g_b = (
        xp.device(column, X) for column in columns
    )
    grad_image = torch.addcmul(X * g_fit, image, g_energy).addcmul_(approximation, g_cross)
    grad_approximation = torch.addcmul(X * g_fit_code, approximation, g_energy_code)
    grad_approximation.addcmul_(image, g_cross)
    grad_step = step.sign().mul_(g_step).addcmul_(candidate_signs, g_a)
    grad_code = signs.mul(g_code).addcmul_(candidate_signs, g_b)
    grad_X = None
    if ctx.needs_input_grad[0]:
        grad_X = torch.addcmul(image * g_fit, approximation, g_fit_code)
    return grad_X, grad_step, grad_image, grad_code, grad_approximation, None, None, None
