"""The fused inference pass of the networks on an analytic weight (StepLISTA, ALISTA)."""

import copy

import numpy as np
import pytest
import torch

from sklearn_lsc import LearnedLassoEncoder, _fused
from sklearn_lsc import _fused_analytic as fused
from sklearn_lsc._networks import ALISTA, StepLISTA
from sklearn_lsc._penalties import HiLassoPenalty, L1Penalty

pytest.importorskip("numba")

NETWORKS = [StepLISTA, ALISTA]


def network_and_signals(kind, dtype, n_layers, positive=False, alpha=0.2, spread=2.0, seed=0):
    """A network moved away from its untrained values (a negative threshold), and signals.

    The rows' norms ``spread`` over two orders of magnitude, up to ``spread``:
    at ``alpha=0.2`` and ``spread=2`` most points ahead are sparse enough for
    the kernel, the others go on with BLAS.
    """
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((48, 20))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    codes = rng.standard_normal((150, 48)) * (rng.random((150, 48)) < 0.1)
    if positive:
        D, codes = np.abs(D), np.abs(codes)
    scales = np.geomspace(spread / 100, spread, 150)[:, None]  # sparse rows to dense
    X = scales * (codes @ D + 0.05 * rng.standard_normal((150, 20)))
    X[3] = 0.0
    network = kind(torch.tensor(D, dtype=dtype), L1Penalty(alpha, positive=positive), n_layers)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=dtype)
            parameter.mul_(1 + 0.2 * noise)
        network.threshold_ratio[-1, ...] = -1.0  # a negative threshold acts as zero
    return network, torch.tensor(X, dtype=dtype)


def torch_pass(network, X):
    """The reference: the network's torch pass, in float64."""
    network = copy.deepcopy(network).double()
    with torch.no_grad():
        return network._forward_in_place_torch(X.double())


def stopping_layers(monkeypatch):
    """Record, at each call of the kernel, the layer where each row stopped."""
    kernels = _fused._available_kernels()
    seen = []

    class Recording:
        def __getattr__(self, name):
            return getattr(kernels, name)

        def analytic_network(self, *args):
            kernels.analytic_network(*args)
            seen.append(args[-1].copy())

    monkeypatch.setattr(_fused, "_kernels", Recording())
    return seen


@pytest.mark.parametrize("kind", NETWORKS)
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_layers", [1, 2, 3, 5])
def test_fused_pass_equals_the_torch_pass(kind, dtype, n_layers, positive):
    network, X = network_and_signals(kind, dtype, n_layers, positive=positive)
    original = X.clone()
    assert fused.applies(network, X)
    with torch.no_grad():
        code = network(X)
    exact = torch_pass(network, X)
    assert code.dtype == dtype and code.shape == exact.shape
    scale = float(exact.abs().max())
    tolerance = 2e-5 * scale if dtype == torch.float32 else 1e-12 * scale
    torch.testing.assert_close(code.double(), exact, rtol=0, atol=tolerance)
    assert torch.count_nonzero(code) > 0 and not code[3].any()
    assert torch.equal(X, original)
    if positive:
        assert code.min() >= 0


@pytest.mark.parametrize("kind", NETWORKS)
def test_fused_pass_equals_the_torch_pass_on_atoms_of_unequal_norms(kind):
    # ALISTA's thresholds differ per atom (its alpha over each squared norm).
    network, X = network_and_signals(kind, torch.float64, 3)
    norms = torch.tensor(np.geomspace(0.2, 5.0, network.dictionary.shape[0]))
    network.set_dictionary(network.dictionary * norms[:, None])
    with torch.no_grad():
        code = network(X)
    exact = torch_pass(network, X)
    assert torch.count_nonzero(code) > 0
    torch.testing.assert_close(code, exact, rtol=0, atol=1e-12 * float(exact.abs().max()))


@pytest.mark.parametrize("kind", NETWORKS)
@pytest.mark.parametrize(
    "alpha, spread, way",
    [(2.0, 1.0, "every row in the kernel"), (0.2, 2.0, "some rows finished in the kernel"),
     (0.2, 2.0, "some rows left to BLAS"), (0.2, 5.0, "every row with BLAS")],
)  # fmt: skip
@pytest.mark.parametrize("through_residual", [False, True])
def test_each_way_gives_the_torch_pass_codes(
    monkeypatch, kind, alpha, spread, way, through_residual
):
    # BLAS's rows take (X - Y D) W or C - Y K (the cheaper for the shapes): both.
    monkeypatch.setattr(fused, "_through_residual", lambda X, prepared: through_residual)
    # The stopped rows (a fraction of these) finish in the kernel or with BLAS.
    finish_in_kernel = way == "some rows finished in the kernel"
    monkeypatch.setattr(fused, "_KERNEL_FINISH", 1.0 if finish_in_kernel else 0.0)
    network, X = network_and_signals(kind, torch.float64, 4, alpha=alpha, spread=spread)
    stopped = stopping_layers(monkeypatch)
    with torch.no_grad():
        code = network(X)
    if way == "every row with BLAS":  # most rows dense from the first layer on
        assert stopped == []
    elif way == "every row in the kernel":
        (layers,) = stopped
        assert (layers == 4).all()
    else:
        first, *rest = stopped
        assert 0 < (first < 4).sum() < 75
        if network._layer_parameters()[2] is not None:
            # Rows stopped past the second layer: with momentum, their
            # finishing reads the layer before's output too.
            assert ((first > 1) & (first < 4)).any()
        # Finishing in the kernel: a second call from where each row stopped.
        assert len(rest) == finish_in_kernel and all((layers == 4).all() for layers in rest)
    assert torch.count_nonzero(code) > 0
    torch.testing.assert_close(code, torch_pass(network, X), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", NETWORKS)
@pytest.mark.parametrize("n_layers", [2, 3, 4])
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_dense_batch_takes_blas_layers_into_fresh_codes(
    monkeypatch, kind, n_layers, positive, dtype
):
    network, X = network_and_signals(
        kind, dtype, n_layers, positive=positive, alpha=0.05, spread=5.0
    )
    stopped = stopping_layers(monkeypatch)
    with torch.no_grad():
        code = network(X)
        kept = code.clone()
        network(X.flip(0))  # the workspace's buffers rotate again
    assert stopped == []  # the kernel's layers did not run
    assert torch.equal(code, kept)  # the codes are the caller's, not a buffer
    exact = torch_pass(network, X)
    scale = float(exact.abs().max())
    tolerance = 2e-5 * scale if dtype == torch.float32 else 1e-12 * scale
    torch.testing.assert_close(code.double(), exact, rtol=0, atol=tolerance)
    if positive:
        assert code.min() >= 0


def test_a_changed_alpha_is_followed():
    network, X = network_and_signals(StepLISTA, torch.float64, 3)
    with torch.no_grad():
        before = network(X)
        network.penalty.alpha *= 2  # a float, not a parameter
        after = network(X)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, torch_pass(network, X), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", NETWORKS)
def test_a_row_is_coded_alike_alone_and_in_a_batch(kind):
    network, X = network_and_signals(kind, torch.float64, 3)
    with torch.no_grad():
        batch = network(X)
        alone = torch.cat([network(X[i : i + 1]) for i in range(0, 150, 7)])
    torch.testing.assert_close(alone, batch[::7], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", NETWORKS)
def test_returned_codes_are_fresh_and_changes_are_followed(kind):
    network, X = network_and_signals(kind, torch.float64, 3)
    with torch.no_grad():
        first = network(X)
        kept = first.clone()
        network(X.flip(0))
        shorter = network(X[:7])  # views of the longer batch's buffers
        assert torch.equal(first, kept)
        torch.testing.assert_close(shorter, kept[:7], rtol=0, atol=1e-12)
        network.step.mul_(0.8)  # in place: the prepared weights are rebuilt
        after_step = network(X)
        network.set_dictionary(network.dictionary.flip(1))
        after_dictionary = network(X)
    assert not torch.allclose(first, after_step)
    assert not torch.allclose(after_step, after_dictionary)
    torch.testing.assert_close(after_dictionary, torch_pass(network, X), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", NETWORKS)
def test_network_takes_the_fused_pass_only_where_it_applies(monkeypatch, kind):
    network, X = network_and_signals(kind, torch.float32, 3)
    calls = []
    original = fused.analytic_forward
    monkeypatch.setattr(
        fused, "analytic_forward", lambda *args: calls.append(1) or original(*args)
    )
    with torch.no_grad():
        network(X)
    assert calls == [1]
    X.requires_grad_(True)
    network(X).sum().backward()  # training: the torch pass, with gradients
    assert calls == [1] and X.grad is not None
    grouped = kind(
        network.dictionary, HiLassoPenalty(0.2, torch.arange(48) // 4, torch.full((12,), 0.1)), 3
    )
    assert not fused.applies(grouped, X)
    monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")
    assert not fused.applies(network, X)
    with torch.no_grad():
        network(X.detach())
    assert calls == [1]


@pytest.mark.parametrize("architecture", ["step_lista", "alista"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_encoder_codes_match_with_and_without_the_kernel(monkeypatch, architecture, dtype):
    rng = np.random.default_rng(0)
    D = rng.standard_normal((40, 16))
    X = ((rng.standard_normal((200, 40)) * (rng.random((200, 40)) < 0.1)) @ D).astype(dtype)
    encoder = LearnedLassoEncoder(
        dictionary=D, alpha=0.5, architecture=architecture, max_iter=5, random_state=0
    ).fit(X)
    calls = []
    original = fused.analytic_forward
    monkeypatch.setattr(
        fused, "analytic_forward", lambda *args: calls.append(1) or original(*args)
    )
    with_kernel = encoder.transform(X)
    assert calls  # the kernel coded them
    monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")
    without = encoder.transform(X)
    assert with_kernel.dtype == dtype
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(with_kernel, without, rtol=tolerance, atol=tolerance)
