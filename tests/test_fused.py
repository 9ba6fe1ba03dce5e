"""The fused numba kernels of rescaled LISTA's inference pass against its torch pass."""

import copy
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from sklearn_lsc import LearnedLassoEncoder
from sklearn_lsc import _fused as fused
from sklearn_lsc._networks import RescaledLISTA
from sklearn_lsc._penalties import HiLassoPenalty, L1Penalty

pytest.importorskip("numba")


def network_and_signals(
    dtype, n_layers, seed=0, n_samples=300, n_features=20, n_components=48, positive=False
):
    """A rescaled LISTA moved away from its untrained values, and signals for it."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features))
    D *= rng.uniform(0.5, 2.0, size=(n_components, 1))
    shape = (n_samples, n_components)
    codes = rng.standard_normal(shape) * (rng.random(shape) < 0.1)
    X = codes @ D + 0.1 * rng.standard_normal((n_samples, n_features))
    X[3] = 0.0  # all-zero codes: the plane's factor is 0, not 0 / 0
    if positive:  # nonnegative codes of a nonnegative dictionary
        D, codes = np.abs(D), np.abs(codes)
        X = codes @ D + 0.1 * rng.standard_normal((n_samples, n_features))
        X[3] = 0.0
    penalty = L1Penalty(0.3, positive=positive)
    network = RescaledLISTA(torch.tensor(D, dtype=dtype), penalty, n_layers)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=dtype)
            parameter.mul_(1 + 0.2 * noise).add_(0.02 * noise)
        network.theta[-1, 0] = -1.0  # a negative threshold acts as zero
    return network, torch.tensor(X, dtype=dtype)


# (n_features, n_components, whether the layers run in the code's space):
# overcomplete dictionaries run in the signal's space, small ones in the code's.
SHAPES = [(20, 48, False), (40, 12, True), (64, 32, True)]


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_layers", [2, 3, 5])
@pytest.mark.parametrize("n_features, n_components, in_code_space", SHAPES)
def test_fused_pass_equals_the_torch_pass(
    dtype, n_layers, positive, n_features, n_components, in_code_space, code_products
):
    # Against the torch pass in float64 (the kernels sum the plane's inner
    # products in float64: in float32 they are closer to it than the float32
    # torch pass, which on an ill-conditioned row of this problem is further off).
    network, X = network_and_signals(
        dtype, n_layers, positive=positive, n_features=n_features, n_components=n_components
    )
    original = X.clone()
    assert fused.applies(network, X)
    assert ("gram" in fused._prepare(network)) == in_code_space
    with torch.no_grad():
        exact = copy.deepcopy(network).double()._forward_in_place_torch(X.double())
        rounded = network._forward_in_place_torch(X)
        code = fused.rescaled_lista_forward(network, X)
    assert code.dtype == dtype and code.shape == exact.shape
    scale = float(exact.abs().max())
    tolerance = 2e-5 * scale if dtype == torch.float32 else 1e-12 * scale
    torch.testing.assert_close(code.double(), exact, rtol=0, atol=tolerance)
    error, torch_error = ((result.double() - exact).abs().max() for result in (code, rounded))
    assert error <= torch_error + tolerance
    assert torch.count_nonzero(code) > 0 and not code[3].any()
    assert torch.equal(X, original)  # input untouched
    if positive:
        assert code.min() >= 0
        # The constraint is active: without it the same network's codes go negative.
        signed = copy.deepcopy(network)
        signed.penalty.positive = False
        with torch.no_grad():
            assert fused.rescaled_lista_forward(signed, X).min() < 0


def test_network_uses_the_fused_pass_and_the_switch_turns_it_off(monkeypatch):
    network, X = network_and_signals(torch.float32, 4)
    with torch.no_grad():
        fused_code = network(X)
        torch_code = network._forward_in_place_torch(X)
    assert torch.equal(fused_code, fused.rescaled_lista_forward(network, X))
    assert not torch.equal(fused_code, torch_code)  # rounding differs: it is another pass
    monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")
    assert not fused.applies(network, X)
    with torch.no_grad():
        assert torch.equal(network(X), torch_code)


def test_fused_pass_applies_only_where_it_is_defined():
    network, X = network_and_signals(torch.float32, 3)
    assert not fused.applies(network, X.double())  # dtype other than the network's
    assert not fused.applies(network, X.to(torch.bfloat16))
    single, X_single = network_and_signals(torch.float32, 1)
    assert not fused.applies(single, X_single)  # one layer: nothing to fuse
    grouped = RescaledLISTA(
        network.dictionary, HiLassoPenalty(0.3, torch.arange(48) // 4, torch.full((12,), 0.1)), 3
    )
    assert not fused.applies(grouped, X)


@pytest.mark.parametrize("n_features, n_components, in_code_space", SHAPES)
def test_returned_codes_are_not_reused_buffers(n_features, n_components, in_code_space):
    # The kernels reuse their buffers from call to call: a returned code must
    # not change when the network codes other signals, of the same or
    # another batch shape.
    for n_layers in (2, 3):
        network, X = network_and_signals(
            torch.float32, n_layers, n_features=n_features, n_components=n_components
        )
        with torch.no_grad():
            first = network(X)
            kept = first.clone()
            network(X.flip(0))
            shorter = network(X[:7])  # views of the longer batch's buffers
            torch.testing.assert_close(first, kept, rtol=0, atol=0)
            torch.testing.assert_close(shorter, kept[:7], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n_features, n_components, in_code_space", SHAPES)
def test_a_parameter_change_is_followed(n_features, n_components, in_code_space):
    network, X = network_and_signals(
        torch.float64, 3, n_features=n_features, n_components=n_components
    )
    with torch.no_grad():
        before = network(X)
        network.theta.mul_(1.5)  # in place: the kernels' prepared weights are stale
        network.correction.add_(0.1)
        after = network(X)
        expected = network._forward_in_place_torch(X)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_features, n_components, in_code_space", SHAPES)
def test_a_dictionary_change_is_followed(n_features, n_components, in_code_space):
    network, X = network_and_signals(
        torch.float64, 3, n_features=n_features, n_components=n_components
    )
    with torch.no_grad():
        before = network(X)
        network.set_dictionary(network.dictionary * 1.1)
        after = network(X)
        expected = network._forward_in_place_torch(X)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_features, n_components, in_code_space", SHAPES)
def test_buffers_made_under_inference_mode_serve_later_calls_outside_it(
    n_features, n_components, in_code_space
):
    # transform runs under inference mode, fit's validation loss under
    # no_grad: the reused buffers must be ordinary tensors.
    network, X = network_and_signals(
        torch.float32, 3, n_samples=123, n_features=n_features, n_components=n_components
    )  # new buffers
    with torch.inference_mode():
        first = network(X.flip(0))
    with torch.no_grad():
        second = network(X.flip(0))
    torch.testing.assert_close(first, second, rtol=0, atol=0)


@pytest.mark.parametrize("n_features, n_components, in_code_space", SHAPES)
def test_concurrent_calls_from_threads_give_each_its_own_codes(
    n_features, n_components, in_code_space
):
    network, X = network_and_signals(
        torch.float32, 4, n_samples=400, n_features=n_features, n_components=n_components
    )
    batches = [X[start::4].contiguous() for start in range(4)]
    with torch.no_grad():
        expected = [network(batch) for batch in batches]
    results = [None] * len(batches)

    def code(index):
        with torch.no_grad():
            for _ in range(5):
                results[index] = network(batches[index])

    threads = [threading.Thread(target=code, args=(index,)) for index in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result, reference in zip(results, expected, strict=True):
        assert torch.equal(result, reference)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features, n_components", [(16, 40), (40, 12)])
def test_encoder_codes_match_with_and_without_the_kernels(
    monkeypatch, dtype, n_features, n_components
):
    rng = np.random.default_rng(0)
    D = rng.standard_normal((n_components, n_features))
    shape = (200, n_components)
    X = (rng.standard_normal(shape) * (rng.random(shape) < 0.1)) @ D
    X = X.astype(dtype)
    encoder = LearnedLassoEncoder(dictionary=D, alpha=0.5, max_iter=5, random_state=0).fit(X)
    assert encoder.architecture_ == "rescaled_lista"  # "auto" on 200 rows: no trial
    with_kernels = encoder.transform(X)
    monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")
    without = encoder.transform(X)
    assert with_kernels.dtype == dtype
    tolerance = 1e-4 if dtype == np.float32 else 1e-10

    # Where a layer's two candidate points have objectives within float32's
    # rounding of each other, the passes may take different ones: the codes
    # then differ by more than rounding, the objectives do not.
    def objectives(code):
        code = code.astype(np.float64)
        return 0.5 * ((X - code @ D) ** 2).sum(axis=1) + 0.5 * np.abs(code).sum(axis=1)

    np.testing.assert_allclose(objectives(with_kernels), objectives(without), rtol=tolerance)
    same = np.all(np.isclose(with_kernels, without, rtol=tolerance, atol=tolerance), axis=1)
    assert same.mean() >= (0.98 if dtype == np.float32 else 1.0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_process_forked_after_the_kernels_ran_takes_the_torch_pass():
    # The kernels' OpenMP runtime does not survive a fork. (torch's own
    # parallel products hang in such a child on some machines too, so the
    # child only asks which pass it would take.)
    network, X = network_and_signals(torch.float32, 3)
    with torch.no_grad():
        network(X)
    assert fused.applies(network, X)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and leave without running anything else
        os.write(write, b"1" if fused.applies(network, X) else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"0"
    assert fused.applies(network, X)  # the parent keeps its kernels


def test_without_numba_the_network_takes_the_torch_pass():
    # numba made unimportable in a fresh interpreter: the kernels do not
    # apply, and the network's codes are its torch pass's.
    script = (
        "import sys; sys.modules['numba'] = None\n"
        "import torch\n"
        "from sklearn_lsc import _fused\n"
        "from sklearn_lsc._networks import RescaledLISTA\n"
        "torch.manual_seed(0)\n"
        "D, X = torch.randn(12, 5), torch.randn(40, 5)\n"
        "network = RescaledLISTA(D, 0.1, 3)\n"
        "assert not _fused.applies(network, X)\n"
        "with torch.no_grad():\n"
        "    assert torch.equal(network(X), network._forward_in_place_torch(X))\n"
        "print('torch pass')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "torch pass"
