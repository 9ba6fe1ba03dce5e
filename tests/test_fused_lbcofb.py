"""LBCoFB's fused inference kernel against its torch passes, on partitions and trees."""

import copy

import numpy as np
import pytest
import torch

from sklearn_lsc import _fused_lbcofb as fused
from sklearn_lsc._groups import check_group_tree, group_index, tree_membership
from sklearn_lsc._networks import LBCoFB
from sklearn_lsc._penalties import HiLassoPenalty, TreePenalty

pytest.importorskip("numba")

N_COMPONENTS = 12
# Partitions: contiguous equal blocks, and groups whose atoms are scattered.
CONTIGUOUS = [np.arange(4 * g, 4 * g + 4) for g in range(3)]
SCATTERED = [np.arange(g, N_COMPONENTS, 3) for g in range(3)]
# Trees: a root {0..7} holding {0,1,2} (holding {1,2}), {3,4,5} and {6,7}, a
# root {9,10}, atoms 8 and 11 in none; and equal contiguous blocks in two depths.
TREE = [np.arange(8), np.array([0, 1, 2]), np.array([1, 2]), np.array([3, 4, 5]),
        np.array([6, 7]), np.array([9, 10])]  # fmt: skip
LAYERED = [np.arange(6), np.arange(6, 12), *(np.arange(3 * k, 3 * k + 3) for k in range(4))]
# A tree whose groups are scattered: roots {0,2,4,6,8,10} (holding {0,2} and
# {4,6}) and {1,3,5}; atoms 7, 9 and 11 in none.
SCATTERED_TREE = [np.arange(0, 12, 2), np.array([0, 2]), np.array([4, 6]), np.array([1, 3, 5])]
LAYOUTS = {
    "contiguous": CONTIGUOUS,
    "scattered": SCATTERED,
    "tree": TREE,
    "layered": LAYERED,
    "scattered tree": SCATTERED_TREE,
}
# Whether each layout's groups, and its blocks, are single runs of atoms (the
# kernel's shortcuts; the others sum over runs).
RUNS = {
    "contiguous": (True, True),
    "scattered": (False, False),
    "tree": (True, True),
    "layered": (True, True),
    "scattered tree": (False, False),
}


def penalty_of(groups, positive, dtype):
    penalties = torch.linspace(0.1, 0.4, len(groups), dtype=dtype)
    if any(groups is tree for tree in (TREE, LAYERED, SCATTERED_TREE)):
        tree = check_group_tree(groups, N_COMPONENTS)
        membership = torch.as_tensor(tree_membership(tree, N_COMPONENTS))
        return TreePenalty(0.1, membership, penalties, positive=positive)
    index = torch.as_tensor(group_index(groups, N_COMPONENTS))
    return HiLassoPenalty(0.1, index, penalties, positive=positive)


def network_and_signals(groups, dtype, n_layers, positive=False, seed=0, n_samples=60):
    """An LBCoFB moved away from its untrained values (some thresholds negative)."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((N_COMPONENTS, 8))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    if positive:
        D = np.abs(D)
    X = rng.standard_normal((n_samples, 8))
    X[3] = 0.0  # every block moves by zero: the first block is taken, the code stays zero
    network = LBCoFB(torch.tensor(D, dtype=dtype), penalty_of(groups, positive, dtype), n_layers)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=dtype)
            parameter.mul_(1 + 0.3 * noise)
        network.t[0, 0] = -0.5  # a negative threshold acts as zero
        network.s[-1, 0] = -0.05  # a negative group threshold scales the group up
    return network, torch.tensor(X, dtype=dtype)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_layers", [1, 3, 5])
@pytest.mark.parametrize("positive", [False, True])
def test_the_kernel_gives_the_dense_forward_codes(
    layout, dtype, n_layers, positive, code_products
):
    network, X = network_and_signals(LAYOUTS[layout], dtype, n_layers, positive)
    original = X.clone()
    assert fused.applies(network, X)
    prepared = fused._prepare(network)
    assert (prepared["layout"][-1], prepared["blocks"][-1]) == RUNS[layout]
    with torch.no_grad():
        code = fused.lbcofb_forward(network, X)
        exact = copy.deepcopy(network).double()._forward_dense(X.double())
    assert code.dtype == dtype and code.shape == exact.shape
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(code.double(), exact, rtol=tolerance, atol=tolerance)
    assert torch.count_nonzero(code) > 0 and (code == 0).any() and not code[3].any()
    assert torch.equal(X, original)
    if positive:
        assert code.min() >= 0


def test_the_network_takes_the_kernel_only_where_it_applies(monkeypatch):
    network, X = network_and_signals(TREE, torch.float64, 3)
    with torch.no_grad():
        assert torch.equal(network(X), fused.lbcofb_forward(network, X))
        sets = torch.arange(X.shape[0]) // 3  # collaborative: the plain forward, jointly
        torch.testing.assert_close(
            network(X, sets=sets), network._forward_dense(X, network.penalty.with_sets(sets))
        )
    assert not fused.applies(network, X.float())  # another dtype than the network's
    monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")
    assert not fused.applies(network, X)
    with torch.no_grad():
        assert torch.equal(network(X), network._forward_dense(X))  # the torch pass


def test_codes_are_not_reused_buffers_and_parameter_changes_are_followed():
    network, X = network_and_signals(SCATTERED, torch.float64, 3)
    with torch.no_grad():
        first = network(X)
        kept = first.clone()
        network(X.flip(0))
        shorter = network(X[:5])  # views of the longer batch's buffers
        assert torch.equal(first, kept)
        torch.testing.assert_close(shorter, kept[:5], rtol=1e-12, atol=1e-12)
        network.s.mul_(2.0)  # in place: the prepared thresholds are stale
        network.W.mul_(0.9)
        after = network(X)
        expected = network._forward_dense(X)
    assert not torch.allclose(first, after)
    torch.testing.assert_close(after, expected, rtol=1e-12, atol=1e-12)


def test_runs_describe_every_layout():
    labels = np.array([[0, 0, 1, 1, 3, 0], [2, 2, 2, 2, 3, 3]])
    starts, ends, run_labels, row_runs = fused.runs_of(labels)
    assert starts.tolist() == [0, 2, 4, 5, 0, 4] and ends.tolist() == [2, 4, 5, 6, 4, 6]
    assert run_labels.tolist() == [0, 1, 3, 0, 2, 3] and row_runs.tolist() == [0, 4, 6]
    assert all(part.dtype == np.uintp for part in (starts, ends, run_labels, row_runs))


def test_a_kernel_that_fails_to_compile_warns_and_leaves_the_torch_pass(monkeypatch):
    import numba

    from sklearn_lsc import _fused, _fused_kernels

    network, X = network_and_signals(TREE, torch.float64, 3)

    def fails(*args):
        raise numba.core.errors.TypingError("no such platform")

    monkeypatch.setattr(_fused, "_kernels", _fused._available_kernels())  # restored after
    monkeypatch.setattr(_fused_kernels, "prox_and_select", fails)
    with torch.no_grad(), pytest.warns(UserWarning, match="could not compile"):
        code = network(X)
    torch.testing.assert_close(code, network._forward_dense(X), rtol=0, atol=0)
    assert not fused.applies(network, X)  # off for the session


@pytest.mark.parametrize("groups", [TREE, CONTIGUOUS], ids=["tree", "partition"])
def test_encoder_codes_match_with_and_without_the_kernel(monkeypatch, groups):
    from sklearn_lsc import LearnedHiLassoEncoder, _inference

    rng = np.random.default_rng(3)
    D = rng.standard_normal((N_COMPONENTS, 8))
    X = rng.standard_normal((150, 8))
    encoder = LearnedHiLassoEncoder(
        dictionary=D, groups=groups, alpha=0.05, group_alpha=0.1, architecture="bcofb",
        n_layers=3, max_iter=3, random_state=0,
    ).fit(X)  # fmt: skip
    monkeypatch.setattr(_inference, "_TRANSFORM_BATCH_ELEMENTS", {"cpu": 40 * 20})  # 4 batches
    with_kernel = encoder.transform(X)
    monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")
    without = encoder.transform(X)
    np.testing.assert_allclose(with_kernel, without, rtol=1e-10, atol=1e-10)
    assert np.count_nonzero(with_kernel) > 0
