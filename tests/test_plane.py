"""Rescaled LISTA's plane coefficients with a hand-written backward against autograd's."""

import warnings

import numpy as np
import pytest
import torch

from sklearn_lsc._networks import RescaledLISTA, _plane
from sklearn_lsc._networks._plane import PlaneCoefficients
from sklearn_lsc._penalties import HiLassoPenalty, L1Penalty

ALPHA = 0.2


def plane_problem(positive, seed=0, n_samples=60, n_features=12, n_components=24):
    """Signals, a dictionary, and sparse G and Z with the rows where the
    coefficients take their other branches: G zero, Z zero, G D parallel to
    Z D (no 2 x 2 solve), and rows the best multiple of G wins."""
    generator = torch.Generator().manual_seed(seed)

    def normal(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    D = normal(n_components, n_features) / n_features**0.5
    X = normal(n_samples, n_features)

    def sparse():
        values = normal(n_samples, n_components)
        values = torch.where(values.abs() > 1.0, values, 0.0) * 0.3
        return values.abs() if positive else values

    G, Z = sparse(), sparse()
    G[:4] = 0.0
    Z[4:8] = 0.0
    Z[8:12] = 2.0 * G[8:12]
    Z[12:16] = -0.5 * G[12:16]
    return X, D, G, Z


def coefficients_and_gradients(coefficients, X, D, G, Z, weights):
    """``(a, b)`` and the gradients in X, G, G D, Z, Z D of the objective of the
    layer's output ``a G + b Z`` plus ``weights``' linear terms in a and b."""
    tensors = [t.clone().requires_grad_(True) for t in (X, G, G @ D, Z, Z @ D)]
    a, b = coefficients(*tensors)
    output = a * tensors[1] + b * tensors[3]
    objective = 0.5 * (X - output @ D).square().sum() + ALPHA * output.abs().sum()
    loss = objective + (weights[0] * a).sum() + (weights[1] * b).sum()
    return (a.detach(), b.detach()), torch.autograd.grad(loss, tensors)


@pytest.fixture(params=["numpy", "torch"])
def algebra(request, monkeypatch):
    """The per-signal algebra in numpy (the CPU's) or in torch (other devices')."""
    if request.param == "torch":
        monkeypatch.setattr(_plane, "_algebra", lambda tensor: _plane._TorchAlgebra)
    return request.param


@pytest.mark.parametrize("positive", [False, True], ids=["signed", "nonnegative"])
def test_plane_coefficients_and_gradients_match_autograd(positive, algebra):
    X, D, G, Z = plane_problem(positive)
    network = RescaledLISTA(D, L1Penalty(ALPHA, positive=positive), 2).double()
    generator = torch.Generator().manual_seed(1)
    weights = torch.randn(2, X.shape[0], 1, generator=generator, dtype=torch.float64)
    # A zero G leaves the output independent of a: its gradient in a is zero
    # in training, and any other would divide by the (zero) energy of G D.
    weights[0, :4] = 0.0
    fast, fast_gradients = coefficients_and_gradients(network._coefficients, X, D, G, Z, weights)
    reference, reference_gradients = coefficients_and_gradients(
        network._coefficients_autograd, X, D, G, Z, weights
    )
    for value, expected in zip(fast, reference, strict=True):
        np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=1e-12, atol=1e-14)
    names = ["X", "G", "G D", "Z", "Z D"]
    for name, gradient, expected in zip(names, fast_gradients, reference_gradients, strict=True):
        assert torch.isfinite(gradient).all(), name
        scale = expected.abs().max().item()
        np.testing.assert_allclose(
            gradient.numpy(), expected.numpy(), rtol=1e-9, atol=1e-11 * scale, err_msg=name
        )
    # Every branch was taken: the plane's point for some rows, G's multiple
    # for others, the unsolvable system on the parallel rows.
    a, b = fast
    assert (b[16:] != 0).any() and (b[16:] == 0).any()
    assert (b[8:16] == 0).all()


@pytest.mark.parametrize("positive", [False, True], ids=["signed", "nonnegative"])
def test_plane_coefficients_gradients_match_finite_differences(positive, algebra):
    # Dense G and Z: no coefficient sits on a kink of |.|, so the function is
    # smooth around the point.
    generator = torch.Generator().manual_seed(2)
    X, D = (torch.randn(s, generator=generator, dtype=torch.float64) for s in ((8, 5), (7, 5)))
    G = 0.3 * torch.randn(8, 7, generator=generator, dtype=torch.float64)
    Z = 0.3 * torch.randn(8, 7, generator=generator, dtype=torch.float64)
    if positive:
        G, Z = G.abs() + 0.05, Z.abs() + 0.05
    inputs = [t.requires_grad_(True) for t in (X, G, G @ D, Z, Z @ D)]

    def coefficients(*tensors):
        return PlaneCoefficients.apply(*tensors, ALPHA, positive, RescaledLISTA._CONDITION)

    _, b = coefficients(*inputs)
    assert (b != 0).any()  # the plane's point for some rows
    if positive:
        assert (b == 0).any()  # G's best multiple for others
    assert torch.autograd.gradcheck(coefficients, inputs, eps=1e-7, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("positive", [False, True], ids=["signed", "nonnegative"])
def test_rescaled_lista_training_gradients_are_autograds(monkeypatch, positive, dtype, algebra):
    # A training step's gradients in every parameter, through five layers.
    X, D, _, _ = plane_problem(positive, seed=3)
    network = RescaledLISTA(D, L1Penalty(ALPHA, positive=positive), 5).to(dtype)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(4)
        for parameter in network.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
            parameter.add_(0.05 * noise.to(dtype))
    signals = X.to(dtype)

    def gradients():
        code = network(signals)
        residual = signals - code @ network.dictionary
        loss = 0.5 * residual.square().sum() + ALPHA * code.abs().sum()
        return torch.autograd.grad(loss, list(network.parameters()))

    fast = gradients()
    monkeypatch.setattr(RescaledLISTA, "_coefficients", RescaledLISTA._coefficients_autograd)
    reference = gradients()
    tolerance = 1e-9 if dtype == torch.float64 else 1e-5
    for gradient, expected in zip(fast, reference, strict=True):
        assert torch.isfinite(gradient).all()
        scale = expected.abs().max().item()
        np.testing.assert_allclose(
            gradient.numpy(), expected.numpy(), rtol=tolerance, atol=tolerance * scale
        )


def test_grouped_penalties_keep_the_autograd_coefficients(monkeypatch):
    # The hand-written backward knows the Lasso's penalty only.
    X, D, G, Z = plane_problem(False)
    penalty = HiLassoPenalty(ALPHA, torch.arange(24) // 6, torch.full((4,), 0.1))
    network = RescaledLISTA(D, penalty, 2).double()

    def refuse(*arguments):
        raise AssertionError("PlaneCoefficients used with a group penalty")

    monkeypatch.setattr(PlaneCoefficients, "apply", refuse)
    a, b = network._coefficients(X, G, G @ D, Z, Z @ D)
    assert a.shape == b.shape == (X.shape[0], 1)


def test_plane_coefficients_overflow_without_warnings(algebra):
    # float32 products that overflow give infinities as torch's operations
    # would, and no warning from the algebra (the trainer then refuses the
    # non-finite loss).
    X, D, G, Z = (t.float() for t in plane_problem(False))
    X, G, Z = X * 1e20, G * 1e20, Z * 1e20
    network = RescaledLISTA(D, ALPHA, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a, b = network._coefficients(X, G, G @ D, Z, Z @ D)
        reference_a, _ = network._coefficients_autograd(X, G, G @ D, Z, Z @ D)
    assert not torch.isfinite(reference_a).all()  # the case this test is for
    assert a.shape == b.shape == (X.shape[0], 1)
