"""Untrained networks equal their algorithms; gradients reach every parameter."""

import numpy as np
import pytest
import torch
from _reference import (
    alista_reference,
    analytic_weight_reference,
    cod_reference,
    fista_reference,
    hyper_lista_reference,
    ista_reference,
    rescaled_lista_reference,
    soft,
)

from sklearn_lsc._networks import (
    ALISTA,
    LISTA,
    NETWORKS,
    HyperLISTA,
    LCoD,
    RescaledLISTA,
    StepLISTA,
    analytic_weight,
    correction_basis,
)
from sklearn_lsc._networks._plane import PlaneCoefficients
from sklearn_lsc._networks.rescaled_lista import _combine as combine
from sklearn_lsc._penalties import HiLassoPenalty, L1Penalty


def problem(seed=0, n_samples=12, n_components=16, n_features=10):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features))
    D *= rng.uniform(0.5, 2.0, size=(n_components, 1))  # atoms of unequal norms
    X = rng.standard_normal((n_samples, n_features))
    return X, D


@pytest.mark.parametrize("positive", [False, True], ids=["signed", "nonnegative"])
@pytest.mark.parametrize("n_layers", [1, 2, 5])
def test_untrained_lista_equals_ista_iterations(n_layers, positive):
    X, D = problem()
    penalty = L1Penalty(0.3, positive=positive)
    network = LISTA(torch.tensor(D), penalty=penalty, n_layers=n_layers).double()
    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
    np.testing.assert_allclose(code, ista_reference(X, D, 0.3, n_layers, positive), atol=1e-12)


@pytest.mark.parametrize("positive", [False, True], ids=["signed", "nonnegative"])
@pytest.mark.parametrize("n_layers", [1, 3, 8])
def test_untrained_lcod_equals_coordinate_descent_updates(n_layers, positive):
    X, D = problem(1)
    penalty = L1Penalty(0.3, positive=positive)
    network = LCoD(torch.tensor(D), penalty=penalty, n_layers=n_layers).double()
    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
        in_place = network._forward_in_place(torch.tensor(X)).numpy()
    expected = cod_reference(X, D, 0.3, n_layers, positive)
    np.testing.assert_allclose(code, expected, atol=1e-12)
    np.testing.assert_allclose(in_place, expected, atol=1e-12)


@pytest.mark.parametrize("network_class", NETWORKS.values(), ids=NETWORKS)
def test_rows_are_coded_independently_of_the_batch(network_class):
    X, D = problem(2)
    network = network_class(torch.tensor(D), penalty=0.3, n_layers=4)
    with torch.no_grad():
        whole = network(torch.tensor(X))
        one_by_one = torch.cat([network(torch.tensor(X[i : i + 1])) for i in range(len(X))])
    torch.testing.assert_close(whole, one_by_one)


@pytest.mark.parametrize("network_class", NETWORKS.values(), ids=NETWORKS)
def test_gradients_reach_every_parameter(network_class):
    X, D = problem(3)
    network = network_class(torch.tensor(D), penalty=0.1, n_layers=3)
    X_tensor = torch.tensor(X)
    loss = 0.5 * (X_tensor - network(X_tensor) @ torch.tensor(D)).pow(2).sum()
    loss.backward()
    for name, parameter in network.named_parameters():
        if name == "correction_basis":
            # Untrained, the correction is zero: its basis has no gradient
            # until the correction moves (the first step of training).
            assert torch.equal(parameter.grad, torch.zeros_like(parameter)), name
            continue
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    if network_class is RescaledLISTA:
        network.zero_grad()
        with torch.no_grad():
            network.correction.fill_(0.01)
        (X_tensor - network(X_tensor) @ torch.tensor(D)).pow(2).sum().backward()
        assert network.correction_basis.grad.abs().sum() > 0


def test_lista_gradient_matches_finite_differences():
    X, D = problem(4, n_samples=4, n_components=6, n_features=5)
    network = LISTA(torch.tensor(D), penalty=0.1, n_layers=3)
    X_tensor, D_tensor = torch.tensor(X), torch.tensor(D)

    def loss():
        code = network(X_tensor)
        return 0.5 * (X_tensor - code @ D_tensor).pow(2).sum() + 0.1 * code.abs().sum()

    loss().backward()
    analytic = network.W.grad[1, 2, 3].item()
    step = 1e-6
    with torch.no_grad():
        network.W[1, 2, 3] += step
        plus = loss().item()
        network.W[1, 2, 3] -= 2 * step
        minus = loss().item()
    assert analytic == pytest.approx((plus - minus) / (2 * step), rel=1e-5, abs=1e-8)


def test_lista_follows_a_new_dictionary():
    X, D = problem(5)
    network = LISTA(torch.tensor(D), penalty=0.3, n_layers=3)
    new_D = D[::-1].copy()
    network.set_dictionary(torch.tensor(new_D))
    np.testing.assert_array_equal(network.dictionary.numpy(), new_D)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_layers", [1, 2, 5])
def test_lista_inference_in_buffers_equals_the_autograd_forward(dtype, n_layers):
    # Without autograd LISTA runs in reused buffers; any parameters (here
    # moved away from the untrained ones, one threshold made negative: it
    # acts as zero) must give the autograd forward's codes.
    X, D = problem(7)
    network = LISTA(torch.tensor(D), penalty=0.3, n_layers=n_layers).to(dtype)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in network.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=dtype)
            parameter.mul_(1 + 0.2 * noise)
        network.theta[0, 0] = -1.0
    X_tensor = torch.tensor(X, dtype=dtype)
    with torch.no_grad():
        buffered = network(X_tensor)
        assert torch.equal(buffered, network._forward_in_place(X_tensor))
    autograd = network(X_tensor.requires_grad_())
    tolerance = 1e-6 if dtype == torch.float32 else 1e-13
    torch.testing.assert_close(buffered, autograd.detach(), rtol=tolerance, atol=tolerance)
    assert torch.count_nonzero(buffered) > 0
    assert torch.equal(X_tensor.detach(), torch.tensor(X, dtype=dtype))  # input untouched


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_layers", [1, 3, 12])
def test_lcod_inference_in_buffers_equals_the_autograd_forward(dtype, n_layers):
    # Without autograd LCoD runs in reused buffers with a faster arg-max on
    # the CPU (float32); any parameters must give the autograd forward's
    # codes exactly: same arithmetic, same coordinate picks, zero rows too.
    X, D = problem(8, n_samples=37, n_components=40)
    X[[3, 20]] = 0.0
    network = perturbed(LCoD(torch.tensor(D), penalty=0.3, n_layers=n_layers).to(dtype))
    with torch.no_grad():
        network.theta[0, 0] = -1.0  # acts as zero
    X_tensor = torch.tensor(X, dtype=dtype)
    with torch.no_grad():
        buffered = network(X_tensor)
        assert torch.equal(buffered, network._forward_in_place(X_tensor))
    autograd = network(X_tensor.requires_grad_()).detach()
    assert torch.equal(buffered, autograd)
    assert torch.count_nonzero(buffered) > 0
    assert not buffered[[3, 20]].any()
    assert torch.equal(X_tensor.detach(), torch.tensor(X, dtype=dtype))  # input untouched


def perturbed(network, seed=0):
    """``network`` with every parameter moved away from its untrained value."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
            parameter.mul_(1 + 0.2 * noise).add_(0.05 * noise)
    return network


@pytest.mark.parametrize("n_layers", [1, 2, 5])
@pytest.mark.parametrize("trained", [False, True])
def test_rescaled_lista_equals_its_algorithm_by_hand(n_layers, trained):
    # Every layer's output is the better of the best multiple of its proximal
    # point (a numerical 1-D minimisation, not the network's closed form) and
    # the minimiser over the plane of the linearised objective (a numerical
    # 2-D minimisation, not the network's 2 x 2 solve); perturbed parameters,
    # momentum included, must follow the same recipe.
    X, D = problem(8)
    network = RescaledLISTA(torch.tensor(D), penalty=0.3, n_layers=n_layers).double()
    if trained:
        perturbed(network)
    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
    reference = rescaled_lista_reference(
        X, D, rescaled_parameters(network), lambda z: 0.3 * np.abs(z).sum(),
        lambda step, z: 0.3 * lasso_subgradient(step, z),
    )  # fmt: skip
    np.testing.assert_allclose(code, reference, atol=1e-7)
    assert np.count_nonzero(code) > 0


def rescaled_parameters(network):
    """The network's parameters as numpy arrays, in the reference's order (thresholds >= 0)."""
    names = ("W", "theta", "momentum", "gain", "correction_basis", "correction")
    arrays = [getattr(network, name).detach().numpy() for name in names]
    arrays[1] = np.maximum(arrays[1], 0.0)
    arrays[4] = arrays[4] / np.sqrt(network.W.shape[2])  # the basis, as the layers scale it
    return arrays


def lasso_subgradient(step, z):
    """The sign of ``step``, or of ``z`` where ``step`` is zero."""
    return np.where(step != 0, np.sign(step), np.sign(z))


def test_untrained_rescaled_lista_beats_ista():
    X, D = problem(9)
    alpha = 0.3

    def objective(code):
        return 0.5 * ((X - code @ D) ** 2).sum() + alpha * np.abs(code).sum()

    network = RescaledLISTA(torch.tensor(D), penalty=alpha, n_layers=4).double()
    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
    assert objective(code) < objective(ista_reference(X, D, alpha, 4))


def test_untrained_rescaled_lista_momentum_is_fistas():
    # Beck & Teboulle's t_1 = 1, t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2; layer l
    # (l >= 1) starts from FISTA's coefficient (t_{l+1} - 1) / t_{l+2}.
    t = [1.0]
    for _ in range(7):
        t.append((1 + (1 + 4 * t[-1] ** 2) ** 0.5) / 2)
    expected = [(t[layer] - 1) / t[layer + 1] for layer in range(1, 6)]
    network = RescaledLISTA(torch.tensor(problem(9)[1]), penalty=0.3, n_layers=6)
    np.testing.assert_allclose(network.momentum.detach().numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(expected[:2], [0.2818, 0.4340], atol=1e-4)
    assert RescaledLISTA(torch.tensor(problem(9)[1]), 0.3, 1).momentum.shape == (0,)
    # Untrained, the gains and the correction leave each layer's step from the
    # point ahead as ISTA's.
    assert torch.equal(network.gain, torch.ones(5, network.W.shape[2]))
    n_components = network.W.shape[2]
    rank = min(16, n_components)  # the correction's rank
    assert torch.equal(network.correction, torch.zeros(5, rank, n_components))
    assert network.correction_basis.shape == (5, n_components, rank)


def test_a_correction_basis_of_rank_zero_is_empty():
    # Not every eigenvector: a slice from -0 would take them all.
    D = torch.tensor(np.random.RandomState(15).randn(5, 6))
    assert correction_basis(D, 0).shape == (5, 0)


@pytest.mark.parametrize("n_components", [3, 16])
def test_correction_basis_is_the_top_eigenvectors_of_the_gram_matrix(n_components):
    rng = np.random.RandomState(15)
    D = rng.randn(n_components, 6)
    vectors = correction_basis(torch.tensor(D, dtype=torch.float32), 8).numpy()
    rank = min(8, n_components)
    assert vectors.shape == (n_components, rank) and vectors.dtype == np.float32
    values = np.linalg.eigvalsh(D @ D.T)[::-1][:rank]
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(rank), atol=1e-5)
    np.testing.assert_allclose(D @ (D.T @ vectors), vectors * values, atol=1e-4)
    # Signs fixed: each vector's largest entry is positive.
    assert np.all(vectors[np.abs(vectors).argmax(axis=0), np.arange(rank)] > 0)


def test_rescaled_lista_layers_minimise_the_hilasso_objective():
    # With groups the factor and the linearisation use the whole HiLasso penalty.
    X, D = problem(10)
    groups = [np.arange(0, 5), np.arange(5, 11), np.arange(11, 16)]  # unequal: no block view
    group_index = torch.tensor(np.repeat([0, 1, 2], [5, 6, 5]))
    penalties = np.array([0.2, 0.5, 0.1])
    network = RescaledLISTA(
        torch.tensor(D), HiLassoPenalty(0.1, group_index, torch.tensor(penalties)), 3
    ).double()
    perturbed(network, seed=1)

    def penalty(z):
        return 0.1 * np.abs(z).sum() + sum(
            p * np.linalg.norm(z[g]) for g, p in zip(groups, penalties, strict=True)
        )

    def subgradient(step, z):
        s = 0.1 * lasso_subgradient(step, z)
        for g, p in zip(groups, penalties, strict=True):
            along = step[g] if step[g].any() else z[g]
            s[g] += p * along / max(np.linalg.norm(along), 1e-300)
        return s

    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
    parameters = rescaled_parameters(network)
    reference = rescaled_lista_reference(X, D, parameters, penalty, subgradient)
    np.testing.assert_allclose(code, reference, atol=1e-7)
    lasso_only = rescaled_lista_reference(
        X, D, parameters, lambda z: 0.1 * np.abs(z).sum(),
        lambda step, z: 0.1 * lasso_subgradient(step, z),
    )  # fmt: skip
    assert np.abs(code - lasso_only).max() > 1e-3  # the group term matters


@pytest.mark.parametrize("grouped", [False, True])
def test_rescaled_lista_layer_is_never_worse_than_the_best_multiple(grouped):
    # Per signal: the chosen point of the plane of G and Z is at least as good
    # as the best multiple of G, and for some signals strictly better.
    X, D = problem(14, n_samples=40)
    rng = np.random.RandomState(14)
    penalty = 0.2
    if grouped:
        penalty = HiLassoPenalty(0.2, torch.arange(16) // 4, torch.rand(4) / 4)
    network = RescaledLISTA(torch.tensor(D), penalty, 2).double()
    step = np.maximum(np.abs(rng.randn(40, 16)) - 0.8, 0) * np.sign(rng.randn(40, 16)) / 4
    z = np.maximum(np.abs(rng.randn(40, 16)) - 0.8, 0) * np.sign(rng.randn(40, 16)) / 4
    tensors = [torch.tensor(v) for v in (X, step, step @ D, z, z @ D)]
    with torch.no_grad():
        a, b = (v.numpy() for v in network._coefficients(*tensors))
        factor, _ = network._coefficients(*tensors[:3])

    def objective(code):
        values = torch.tensor(code)
        with torch.no_grad():
            penalty = network._penalty(values).numpy().ravel()
        return 0.5 * ((X - code @ D) ** 2).sum(1) + penalty

    chosen, multiple = objective(a * step + b * z), objective(factor.numpy() * step)
    assert np.all(chosen <= multiple + 1e-12)
    assert np.any(chosen < multiple - 1e-6)


def nearly_parallel_plane(tilts, dtype):
    """Signals, ``D``, ``G`` and ``Z``, float64 arrays holding ``dtype``'s values,
    with ``Z`` a multiple of ``G`` tilted by 10^tilts: ``G D`` and ``Z D`` nearly
    parallel, the plane's 2 x 2 system ill-conditioned."""
    rng = np.random.default_rng(3)
    n_samples, n_features, n_components = 200, 16, 40
    D = rng.standard_normal((n_components, n_features)) / 4
    mask = rng.random((n_samples, n_components)) < 0.2
    step = np.where(mask, rng.standard_normal((n_samples, n_components)), 0)
    tilt = np.where(step != 0, rng.standard_normal(step.shape), 0)
    size = 10 ** rng.uniform(*tilts, (n_samples, 1)) * np.abs(step).max(1, keepdims=True)
    code = 0.8 * step + size * tilt
    X = 1.3 * step @ D + 0.1 * rng.standard_normal((n_samples, n_features))
    return [torch.tensor(v).to(dtype).double().numpy() for v in (X, D, step, code)]


def plane_objectives(X, D, step, code, alpha, dtype, training=False):
    """Each signal's objective at the point the layer takes on the plane,
    computed in ``dtype``: in the inference pass (its scratch buffers given),
    or as in training (:class:`PlaneCoefficients`, its backward written out)."""
    network = RescaledLISTA(torch.tensor(D), alpha, 2).to(dtype)
    tensors = [torch.tensor(v).to(dtype) for v in (X, step, step @ D, code, code @ D)]
    X_, G, _, Z, _ = tensors
    scratch = dict(scratch=torch.empty_like(G), image_scratch=torch.empty_like(X_))
    with torch.inference_mode():
        if training:
            a, b = PlaneCoefficients.apply(*tensors, alpha, False, network._CONDITION)
        else:
            a, b = network._coefficients(*tensors, **scratch)
        combine(G, a, Z, b)
    chosen = G.double().numpy()
    objective = 0.5 * ((X - chosen @ D) ** 2).sum(1) + alpha * np.abs(chosen).sum(1)
    return objective, b.double().numpy()


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("tilts", [(-3, -2), (-4, -3)])
def test_rescaled_lista_float32_plane_keeps_its_digits_when_images_are_nearly_parallel(
    tilts, training
):
    # The float32 pass chooses points as good as the float64 pass's, up to
    # float32 rounding: a determinant inferred from float32 inner products
    # kept only a few digits here. Training's forward is the same.
    X, D, step, code = nearly_parallel_plane(tilts, torch.float32)
    single, b = plane_objectives(X, D, step, code, 0.05, torch.float32, training)
    double, _ = plane_objectives(X, D, step, code, 0.05, torch.float64)
    assert np.count_nonzero(b) > len(X) // 4  # the plane's points are taken
    np.testing.assert_array_less((single - double) / double, 1e-4)


def test_rescaled_lista_bfloat16_plane_is_chosen_and_formed_in_float32():
    # bfloat16's images carry its rounding, but the plane's algebra and the
    # point a G + b Z (whose terms nearly cancel) are not rounded further.
    X, D, step, code = nearly_parallel_plane((-2, -1), torch.bfloat16)
    rounded, b = plane_objectives(X, D, step, code, 0.05, torch.bfloat16)
    double, _ = plane_objectives(X, D, step, code, 0.05, torch.float64)
    assert np.count_nonzero(b) > len(X) // 4
    excess = (rounded - double) / double
    assert excess.max() < 2e-2 and excess.mean() < 1e-3


def test_rescaled_lista_codes_zero_rows_as_zero_with_finite_gradients():
    _, D = problem(11)
    X = torch.zeros(3, D.shape[1], dtype=torch.float64)
    network = perturbed(RescaledLISTA(torch.tensor(D), penalty=0.3, n_layers=3).double())
    code = network(X)
    assert torch.equal(code, torch.zeros_like(code))
    loss = 0.5 * (X - code @ torch.tensor(D)).pow(2).sum() + code.abs().sum()
    loss.backward()
    for name, parameter in network.named_parameters():
        assert torch.isfinite(parameter.grad).all(), name


def test_rescaled_lista_gradient_matches_finite_differences():
    X, D = problem(12, n_samples=4, n_components=6, n_features=5)
    network = perturbed(RescaledLISTA(torch.tensor(D), penalty=0.1, n_layers=3).double(), seed=2)
    X_tensor, D_tensor = torch.tensor(X), torch.tensor(D)

    def loss():
        code = network(X_tensor)
        return 0.5 * (X_tensor - code @ D_tensor).pow(2).sum() + 0.1 * code.abs().sum()

    loss().backward()
    for parameter, index in (
        (network.W, (1, 2, 3)),
        (network.momentum, (0,)),
        (network.gain, (1, 4)),
        (network.correction_basis, (1, 2, 3)),
        (network.correction, (0, 5, 1)),
    ):
        analytic = parameter.grad[index].item()
        step = 1e-6
        with torch.no_grad():
            parameter[index] += step
            plus = loss().item()
            parameter[index] -= 2 * step
            minus = loss().item()
            parameter[index] += step
        assert analytic == pytest.approx((plus - minus) / (2 * step), rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("grouped", [False, True])
def test_rescaled_lista_inference_in_buffers_equals_the_autograd_forward(dtype, grouped):
    X, D = problem(13)
    penalty = 0.3
    if grouped:  # four contiguous groups of four: the block view of the group norms
        penalty = HiLassoPenalty(0.3, torch.arange(16) // 4, torch.tensor([0.1, 0.3, 0.2, 0.05]))
    network = perturbed(RescaledLISTA(torch.tensor(D), penalty, 4).to(dtype), seed=3)
    X_tensor = torch.tensor(X, dtype=dtype)
    with torch.no_grad():
        buffered = network(X_tensor)  # the fused kernels where numba is installed
        assert torch.equal(buffered, network._forward_in_place(X_tensor))
        torch_pass = network._forward_in_place_torch(X_tensor)
    autograd = network(X_tensor.requires_grad_())
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(buffered, autograd.detach(), rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(torch_pass, autograd.detach(), rtol=tolerance, atol=tolerance)
    assert torch.count_nonzero(buffered) > 0
    assert torch.equal(X_tensor.detach(), torch.tensor(X, dtype=dtype))  # input untouched


@pytest.mark.parametrize("positive", [False, True], ids=["signed", "nonnegative"])
@pytest.mark.parametrize("n_layers", [1, 2, 5])
def test_untrained_step_lista_equals_fista_iterations_without_restart(n_layers, positive):
    X, D = problem(6)
    penalty = L1Penalty(0.3, positive=positive)
    network = StepLISTA(torch.tensor(D), penalty=penalty, n_layers=n_layers).double()
    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
        in_place = network._forward_in_place(torch.tensor(X)).numpy()
    expected, _ = fista_reference(X, D, 0.3, n_layers, restart=False, positive=positive)
    np.testing.assert_allclose(code, expected, atol=1e-12)
    np.testing.assert_allclose(in_place, expected, atol=1e-12)


def step_lista_reference(X, D, alpha, step, momentum, threshold_ratio):
    """Step LISTA written out per row: FISTA with each layer's step, momentum, thresholds."""
    L = np.linalg.eigvalsh(D @ D.T).max()
    codes = []
    for x in X:
        z, previous = np.zeros(D.shape[0]), np.zeros(D.shape[0])
        for layer in range(len(step)):
            beta = momentum[layer - 1] if layer else 0.0
            y = z + beta * (z - previous)
            update = y + step[layer] * ((x - y @ D) @ D.T) / L
            previous, z = z, soft(update, step[layer] * threshold_ratio[layer] * alpha / L)
        codes.append(z)
    return np.array(codes)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("grad", [False, True])
def test_trained_step_lista_equals_its_formula(dtype, grad):
    # Perturbed parameters: both forward passes (autograd, and the in-place
    # one of inference) against the formula written out per row.
    X, D = problem(7)
    network = StepLISTA(torch.tensor(D), penalty=0.2, n_layers=4).to(dtype)
    rng = np.random.default_rng(7)
    with torch.no_grad():
        network.step.mul_(torch.tensor(rng.uniform(0.5, 1.8, (4, 1)), dtype=dtype))
        network.momentum.add_(torch.tensor(rng.uniform(-0.2, 0.3, 3), dtype=dtype))
        network.threshold_ratio.mul_(torch.tensor(rng.uniform(0.3, 2.0, (4, 16)), dtype=dtype))
    with torch.set_grad_enabled(grad):
        code = network(torch.tensor(X, dtype=dtype)).detach().double().numpy()
    parameters = [p.detach().double().numpy() for p in (network.step[:, 0], network.momentum)]
    ratio = network.threshold_ratio.detach().double().numpy()
    expected = step_lista_reference(X, D, 0.2, *parameters, ratio)
    tolerance = 1e-12 if dtype == torch.float64 else 2e-5
    np.testing.assert_allclose(code, expected, atol=tolerance * np.abs(expected).max())


def test_step_lista_follows_a_new_dictionary():
    # Analytic matrices: after set_dictionary the untrained network is FISTA
    # on the new atoms, with no retraining.
    X, D = problem(8)
    new_D = 2.0 * D[::-1].copy()
    network = StepLISTA(torch.tensor(D), penalty=0.3, n_layers=3).double()
    network.set_dictionary(torch.tensor(new_D))
    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
    expected, _ = fista_reference(X, new_D, 0.3, 3, restart=False)
    np.testing.assert_allclose(code, expected, atol=1e-12)


def test_step_lista_gradient_matches_finite_differences():
    X, D = problem(9, n_samples=4, n_components=6, n_features=5)
    network = StepLISTA(torch.tensor(D), penalty=0.1, n_layers=3)
    X_tensor, D_tensor = torch.tensor(X), torch.tensor(D)

    def loss():
        code = network(X_tensor)
        return 0.5 * (X_tensor - code @ D_tensor).pow(2).sum() + 0.1 * code.abs().sum()

    loss().backward()
    for parameter, index in ((network.step, (1, 0)), (network.momentum, (1,))):
        analytic = parameter.grad[index].item()
        with torch.no_grad():
            parameter[index] += 1e-6
            plus = loss().item()
            parameter[index] -= 2e-6
            minus = loss().item()
            parameter[index] += 1e-6
        assert analytic == pytest.approx((plus - minus) / 2e-6, rel=1e-5, abs=1e-8)


# ----------------------------------------------------------------- analytic weights
def test_analytic_weight_solves_the_least_coherence_problem():
    _, D = problem(10)
    W, step = analytic_weight(torch.tensor(D))
    expected_W, expected_step = analytic_weight_reference(D)
    np.testing.assert_allclose(W.numpy(), expected_W, rtol=1e-8, atol=1e-10)
    assert step.item() == pytest.approx(expected_step, rel=1e-8)
    np.testing.assert_allclose(np.diag(D @ W.numpy()), 1.0, rtol=1e-10)


def test_analytic_weight_of_a_float32_dictionary_and_a_zero_atom():
    # A zero row leaves D^T D unchanged: the other columns are those of the
    # dictionary without it, and the zero atom's column is zero.
    _, D = problem(11)
    D[3] = 0.0
    W, step = analytic_weight(torch.tensor(D, dtype=torch.float32))
    assert W.dtype == step.dtype == torch.float32
    assert torch.all(W[:, 3] == 0)
    expected, _ = analytic_weight_reference(np.delete(D, 3, axis=0))
    np.testing.assert_allclose(np.delete(W.numpy(), 3, axis=1), expected, rtol=1e-3, atol=1e-5)
    assert torch.isfinite(step) and step > 0


def test_analytic_weight_of_a_rank_deficient_dictionary_decorrelates_exactly():
    # Fewer atoms than features: D^T D is singular (its pseudo-inverse is
    # used), and each column can be orthogonal to every other atom: D W = I.
    _, D = problem(12, n_components=6, n_features=10)
    W, step = analytic_weight(torch.tensor(D))
    np.testing.assert_allclose(D @ W.numpy(), np.eye(6), atol=1e-10)
    assert step.item() == pytest.approx(1.0)


@pytest.mark.parametrize("n_layers", [1, 2, 5])
@pytest.mark.parametrize("network_class", [ALISTA, HyperLISTA])
def test_untrained_analytic_networks_equal_the_analytic_iteration(network_class, n_layers):
    X, D = problem(13)
    network = network_class(torch.tensor(D), penalty=0.3, n_layers=n_layers).double()
    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
    expected = alista_reference(X, D, 0.3, np.ones(n_layers), np.ones(n_layers))
    np.testing.assert_allclose(code, expected, atol=1e-10)
    assert np.count_nonzero(expected) > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("grad", [False, True])
def test_trained_alista_equals_its_formula(dtype, grad):
    X, D = problem(14)
    network = ALISTA(torch.tensor(D), penalty=0.2, n_layers=4).to(dtype)
    rng = np.random.default_rng(14)
    with torch.no_grad():
        network.step.mul_(torch.tensor(rng.uniform(0.5, 1.8, 4), dtype=dtype))
        network.threshold_ratio.mul_(torch.tensor(rng.uniform(0.3, 2.0, 4), dtype=dtype))
    with torch.set_grad_enabled(grad):
        code = network(torch.tensor(X, dtype=dtype)).detach().double().numpy()
    step, ratio = (p.detach().double().numpy() for p in (network.step, network.threshold_ratio))
    expected = alista_reference(X, D, 0.2, step, ratio)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-4
    np.testing.assert_allclose(code, expected, atol=tolerance * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("grad", [False, True])
def test_trained_hyper_lista_equals_its_formula(dtype, grad):
    X, D = problem(15)
    network = HyperLISTA(torch.tensor(D), penalty=0.2, n_layers=6).to(dtype)
    scalars = dict(c_step=1.3, c_threshold=0.7, c_residual=0.4, c_momentum=1.5)
    with torch.no_grad():
        for name, value in scalars.items():
            getattr(network, name).fill_(value)
    with torch.set_grad_enabled(grad):
        code = network(torch.tensor(X, dtype=dtype)).detach().double().numpy()
    expected = hyper_lista_reference(X, D, 0.2, 6, **scalars)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-4
    np.testing.assert_allclose(code, expected, atol=tolerance * np.abs(expected).max())
    # The momentum and the residual term change the codes: the test can fail.
    plain = alista_reference(X, D, 0.2, np.full(6, 1.3), np.full(6, 0.7))
    assert np.abs(expected - plain).max() > 1e-3


@pytest.mark.parametrize("network_class", [ALISTA, HyperLISTA])
def test_analytic_networks_follow_a_new_dictionary(network_class):
    X, D = problem(16)
    new_D = 2.0 * D[::-1].copy()
    network = network_class(torch.tensor(D), penalty=0.3, n_layers=3).double()
    network.set_dictionary(torch.tensor(new_D))
    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
    expected = alista_reference(X, new_D, 0.3, np.ones(3), np.ones(3))
    np.testing.assert_allclose(code, expected, atol=1e-10)


@pytest.mark.parametrize("network_class", [ALISTA, HyperLISTA])
def test_analytic_networks_codes_follow_the_atoms_scale(network_class):
    # Atoms and alpha c times larger: the same problem, codes c times smaller.
    X, D = problem(18)
    codes = []
    for scale in (1.0, 10.0):
        network = network_class(torch.tensor(scale * D), penalty=0.3 * scale, n_layers=3)
        with torch.no_grad():
            if network_class is HyperLISTA:  # its threshold's residual term too
                network.c_residual.fill_(0.4)
            codes.append(scale * network.double()(torch.tensor(X)).numpy())
    np.testing.assert_allclose(codes[1], codes[0], rtol=1e-9, atol=1e-12)
    assert np.count_nonzero(codes[0]) > 0


def test_hyper_lista_gradient_matches_finite_differences():
    X, D = problem(17, n_samples=4, n_components=6, n_features=5)
    network = HyperLISTA(torch.tensor(D), penalty=0.1, n_layers=4).double()
    with torch.no_grad():
        network.c_momentum.fill_(0.8)
        network.c_residual.fill_(0.3)
    X_tensor, D_tensor = torch.tensor(X), torch.tensor(D)

    def loss():
        code = network(X_tensor)
        return 0.5 * (X_tensor - code @ D_tensor).pow(2).sum() + 0.1 * code.abs().sum()

    loss().backward()
    for name in ("c_step", "c_threshold", "c_residual", "c_momentum"):
        parameter = getattr(network, name)
        analytic = parameter.grad.item()
        with torch.no_grad():
            parameter += 1e-6
            plus = loss().item()
            parameter -= 2e-6
            minus = loss().item()
            parameter += 1e-6
        assert analytic == pytest.approx((plus - minus) / 2e-6, rel=1e-5, abs=1e-8), name
