"""LISTA's fused inference pass, and the kernel that skips zero codes in a product."""

import copy

import numpy as np
import pytest
import torch

from sklearn_lsc import LearnedLassoEncoder, _fused
from sklearn_lsc import _fused_lista as fused
from sklearn_lsc._networks import LISTA
from sklearn_lsc._penalties import HiLassoPenalty, L1Penalty

pytest.importorskip("numba")


def sparse_codes(rng, dtype, n_samples=130, n_components=37):
    """Rows with every number of nonzero codes from 0 to ``n_components``
    (the kernel adds atoms four at a time: every remainder), at scattered places."""
    codes = rng.standard_normal((n_samples, n_components))
    for i in range(n_samples):
        keep = rng.permutation(n_components)[: i % (n_components + 1)]
        mask = np.zeros(n_components, dtype=bool)
        mask[keep] = True
        codes[i, ~mask] = 0.0
    return codes.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("subtract", [False, True])
def test_sparse_product_equals_the_dense_product(dtype, subtract):
    kernels = _fused._available_kernels()
    rng = np.random.default_rng(0)
    codes = sparse_codes(rng, dtype)  # 130 rows: three tasks, the last one short
    matrix = rng.standard_normal((codes.shape[1], 11)).astype(dtype)
    start = rng.standard_normal((codes.shape[0], 11)).astype(dtype)
    original = (codes.copy(), matrix.copy(), start.copy())
    out = np.full_like(start, np.nan)  # every entry must be written
    kernels.sparse_product(codes, matrix, start, out, subtract)
    exact = codes.astype(np.float64) @ matrix.astype(np.float64)
    if subtract:
        exact = start.astype(np.float64) - exact
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, exact, rtol=tolerance, atol=tolerance * np.abs(exact).max())
    assert out.dtype == dtype
    for before, after in zip(original, (codes, matrix, start), strict=True):
        np.testing.assert_array_equal(before, after)  # inputs untouched


def test_sparse_product_propagates_nan_codes():
    kernels = _fused._available_kernels()
    codes = np.zeros((3, 8))
    codes[1, 5] = np.nan
    out = np.empty((3, 4))
    kernels.sparse_product(codes, np.ones((8, 4)), out, out, False)
    assert np.isnan(out[1]).all() and not np.isnan(out[[0, 2]]).any()


@pytest.mark.parametrize("positive", [False, True])
def test_thresholds_count_the_nonzero_codes(positive):
    kernels = _fused._available_kernels()
    rng = np.random.default_rng(1)
    values = rng.standard_normal((70, 30))
    thresholds = np.abs(rng.standard_normal(30))
    expected = np.sign(values) * np.maximum(np.abs(values) - thresholds, 0)
    if positive:
        expected = np.maximum(values - thresholds, 0)
    shrunk, counts = values.copy(), np.empty(70, np.intp)
    kernels.shrink(shrunk, thresholds, positive, counts)
    np.testing.assert_allclose(shrunk, expected, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(counts, (expected != 0).sum(axis=1))
    thresholded, counts = values.copy(), np.full(70, -1, np.intp)
    l1, slope = np.empty(70), np.empty(70)
    kernels.threshold(thresholded, thresholds, values, l1, slope, positive, counts)
    np.testing.assert_array_equal(counts, (expected != 0).sum(axis=1))
    np.testing.assert_allclose(l1, np.abs(expected).sum(axis=1), rtol=1e-13)


def test_the_density_decides_the_product(monkeypatch):
    kernels = _fused._available_kernels()
    calls = []
    monkeypatch.setattr(_fused, "SPARSE_DENSITY", 0.25)

    class Recording:  # the kernels, recording which product ran
        def sparse_product(self, *args):
            calls.append("sparse")
            kernels.sparse_product(*args)

    rng = np.random.default_rng(2)
    matrix = torch.tensor(rng.standard_normal((20, 6)))
    for density, expected in ((0.1, ["sparse"]), (0.5, [])):
        code = torch.tensor(rng.standard_normal((40, 20)) * (rng.random((40, 20)) < density))
        counts = (code != 0).sum(dim=1).numpy()
        calls.clear()
        out = torch.empty(40, 6, dtype=torch.float64)
        _fused.code_product(Recording(), code, matrix, out, counts)
        assert calls == expected
        torch.testing.assert_close(out, code @ matrix, rtol=1e-12, atol=1e-12)


def network_and_signals(dtype, n_layers, positive=False, seed=0, n_samples=150):
    """A LISTA moved away from its untrained values (a negative threshold), and signals."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((48, 20))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    codes = rng.standard_normal((n_samples, 48)) * (rng.random((n_samples, 48)) < 0.1)
    if positive:
        D, codes = np.abs(D), np.abs(codes)
    X = codes @ D + 0.05 * rng.standard_normal((n_samples, 20))
    X[3] = 0.0
    network = LISTA(torch.tensor(D, dtype=dtype), L1Penalty(0.2, positive=positive), n_layers)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=dtype)
            parameter.mul_(1 + 0.2 * noise)
        network.theta[-1, 0] = -1.0  # a negative threshold acts as zero
    return network, torch.tensor(X, dtype=dtype)


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_layers", [1, 2, 3, 5])
def test_fused_pass_equals_the_torch_pass(dtype, n_layers, positive, code_products):
    network, X = network_and_signals(dtype, n_layers, positive=positive)
    original = X.clone()
    assert fused.applies(network, X)
    with torch.no_grad():
        exact = copy.deepcopy(network).double()._forward_in_place_torch(X.double())
        code = fused.lista_forward(network, X)
    assert code.dtype == dtype and code.shape == exact.shape
    scale = float(exact.abs().max())
    tolerance = 2e-5 * scale if dtype == torch.float32 else 1e-12 * scale
    torch.testing.assert_close(code.double(), exact, rtol=0, atol=tolerance)
    assert torch.count_nonzero(code) > 0 and not code[3].any()
    assert torch.equal(X, original)
    if positive:
        assert code.min() >= 0


def test_network_takes_the_fused_pass_only_where_it_applies(monkeypatch):
    network, X = network_and_signals(torch.float32, 3)
    with torch.no_grad():
        assert torch.equal(network(X), fused.lista_forward(network, X))
        torch_code = network._forward_in_place_torch(X)
    assert not fused.applies(network, X.double())
    assert not fused.applies(network, X.to(torch.bfloat16))
    grouped = LISTA(
        network.dictionary, HiLassoPenalty(0.2, torch.arange(48) // 4, torch.full((12,), 0.1)), 3
    )
    assert not fused.applies(grouped, X)
    monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")
    assert not fused.applies(network, X)
    with torch.no_grad():
        assert torch.equal(network(X), torch_code)


def test_returned_codes_are_not_reused_buffers_and_changes_are_followed():
    for n_layers in (2, 3):
        network, X = network_and_signals(torch.float64, n_layers)
        with torch.no_grad():
            first = network(X)
            kept = first.clone()
            network(X.flip(0))
            shorter = network(X[:7])  # views of the longer batch's buffers
            assert torch.equal(first, kept)
            torch.testing.assert_close(shorter, kept[:7], rtol=1e-12, atol=1e-12)
            network.W.mul_(0.9)  # in place
            network.dictionary.mul_(1.1)
            after = network(X)
            expected = network._forward_in_place_torch(X)
        assert not torch.allclose(first, after)
        torch.testing.assert_close(after, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_encoder_codes_match_with_and_without_the_kernels(monkeypatch, dtype):
    rng = np.random.default_rng(0)
    D = rng.standard_normal((40, 16))
    X = ((rng.standard_normal((200, 40)) * (rng.random((200, 40)) < 0.1)) @ D).astype(dtype)
    encoder = LearnedLassoEncoder(
        dictionary=D, alpha=0.5, architecture="lista", max_iter=5, random_state=0
    ).fit(X)
    with_kernels = encoder.transform(X)
    monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")
    without = encoder.transform(X)
    assert with_kernels.dtype == dtype
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(with_kernels, without, rtol=tolerance, atol=tolerance)
