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
@pytest.mark.parametrize("limit", [37, 10])
def test_sparse_product_equals_the_dense_product(dtype, subtract, limit):
    kernels = _fused._available_kernels()
    rng = np.random.default_rng(0)
    codes = sparse_codes(rng, dtype)  # 130 rows: tasks of 16, the last one short
    matrix = rng.standard_normal((codes.shape[1], 11)).astype(dtype)
    start = rng.standard_normal((codes.shape[0], 11)).astype(dtype)
    original = (codes.copy(), matrix.copy(), start.copy())
    out = np.full_like(start, np.nan)  # every row at most ``limit`` must be written
    kernels.sparse_product(codes, matrix, start, out, subtract, limit)
    exact = codes.astype(np.float64) @ matrix.astype(np.float64)
    if subtract:
        exact = start.astype(np.float64) - exact
    taken = (codes != 0).sum(axis=1) <= limit
    assert np.isnan(out[~taken]).all()  # denser rows are left to BLAS
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(
        out[taken], exact[taken], rtol=tolerance, atol=tolerance * np.abs(exact).max()
    )
    assert out.dtype == dtype and taken.sum() == (130 if limit == 37 else 44)
    for before, after in zip(original, (codes, matrix, start), strict=True):
        np.testing.assert_array_equal(before, after)  # inputs untouched


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("limit", [37, 10])
def test_sparse_products_equal_both_dense_products(dtype, limit):
    kernels = _fused._available_kernels()
    rng = np.random.default_rng(1)
    codes = sparse_codes(rng, dtype)
    matrix = rng.standard_normal((codes.shape[1], 11)).astype(dtype)
    extra = rng.standard_normal((codes.shape[1], 6)).astype(dtype)
    original = (codes.copy(), matrix.copy(), extra.copy())
    out = np.full((codes.shape[0], 11), np.nan, dtype)
    extra_out = np.full((codes.shape[0], 6), np.nan, dtype)
    kernels.sparse_products(codes, matrix, out, extra, extra_out, limit)
    taken = (codes != 0).sum(axis=1) <= limit
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for result, factor in ((out, matrix), (extra_out, extra)):
        exact = codes.astype(np.float64) @ factor.astype(np.float64)
        assert np.isnan(result[~taken]).all()  # denser rows are left to BLAS
        np.testing.assert_allclose(
            result[taken], exact[taken], rtol=tolerance, atol=tolerance * np.abs(exact).max()
        )
    for before, after in zip(original, (codes, matrix, extra), strict=True):
        np.testing.assert_array_equal(before, after)


def test_code_product_makes_the_second_product_for_every_row():
    # A batch of sparse and dense rows: each way writes both products.
    kernels = _fused._available_kernels()
    rng = np.random.default_rng(3)
    code = torch.tensor(sparse_codes(rng, np.float64))
    counts = (code != 0).sum(dim=1).numpy()
    assert (counts <= int(_fused.SPARSE_DENSITY * 37)).any() and (counts > 20).any()
    matrix, extra = (torch.tensor(rng.standard_normal((37, width))) for width in (9, 5))
    out, extra_out = torch.full((130, 9), torch.nan), torch.full((130, 5), torch.nan)
    out, extra_out = out.double(), extra_out.double()
    _fused.code_product(kernels, code, matrix, out, counts, also=(extra, extra_out))
    torch.testing.assert_close(out, code @ matrix, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(extra_out, code @ extra, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="do not match"):
        _fused.code_product(kernels, code, matrix, out, counts, also=(extra, out))
    with pytest.raises(ValueError, match="without start"):
        _fused.code_product(kernels, code, matrix, out, counts, start=out, also=(extra, extra_out))


def test_sparse_product_propagates_nan_codes():
    kernels = _fused._available_kernels()
    codes = np.zeros((3, 8))
    codes[1, 5] = np.nan
    out = np.empty((3, 4))
    kernels.sparse_product(codes, np.ones((8, 4)), out, out, False, 8)
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


@pytest.mark.parametrize("subtract", [False, True])
def test_each_row_takes_the_product_its_count_asks_for(monkeypatch, subtract):
    kernels = _fused._available_kernels()
    monkeypatch.setattr(_fused, "SPARSE_DENSITY", 0.25)  # 5 of 20 codes
    taken = []

    class Recording:  # the kernels, recording the rows the sparse product wrote
        def sparse_product(self, code, matrix, start, out, subtract, limit):
            before = out.copy()
            kernels.sparse_product(code, matrix, start, out, subtract, limit)
            taken.append(np.flatnonzero((out != before).any(axis=1)))

    rng = np.random.default_rng(2)
    matrix = torch.tensor(rng.standard_normal((20, 6)))
    start = torch.tensor(rng.standard_normal((40, 6)))
    for density in (0.1, 0.3, 0.9):
        code = torch.tensor(rng.standard_normal((40, 20)) * (rng.random((40, 20)) < density))
        counts = (code != 0).sum(dim=1).numpy()
        taken.clear()
        out = torch.full((40, 6), 1e300, dtype=torch.float64)
        _fused.code_product(
            Recording(), code, matrix, out, counts, start=start if subtract else None
        )
        sparse_rows = np.flatnonzero(counts <= 5)
        if density == 0.3:  # a batch of both kinds of rows
            assert 0 < sparse_rows.shape[0] < 40
        if sparse_rows.shape[0] == 0:
            assert taken == []  # every row dense: BLAS alone, the kernel not called
        else:
            np.testing.assert_array_equal(taken[0], sparse_rows)
        expected = start - code @ matrix if subtract else code @ matrix
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


def test_a_product_of_mismatched_shapes_is_refused():
    counts = np.zeros(4, np.intp)
    with pytest.raises(ValueError, match="do not match"):
        _fused.code_product(None, torch.zeros(4, 5), torch.zeros(6, 3), torch.zeros(4, 3), counts)


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
    calls = []
    original = fused.lista_forward
    monkeypatch.setattr(fused, "lista_forward", lambda *args: calls.append(1) or original(*args))
    with torch.no_grad():
        assert torch.equal(network(X), original(network, X))
        torch_code = network._forward_in_place_torch(X)
    assert calls == [1]
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
    assert calls == [1]


def test_a_kernel_that_fails_to_compile_warns_and_leaves_the_torch_pass(monkeypatch):
    import numba

    from sklearn_lsc import _fused_kernels

    network, X = network_and_signals(torch.float64, 3)

    def fails(*args):
        raise numba.core.errors.TypingError("no such platform")

    monkeypatch.setattr(_fused, "_kernels", _fused._available_kernels())  # restored after
    monkeypatch.setattr(_fused_kernels, "shrink", fails)
    with torch.no_grad(), pytest.warns(UserWarning, match="could not compile"):
        code = network(X)
    with torch.no_grad():
        torch.testing.assert_close(code, network._forward_in_place_torch(X), rtol=0, atol=0)
    assert not fused.applies(network, X)  # off for the session


def rescaled_and_lbcofb(alpha):
    """A rescaled LISTA and an LBCoFB on a dictionary of 48 atoms, with signals."""
    from sklearn_lsc._networks import LBCoFB, RescaledLISTA

    network, X = network_and_signals(torch.float64, 3)
    groups = HiLassoPenalty(alpha, torch.arange(48) // 8, torch.full((6,), 0.05, dtype=X.dtype))
    return [
        RescaledLISTA(network.dictionary, L1Penalty(alpha), 3),
        LBCoFB(network.dictionary, groups, 3),
    ], X


@pytest.mark.parametrize("kind", ["lista", "rescaled", "lbcofb"])
def test_the_thresholds_counts_send_sparse_rows_to_the_sparse_product(monkeypatch, kind):
    # At the default density: every product with the codes gets each row's
    # true count (from the threshold), and some rows are sparse enough.
    seen = []
    original = _fused.code_product

    def checking(kernels, code, matrix, out, counts, start=None, also=None):
        np.testing.assert_array_equal(counts, (code != 0).sum(dim=1).numpy())
        seen.append(int((counts <= int(_fused.SPARSE_DENSITY * code.shape[1])).sum()))
        return original(kernels, code, matrix, out, counts, start, also)

    monkeypatch.setattr(_fused, "code_product", checking)
    alpha = 0.3  # most of the 48 codes zero
    if kind == "lista":
        network, X = network_and_signals(torch.float64, 3)
    else:
        networks, X = rescaled_and_lbcofb(alpha)
        network = networks[kind == "lbcofb"]
    with torch.no_grad():
        code = network(X)
        assert code.dtype == X.dtype
    assert len(seen) >= 2 and all(count > 0 for count in seen)

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
