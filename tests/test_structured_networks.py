"""Untrained structured networks equal their algorithms, run by hand in numpy."""

import numpy as np
import pytest
import torch
from _reference import bcofb_reference, structured_ista_reference

from sklearn_lsc import sparse_encode
from sklearn_lsc._groups import group_index
from sklearn_lsc._networks import LBCoFB, StructuredISTA
from sklearn_lsc._penalties import HiLassoPenalty

GROUPS = [np.arange(0, 4), np.arange(4, 10), np.arange(10, 12), np.arange(12, 16)]
# Equal contiguous blocks take the networks' reshape fast path.
EQUAL_GROUPS = [np.arange(4 * g, 4 * g + 4) for g in range(4)]
PENALTIES = np.array([0.3, 0.5, 0.2, 0.4])


def problem(seed=0, n_samples=10, n_components=16, n_features=9):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features)) * rng.uniform(0.5, 1.5, (n_components, 1))
    return rng.standard_normal((n_samples, n_features)), D


def structured_ista(D, n_layers, groups=GROUPS, positive=False):
    index = torch.as_tensor(group_index(groups, D.shape[0]))
    penalty = HiLassoPenalty(0.2, index, torch.tensor(PENALTIES), positive=positive)
    return StructuredISTA(torch.tensor(D), penalty, n_layers)


def lbcofb(D, n_layers, groups=GROUPS, positive=False):
    index = torch.as_tensor(group_index(groups, D.shape[0]))
    penalty = HiLassoPenalty(0.2, index, torch.tensor(PENALTIES), positive=positive)
    return LBCoFB(torch.tensor(D), penalty, n_layers)


@pytest.mark.parametrize("positive", [False, True], ids=["signed", "nonnegative"])
@pytest.mark.parametrize("groups", [GROUPS, EQUAL_GROUPS], ids=["unequal", "equal"])
@pytest.mark.parametrize("n_layers", [1, 2, 6])
def test_untrained_structured_ista_equals_hilasso_ista(n_layers, groups, positive):
    X, D = problem()
    network = structured_ista(D, n_layers, groups, positive)
    assert network.group_size == (4 if groups is EQUAL_GROUPS else None)
    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
    expected = structured_ista_reference(X, D, 0.2, groups, PENALTIES, n_layers, positive)
    np.testing.assert_allclose(code, expected, atol=1e-12)
    assert (code == 0).any() and (code != 0).any()
    assert not positive or code.min() == 0


@pytest.mark.parametrize("positive", [False, True], ids=["signed", "nonnegative"])
@pytest.mark.parametrize("groups", [GROUPS, EQUAL_GROUPS], ids=["unequal", "equal"])
@pytest.mark.parametrize("n_layers", [1, 3, 8])
def test_untrained_lbcofb_equals_bcofb_block_updates(n_layers, groups, positive):
    X, D = problem(1)
    network = lbcofb(D, n_layers, groups, positive)
    assert network.group_size == (4 if groups is EQUAL_GROUPS else None)
    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
    expected = bcofb_reference(X, D, 0.2, groups, PENALTIES, n_layers, positive)
    np.testing.assert_allclose(code, expected, atol=1e-12)


def test_lbcofb_with_n_groups_layers_is_one_solver_iteration():
    X, D = problem(2)
    with torch.no_grad():
        code = lbcofb(D, len(GROUPS))(torch.tensor(X)).numpy()
    # group_alpha * group_weights = PENALTIES with group_alpha = 1.
    solver = sparse_encode(
        X,
        D,
        alpha=0.2,
        algorithm="bcofb",
        groups=GROUPS,
        group_alpha=1.0,
        group_weights=PENALTIES,
        max_iter=1,
        tol=0.0,
    )
    np.testing.assert_allclose(code, solver, atol=1e-12)


@pytest.mark.parametrize("make", [structured_ista, lbcofb])
def test_gradients_reach_every_parameter_and_are_finite(make):
    X, D = problem(3)
    X[0] = 0.0  # an all-zero code: the group norm's gradient must stay finite
    network = make(D, 3)
    X_tensor = torch.tensor(X)
    code = network(X_tensor)
    loss = 0.5 * (X_tensor - code @ torch.tensor(D)).pow(2).sum() + code.abs().sum()
    loss.backward()
    for name, parameter in network.named_parameters():
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("make", [structured_ista, lbcofb])
def test_rows_are_coded_independently_of_the_batch(make):
    X, D = problem(4)
    network = make(D, 4)
    with torch.no_grad():
        whole = network(torch.tensor(X))
        one_by_one = torch.cat([network(torch.tensor(X[i : i + 1])) for i in range(len(X))])
    torch.testing.assert_close(whole, one_by_one)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "n_samples, groups, n_layers",
    [(1, EQUAL_GROUPS, 5), (37, EQUAL_GROUPS, 5), (37, [np.arange(8), np.arange(8, 16)], 6),
     (37, [np.arange(16)], 3), (37, [np.arange(2 * g, 2 * g + 2) for g in range(8)], 5)],
    ids=["1 sample", "4 groups", "2 groups 6 layers", "1 group", "8 groups"],
)  # fmt: skip
def test_lbcofb_in_place_inference_equals_the_dense_forward(
    dtype, n_samples, groups, n_layers, monkeypatch
):
    # Inference with contiguous groups runs in reused buffers and forms only
    # the selected group's proximal point; it must give the dense forward's
    # codes for any parameters (here moved away from the untrained ones), with
    # all-zero rows, when some group is selected by no sample, and when layers
    # select a group the code already holds (more layers than groups). With 8
    # groups the GPUs' by-atom pass gathers the held blocks at layer 1 and
    # takes every group's move from the full arrays after.
    X, D = problem(5, n_samples=n_samples)
    if n_samples > 1:
        X[-1] = 0.0
    index = torch.as_tensor(group_index(groups, D.shape[0]))
    penalties = torch.tensor(np.resize(PENALTIES, len(groups)))
    network = LBCoFB(torch.tensor(D), HiLassoPenalty(0.2, index, penalties), n_layers).to(dtype)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in network.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=dtype)
            parameter.mul_(1 + 0.2 * noise)
        X_tensor = torch.tensor(X, dtype=dtype)
        in_place = network._forward_in_place(X_tensor)
        by_atom = network._forward_in_place_by_atom(X_tensor)  # the GPUs' layout
        dense = network._forward_dense(X_tensor)
        eager = network(X_tensor)  # on a CPU: the fused kernel where numba is installed
        monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")
        assert torch.equal(network(X_tensor), in_place)  # the path no_grad takes without it
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(in_place, dense, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(eager, dense, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(by_atom, dense, rtol=tolerance, atol=tolerance)
    assert by_atom.is_contiguous() and by_atom.dtype == dtype
    assert torch.count_nonzero(in_place) > 0 and (in_place == 0).any()


def test_lbcofb_trains_through_the_dense_forward(monkeypatch):
    X, D = problem(6)
    network = lbcofb(D, 3, EQUAL_GROUPS)

    def refuse(X):
        raise AssertionError("the in-place forward has no gradients to give")

    monkeypatch.setattr(network, "_forward_in_place", refuse)
    code = network(torch.tensor(X))  # autograd on: the dense forward
    code.sum().backward()
    assert network.W.grad is not None


def test_lbcofb_compiled_for_a_cpu_takes_the_dense_forward(monkeypatch):
    # Compiled for a CPU the in-place pass is 2x slower than the fused plain
    # one; eager inference keeps the in-place pass.
    X, D = problem(6)
    network = lbcofb(D, 3, EQUAL_GROUPS)
    X_tensor = torch.tensor(X)
    with torch.no_grad():
        expected = network._forward_dense(X_tensor)

    def refuse(X):
        raise AssertionError("the in-place forward, compiled for a CPU")

    monkeypatch.setattr(network, "_forward_in_place", refuse)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    with torch.no_grad():
        torch.testing.assert_close(network(X_tensor), expected, rtol=0, atol=0)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: False)
    monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")  # else the fused kernel runs
    with torch.no_grad(), pytest.raises(AssertionError, match="in-place"):
        network(X_tensor)
