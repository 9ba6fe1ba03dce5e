"""The penalty objects: values, proxes, linearisations, saving, and the networks that take them."""

import warnings

import numpy as np
import pytest
import torch

from sklearn_lsc._networks import NETWORKS, REGISTRY, STRUCTURED_NETWORKS
from sklearn_lsc._objectives import objective_numpy, sparse_coding_loss
from sklearn_lsc._penalties import HiLassoPenalty, L1Penalty, as_penalty
from sklearn_lsc._persistence import network_from_state, network_state, to_plain, to_tensors
from tests._reference import hilasso_prox_reference, soft

GROUPS = [np.arange(0, 3), np.arange(3, 7), np.arange(7, 12)]  # unequal: the general path
INDEX = np.repeat([0, 1, 2], [3, 4, 5])
GROUP_PENALTIES = np.array([0.3, 0.0, 0.5])


def hilasso(alpha=0.2, index=INDEX, penalties=GROUP_PENALTIES):
    return HiLassoPenalty(alpha, torch.as_tensor(index), torch.as_tensor(penalties))


def sparse_rows(seed, n_samples=9, n_components=12):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((n_samples, n_components))
    values[rng.random(values.shape) < 0.4] = 0.0
    values[0] = 0.0  # an all-zero row
    return values


def value_reference(code, alpha, groups=(), penalties=()):
    group_term = sum(
        p * np.linalg.norm(code[:, g], axis=1) for g, p in zip(groups, penalties, strict=True)
    )
    return alpha * np.abs(code).sum(axis=1) + group_term


def linearised_reference(step, code, alpha, groups=(), penalties=()):
    """``<s, code>`` with ``s`` the subgradient of the docstring, row by row."""
    out = np.empty(step.shape[0])
    for i, (g_row, z_row) in enumerate(zip(step, code, strict=True)):
        signs = np.sign(np.where(g_row != 0, g_row, z_row))
        total = alpha * signs @ z_row
        for group, p in zip(groups, penalties, strict=True):
            g, z = g_row[group], z_row[group]
            direction = g / np.linalg.norm(g) if np.any(g) else z / max(np.linalg.norm(z), 1e-300)
            total += p * direction @ z
        out[i] = total
    return out


@pytest.mark.parametrize("grouped", [False, True])
def test_values_and_linearisations_against_references(grouped):
    penalty = hilasso() if grouped else L1Penalty(0.2)
    groups, penalties = (GROUPS, GROUP_PENALTIES) if grouped else ((), ())
    step, code = sparse_rows(0), sparse_rows(1)
    step[2] = 0.0  # an all-zero step: the subgradient follows the code
    tensors = [torch.tensor(v) for v in (step, code)]
    # (Norms are clamped at 1e-15, where the gradient of an all-zero group is defined.)
    np.testing.assert_allclose(
        penalty.value(tensors[1]).numpy(),
        value_reference(code, 0.2, groups, penalties),
        atol=1e-12,
    )
    expected = linearised_reference(step, code, 0.2, groups, penalties)
    np.testing.assert_allclose(penalty.linearised(*tensors).numpy(), expected, atol=1e-12)
    # The inference path (a scratch buffer, no mask) gives the same numbers.
    scratch = torch.empty_like(tensors[0])
    np.testing.assert_allclose(penalty.linearised(*tensors, scratch).numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(
        penalty.value(tensors[1], scratch).numpy(),
        value_reference(code, 0.2, groups, penalties),
        atol=1e-12,
    )


@pytest.mark.parametrize("step", [0.5, 1.3])
def test_proxes_against_the_reference_and_in_place(step):
    values = 2 * np.random.default_rng(2).standard_normal((9, 12))
    for penalty, expected in [
        (L1Penalty(0.2), soft(values, 0.2 * step)),
        (
            hilasso(),
            np.array(
                [
                    hilasso_prox_reference(row, 0.2 * step, GROUPS, GROUP_PENALTIES * step)
                    for row in values
                ]
            ),
        ),
    ]:
        tensor = torch.tensor(values)
        np.testing.assert_allclose(penalty.prox(tensor, step).numpy(), expected, atol=1e-12)
        in_place = tensor.clone()
        returned = penalty.prox_in_place(in_place, step, torch.empty_like(in_place))
        np.testing.assert_allclose(in_place.numpy(), expected, atol=1e-12)
        assert returned.data_ptr() == in_place.data_ptr()
        np.testing.assert_array_equal(tensor.numpy(), values)  # the input is untouched


def test_the_hilasso_prox_minimises_its_problem():
    # Independent of any formula: the prox's output beats every nearby point
    # on 0.5 ||z - v||^2 + step P(z) (a convex problem: a local minimum is global).
    rng = np.random.default_rng(3)
    penalty, step = hilasso(), 0.7
    values = torch.tensor(2 * rng.standard_normal((6, 12)))
    proximal = penalty.prox(values, step)

    def problem(z):
        return 0.5 * ((z - values) ** 2).sum(dim=1) + step * penalty.value(z)

    best = problem(proximal)
    for _ in range(200):
        nearby = proximal + 1e-3 * torch.tensor(rng.standard_normal((6, 12)))
        assert torch.all(problem(nearby) >= best - 1e-12)


def test_contiguous_and_general_group_layouts_agree():
    index = np.repeat([0, 1, 2], 4)
    contiguous = hilasso(index=index)
    assert contiguous.group_size == 4
    general = HiLassoPenalty(0.2, torch.as_tensor(index), torch.as_tensor(GROUP_PENALTIES), None)
    general.group_size = None  # force the scatter/gather path
    values, code = torch.tensor(sparse_rows(4)), torch.tensor(sparse_rows(5))
    for method in ("value",):
        torch.testing.assert_close(
            getattr(contiguous, method)(code), getattr(general, method)(code)
        )
    torch.testing.assert_close(contiguous.prox(values, 0.9), general.prox(values, 0.9))
    torch.testing.assert_close(
        contiguous.linearised(values, code), general.linearised(values, code)
    )


def test_per_coefficient_steps_give_no_group_threshold():
    steps = torch.linspace(0.5, 1.5, 12, dtype=torch.float64)
    thresholds, group_thresholds = hilasso().thresholds(steps)
    torch.testing.assert_close(thresholds, 0.2 * steps)
    assert group_thresholds is None
    assert L1Penalty(0.2).thresholds(0.5) == (0.1, None)


def test_per_sample_group_penalties_and_the_objective():
    code, X = torch.tensor(sparse_rows(6)), torch.tensor(sparse_rows(7, n_components=5))
    D = torch.tensor(np.random.default_rng(8).standard_normal((12, 5)))
    per_sample = torch.tensor(np.random.default_rng(9).random((9, 3)))
    penalty = hilasso().with_group_penalties(per_sample)
    expected = np.array(
        [
            value_reference(code[i : i + 1].numpy(), 0.2, GROUPS, per_sample[i].numpy())[0]
            for i in range(9)
        ]
    )
    np.testing.assert_allclose(penalty.value(code).numpy(), expected, atol=1e-12)
    residual = (X - code @ D).numpy()
    loss = sparse_coding_loss(X, code, D, hilasso()).numpy()
    reference = 0.5 * (residual**2).sum(1) + value_reference(
        code.numpy(), 0.2, GROUPS, GROUP_PENALTIES
    )
    np.testing.assert_allclose(loss, reference, atol=1e-12)
    np.testing.assert_allclose(
        objective_numpy(X.numpy(), code.numpy(), D.numpy(), hilasso()), reference, atol=1e-12
    )


def test_objective_numpy_leaves_the_callers_penalty_where_it_was():
    penalty = HiLassoPenalty(
        0.2, torch.as_tensor(INDEX), torch.as_tensor(GROUP_PENALTIES, dtype=torch.float32)
    )
    objective_numpy(np.ones((2, 3)), np.ones((2, 12)), np.ones((12, 3)), penalty)
    assert penalty.group_penalties.dtype == torch.float32


def test_as_penalty_accepts_numbers_and_penalties_only():
    assert as_penalty(0.3).alpha == 0.3 and not as_penalty(0.3).grouped
    grouped = hilasso()
    assert as_penalty(grouped) is grouped
    for bad in (True, "0.3", None):
        with pytest.raises(TypeError, match="penalty or the Lasso's alpha"):
            as_penalty(bad)


def test_penalties_save_as_plain_values_and_load_back():
    for penalty in (L1Penalty(0.25), hilasso()):
        plain = to_plain((penalty,))
        assert not any(isinstance(v, torch.Tensor) for v in plain[0]["kwargs"].values())
        loaded = to_tensors(plain)[0]
        assert type(loaded) is type(penalty) and loaded.alpha == penalty.alpha
        code = torch.tensor(sparse_rows(10))
        torch.testing.assert_close(loaded.value(code), penalty.value(code))
    with pytest.raises(ValueError, match="Unknown penalty class 'Foreign'"):
        to_tensors({"penalty_class": "Foreign", "kwargs": {"alpha": 1.0}})


def dictionary(n_components=12, n_features=6, seed=11):
    D = np.random.default_rng(seed).standard_normal((n_components, n_features))
    return torch.tensor(D / np.linalg.norm(D, axis=1, keepdims=True))


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_lasso_network_takes_alpha_or_its_penalty_alike(name):
    X = torch.tensor(np.random.default_rng(12).standard_normal((8, 6)))
    torch.manual_seed(0)
    from_alpha = REGISTRY[name](dictionary(), 0.2, 3)
    torch.manual_seed(0)
    from_penalty = REGISTRY[name](dictionary(), L1Penalty(0.2), 3)
    with torch.no_grad():
        torch.testing.assert_close(from_alpha(X), from_penalty(X))


@pytest.mark.parametrize("name", sorted(STRUCTURED_NETWORKS))
def test_structured_networks_refuse_a_penalty_without_groups(name):
    with pytest.raises(TypeError, match="needs a penalty with groups"):
        REGISTRY[name](dictionary(), L1Penalty(0.2), 3)


def test_the_registry_is_every_network_once():
    assert set(REGISTRY) == set(NETWORKS) | set(STRUCTURED_NETWORKS)
    assert not set(NETWORKS) & set(STRUCTURED_NETWORKS)


def test_a_network_owns_a_copy_of_its_penalty():
    penalty = HiLassoPenalty(
        0.2, torch.as_tensor(INDEX), torch.as_tensor(GROUP_PENALTIES, dtype=torch.float64)
    )
    network = REGISTRY["ista"](dictionary().float(), penalty, 2)
    assert network.penalty is not penalty
    assert penalty.group_penalties.dtype == torch.float64  # the caller's is unchanged
    assert network.penalty.group_penalties.dtype == torch.float32


@pytest.mark.parametrize("name", ["ista", "bcofb", "rescaled_lista"])
def test_networks_saved_before_penalties_were_objects_load(name):
    # Their saved arguments were (dictionary, alpha, group_index,
    # group_penalties, n_layers) (RescaledLISTA: n_layers third) and their
    # group tensors sat at the top of the state dict.
    penalty = hilasso(index=np.repeat([0, 1, 2], 4))
    network = REGISTRY[name](dictionary(), penalty, 3)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    state = network_state(network)
    index, penalties = penalty.group_index.numpy(), penalty.group_penalties.numpy()
    D = state["args"][0]
    if name == "rescaled_lista":
        state["args"] = (D, 0.2, 3, index, penalties)
    else:
        state["args"] = (D, 0.2, index, penalties, 3)
    old_keys = {"penalty.group_index": "group_index", "penalty.group_penalties": "group_penalties"}
    tensors = {old_keys.get(key, key): value for key, value in state["tensors"].items()}
    if name != "rescaled_lista":
        tensors.pop("group_penalties")  # the structured networks did not keep them
    state["tensors"] = tensors
    loaded = network_from_state(state)
    X = torch.tensor(np.random.default_rng(13).standard_normal((8, 6)))
    with torch.no_grad():
        torch.testing.assert_close(loaded(X), network(X))


def test_the_nonnegative_hilasso_prox_minimises_its_problem():
    # The one-sided shrink then the group shrink is the exact prox over z >= 0:
    # it beats every nearby nonnegative point.
    rng = np.random.default_rng(14)
    penalty = HiLassoPenalty(
        0.2, torch.as_tensor(INDEX), torch.as_tensor(GROUP_PENALTIES), positive=True
    )
    values = torch.tensor(2 * rng.standard_normal((6, 12)))
    proximal = penalty.prox(values, 0.7)
    assert proximal.min() >= 0 and (proximal > 0).any()

    def problem(z):
        return 0.5 * ((z - values) ** 2).sum(dim=1) + 0.7 * penalty.value(z)

    best = problem(proximal)
    for _ in range(200):
        nearby = (proximal + 1e-3 * torch.tensor(rng.standard_normal((6, 12)))).clamp_min(0)
        assert torch.all(problem(nearby) >= best - 1e-12)
    in_place = values.clone()
    penalty.prox_in_place(in_place, 0.7, torch.empty_like(in_place))
    torch.testing.assert_close(in_place, proximal)


def test_a_nonnegative_penalty_saves_its_constraint():
    grouped = HiLassoPenalty(
        0.2, torch.as_tensor(INDEX), torch.as_tensor(GROUP_PENALTIES), positive=True
    )
    for penalty in (L1Penalty(0.25, positive=True), grouped):
        loaded = to_tensors(to_plain((penalty,)))[0]
        assert loaded.positive
        assert loaded.feasible(torch.tensor([[0.0, 1.0], [-1.0, 2.0]])).flatten().tolist() == [
            True,
            False,
        ]
    assert L1Penalty(0.25).feasible(torch.ones(2, 2)) is None


def test_numpy_scalars_are_the_lassos_alpha_and_grouped_proxes_want_one_step():
    assert as_penalty(np.float32(0.25)).alpha == 0.25
    assert as_penalty(np.int64(2)).alpha == 2.0
    with pytest.raises(ValueError, match="one step for all coefficients"):
        hilasso().prox(torch.ones(2, 12, dtype=torch.float64), torch.full((12,), 0.5))


def test_objectives_of_read_only_arrays_raise_no_warning():
    from sklearn_lsc import lasso_objective

    X, code, D = np.ones((2, 3)), np.ones((2, 4)), np.ones((4, 3))
    for array in (X, code, D):
        array.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lasso_objective(X, code, D, 0.5) == pytest.approx(0.5 * 9 * 3 + 0.5 * 4)
