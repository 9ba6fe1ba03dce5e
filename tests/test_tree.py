"""Tree-structured groups (any two disjoint or nested, atoms possibly in none): parsing,
the penalty and its prox, the solvers, the networks and the structured estimators."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from _reference import tree_bcofb_reference, tree_ista_reference, tree_prox_reference

from sklearn_lsc import (
    LearnedHiLassoEncoder,
    OnlineSparseModeler,
    hilasso_objective,
    sparse_encode,
)
from sklearn_lsc._groups import check_group_tree, is_partition, tree_membership
from sklearn_lsc._networks import LBCoFB, RescaledLISTA, StructuredISTA
from sklearn_lsc._penalties import HiLassoPenalty, TreePenalty, group_penalty

# Twelve atoms: a root {0..7} holding {0,1,2} (holding {1,2}), {3,4,5} and
# {6,7}; a second root {9,10}; atoms 8 and 11 in no group.
TREE = [
    np.arange(0, 8),
    np.array([0, 1, 2]),
    np.array([1, 2]),
    np.array([3, 4, 5]),
    np.array([6, 7]),
    np.array([9, 10]),
]
PENALTIES = np.array([0.4, 0.3, 0.2, 0.5, 0.1, 0.3])


def tree_penalty(alpha=0.1, penalties=PENALTIES, groups=TREE):
    membership = torch.as_tensor(tree_membership(check_group_tree(groups, 12), 12))
    return TreePenalty(alpha, membership, torch.as_tensor(penalties, dtype=torch.float64))


def problem(seed=0, n_samples=30):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((12, 8))
    return rng.standard_normal((n_samples, 8)), D / np.linalg.norm(D, axis=1, keepdims=True)


def test_trees_are_parsed_and_overlaps_refused():
    parsed = check_group_tree(TREE, 12)
    assert not is_partition(parsed, 12)
    assert is_partition(check_group_tree(3, 12), 12)
    membership = tree_membership(parsed, 12)
    # Deepest first: {1,2} alone at depth 2; {0,1,2}, {3,4,5}, {6,7} at depth 1.
    np.testing.assert_array_equal(membership[0], [6, 2, 2] + [6] * 9)
    np.testing.assert_array_equal(membership[1], [1, 1, 1, 3, 3, 3, 4, 4, 6, 6, 6, 6])
    np.testing.assert_array_equal(membership[2], [0] * 8 + [6, 5, 5, 6])
    with pytest.raises(ValueError, match="overlap without one holding the other"):
        check_group_tree([[0, 1, 2], [2, 3]], 5)
    with pytest.raises(ValueError, match="lists the same group twice"):
        check_group_tree([[0, 1], [1, 0]], 5)
    with pytest.raises(ValueError, match="lists an atom twice"):
        check_group_tree([[0, 0]], 5)


def test_the_tree_penalty_against_references():
    penalty = tree_penalty()
    rng = np.random.default_rng(1)
    code = rng.standard_normal((7, 12)) * (rng.random((7, 12)) < 0.6)
    value = 0.1 * np.abs(code).sum(1) + sum(
        p * np.linalg.norm(code[:, g], axis=1) for g, p in zip(TREE, PENALTIES, strict=True)
    )
    np.testing.assert_allclose(penalty.value(torch.tensor(code)).numpy(), value, atol=1e-12)
    values = 2 * rng.standard_normal((7, 12))
    expected = np.array([tree_prox_reference(v, 0.1 * 0.7, TREE, PENALTIES * 0.7) for v in values])
    np.testing.assert_allclose(penalty.prox(torch.tensor(values), 0.7).numpy(), expected)
    in_place = torch.tensor(values)
    penalty.prox_in_place(in_place, 0.7, torch.empty_like(in_place))
    np.testing.assert_allclose(in_place.numpy(), expected)


def test_the_tree_prox_minimises_its_problem():
    # Independent of the composition rule: the prox beats every nearby point.
    rng = np.random.default_rng(2)
    penalty = tree_penalty()
    values = torch.tensor(2 * rng.standard_normal((6, 12)))
    proximal = penalty.prox(values, 0.8)
    assert (proximal == 0).any() and (proximal != 0).any()

    def problem_value(z):
        return 0.5 * ((z - values) ** 2).sum(dim=1) + 0.8 * penalty.value(z)

    best = problem_value(proximal)
    for _ in range(300):
        nearby = proximal + 1e-3 * torch.tensor(rng.standard_normal((6, 12)))
        assert torch.all(problem_value(nearby) >= best - 1e-12)


def test_on_a_partition_the_tree_penalty_is_the_hilasso_penalty():
    groups = [np.arange(0, 4), np.arange(4, 9), np.arange(9, 12)]
    penalties = torch.tensor([0.2, 0.5, 0.1], dtype=torch.float64)
    tree = TreePenalty(0.1, torch.as_tensor(tree_membership(groups, 12)), penalties)
    hilasso = group_penalty(0.1, groups, 12, penalties)
    assert isinstance(hilasso, HiLassoPenalty)
    rng = np.random.default_rng(3)
    step, code = (torch.tensor(rng.standard_normal((5, 12))) for _ in range(2))
    torch.testing.assert_close(tree.value(code), hilasso.value(code))
    torch.testing.assert_close(tree.prox(step, 0.6), hilasso.prox(step, 0.6))
    torch.testing.assert_close(tree.linearised(step, code), hilasso.linearised(step, code))
    torch.testing.assert_close(tree.block_index, hilasso.block_index)


def test_blocks_are_the_root_groups_and_the_free_atoms():
    penalty = tree_penalty()
    blocks = penalty.block_index.numpy()
    assert penalty.n_blocks == 4  # {0..7}, {9,10}, {8}, {11}
    assert len(set(blocks[:8])) == 1 and blocks[9] == blocks[10]
    assert len({blocks[0], blocks[8], blocks[9], blocks[11]}) == 4


@pytest.mark.parametrize("algorithm", ["fista", "ista", "bcofb"])
def test_every_solver_reaches_the_tree_optimum(algorithm):
    X, D = problem()
    options = dict(alpha=0.1, groups=TREE, group_alpha=1.0, group_weights=PENALTIES)
    code = sparse_encode(X, D, algorithm=algorithm, max_iter=50_000, tol=1e-12, **options)
    # An independent solver: plain per-row ISTA with the reference prox.
    reference = tree_ista_reference(X, D, 0.1, TREE, PENALTIES, 3000)
    np.testing.assert_allclose(code, reference, atol=1e-6)
    objective = hilasso_objective(X, code, D, **options)
    assert objective <= hilasso_objective(X, reference, D, **options) + 1e-10
    # The tree changes the codes: atoms in no group are only l1-penalised.
    assert np.abs(code - sparse_encode(X, D, alpha=0.1)).max() > 1e-3


def test_hilasso_objective_sums_over_every_listed_group():
    X, D = problem(4)
    code = np.random.default_rng(4).standard_normal((30, 12))
    expected = np.mean(
        0.5 * ((X - code @ D) ** 2).sum(1)
        + 0.1 * np.abs(code).sum(1)
        + sum(p * np.linalg.norm(code[:, g], axis=1) for g, p in zip(TREE, PENALTIES, strict=True))
    )
    objective = hilasso_objective(
        X, code, D, alpha=0.1, groups=TREE, group_alpha=1.0, group_weights=PENALTIES
    )
    np.testing.assert_allclose(objective, expected)


@pytest.mark.parametrize("n_layers", [1, 3])
def test_untrained_tree_networks_equal_their_algorithms(n_layers):
    X, D = problem(5, n_samples=10)
    penalty = tree_penalty()
    with torch.no_grad():
        ista = StructuredISTA(torch.tensor(D), penalty, n_layers)(torch.tensor(X)).numpy()
        bcofb = LBCoFB(torch.tensor(D), penalty, n_layers)(torch.tensor(X)).numpy()
    np.testing.assert_allclose(ista, tree_ista_reference(X, D, 0.1, TREE, PENALTIES, n_layers))
    np.testing.assert_allclose(
        bcofb, tree_bcofb_reference(X, D, 0.1, TREE, PENALTIES, n_layers), atol=1e-12
    )


def test_rescaled_lista_chooses_its_points_on_the_tree_objective():
    X, D = problem(6)
    network = RescaledLISTA(torch.tensor(D), tree_penalty(), 3).double()
    with torch.no_grad():
        code = network(torch.tensor(X))
        # Every layer's output is its own best multiple on the whole penalty:
        # no factor c > 0 lowers 0.5 ||x - c z D||^2 + c P(z).
        image = code @ torch.tensor(D)
        fit = (torch.tensor(X) * image).sum(1)
        best = (fit - network.penalty.value(code)) / (image * image).sum(1).clamp_min(1e-30)
    np.testing.assert_allclose(best[code.abs().sum(1) > 0].numpy(), 1.0, atol=1e-8)


@pytest.mark.parametrize("architecture", ["bcofb", "ista", "rescaled_lista"])
def test_the_structured_encoder_learns_tree_codes(architecture):
    X, D = problem(7, n_samples=600)
    params = dict(
        dictionary=D, groups=TREE, alpha=0.1, group_alpha=0.5, group_weights=PENALTIES,
        architecture=architecture, random_state=0,
    )  # fmt: skip
    encoder = LearnedHiLassoEncoder(max_iter=30, **params).fit(X[:500])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        untrained = LearnedHiLassoEncoder(max_iter=1, **params).fit(X[:500])
    assert isinstance(encoder.network_.penalty, TreePenalty)
    assert encoder.score(X[500:]) > untrained.score(X[500:])
    # Energies per listed group, nested ones included.
    code = encoder.transform(X[500:])
    expected = np.stack([np.linalg.norm(code[:, g], axis=1) for g in TREE], axis=1)
    np.testing.assert_allclose(encoder.group_energies(X[500:]), expected, rtol=1e-5, atol=1e-6)
    restored = pickle.loads(pickle.dumps(encoder))
    np.testing.assert_array_equal(restored.transform(X[500:]), code)


def test_online_modeling_with_a_tree_of_groups():
    X, _ = problem(8, n_samples=400)
    modeler = OnlineSparseModeler(
        n_components=12, groups=TREE, alpha=0.05, group_alpha=0.1, window_size=100,
        step_size=50, random_state=0,
    ).fit(X)  # fmt: skip
    assert isinstance(modeler.network_.penalty, TreePenalty)
    code = modeler.transform(X)
    expected = np.stack([np.linalg.norm(code[:, g], axis=1) for g in TREE], axis=1)
    np.testing.assert_allclose(modeler.group_energies(X), expected, rtol=1e-5, atol=1e-6)
    lasso = OnlineSparseModeler(n_components=12, window_size=100, step_size=50).fit(X)
    with pytest.raises(ValueError, match="group_energies needs groups"):
        lasso.group_energies(X)


def test_partially_overlapping_groups_are_refused_by_the_estimators():
    X, D = problem(9)
    encoder = LearnedHiLassoEncoder(dictionary=D, groups=[[0, 1, 2], [2, 3]], max_iter=1)
    with pytest.raises(ValueError, match="disjoint or nested"):
        encoder.fit(X)
    assert not hasattr(encoder, "network_")


# Depths of equal contiguous blocks covering every atom: the penalty's
# reshaped (scatter-free) path, and contiguous root blocks for BCoFB.
LAYERED = [np.arange(0, 6), np.arange(6, 12), *(np.arange(3 * k, 3 * k + 3) for k in range(4))]
LAYERED_PENALTIES = np.array([0.4, 0.3, 0.2, 0.5, 0.1, 0.3])


def test_a_tree_of_equal_contiguous_blocks_takes_the_reshaped_path():
    penalty = tree_penalty(penalties=LAYERED_PENALTIES, groups=LAYERED)
    assert penalty._depth_sizes == [3, 6] and penalty.block_size == 6
    assert tree_penalty()._depth_sizes == [None, None, None]
    rng = np.random.default_rng(8)
    values = 2 * rng.standard_normal((7, 12))
    expected = np.array(
        [tree_prox_reference(v, 0.1 * 0.7, LAYERED, LAYERED_PENALTIES * 0.7) for v in values]
    )
    np.testing.assert_allclose(penalty.prox(torch.tensor(values), 0.7).numpy(), expected)
    assert (expected == 0).any() and (expected != 0).any()
    X, D = problem(9, n_samples=10)
    network = LBCoFB(torch.tensor(D), penalty, 3)
    with torch.no_grad():  # inference: the in-place pass over the root blocks
        bcofb = network(torch.tensor(X)).numpy()
        dense = network._forward_dense(torch.tensor(X)).numpy()
    expected = tree_bcofb_reference(X, D, 0.1, LAYERED, LAYERED_PENALTIES, 3)
    np.testing.assert_allclose(bcofb, expected, atol=1e-12)
    np.testing.assert_allclose(dense, expected, atol=1e-12)
    # Differentiable through the reshaped path.
    network = StructuredISTA(torch.tensor(D), penalty, 2)
    network(torch.tensor(X)).pow(2).sum().backward()
    assert torch.isfinite(network.W.grad).all() and network.W.grad.abs().sum() > 0
