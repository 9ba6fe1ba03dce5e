"""The online dictionary step redraws atoms the codes do not use (issue: the structured family).

Checked in three parts: the redraw itself, the networks' parameters of a
redrawn atom restarting from their algorithm's values, and a stream whose
unusable atom comes back into use.
"""

import numpy as np
import pytest
import torch

from sklearn_lsc import OnlineSparseModeler
from sklearn_lsc import _dictionary as dictionary_module
from sklearn_lsc._dictionary import OnlineDictionaryUpdate, resample_unused_atoms
from sklearn_lsc._networks import REGISTRY, reset_atoms
from sklearn_lsc._penalties import HiLassoPenalty


# ---------------------------------------------------------------- redraw
def test_unused_atoms_are_redrawn_near_a_row_and_the_others_updated_as_before():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 5))
    D = np.linalg.qr(rng.standard_normal((5, 5)))[0][:4]
    code = rng.standard_normal((20, 4))
    code[:, 2] = 0.0  # atom 2 unused
    plain = OnlineDictionaryUpdate(4, 5, dtype=torch.float64, device="cpu")
    redrawing = OnlineDictionaryUpdate(4, 5, dtype=torch.float64, device="cpu")
    D_plain, D_redrawn = torch.tensor(D), torch.tensor(D)
    assert not plain.step(D_plain, torch.tensor(X), torch.tensor(code)).any()
    mask = redrawing.step(
        D_redrawn, torch.tensor(X), torch.tensor(code), rng=np.random.RandomState(0)
    )
    assert mask.tolist() == [False, False, True, False]
    # The used atoms' updates read the redrawn atom only through A's zero column.
    np.testing.assert_allclose(D_redrawn[[0, 1, 3]], D_plain[[0, 1, 3]], atol=1e-12)
    atom = D_redrawn[2].numpy()
    assert np.linalg.norm(atom) == pytest.approx(1.0)
    cosines = X @ atom / np.linalg.norm(X, axis=1)
    assert cosines.max() > 0.99  # a training row, with 1% noise
    np.testing.assert_array_equal(D_plain[2].numpy(), D[2])  # left alone without rng


def test_nothing_is_redrawn_while_no_atom_is_used_and_nonnegative_redraws():
    A = np.zeros((3, 3))
    D = np.eye(3)
    mask = resample_unused_atoms(D, A, np.ones((4, 3)), np.random.RandomState(0))
    assert not mask.any() and np.array_equal(D, np.eye(3))
    A = np.diag([1.0, 1e-9, 1.0])
    signals = np.array([[-1.0, -2.0, -3.0], [2.0, -1.0, 0.5]])
    mask = resample_unused_atoms(D, A, signals, np.random.RandomState(0), positive=True)
    assert mask.tolist() == [False, True, False]
    assert D[1].min() >= 0 and np.linalg.norm(D[1]) == pytest.approx(1.0)
    assert D[1] @ np.array([2.0, 0.0, 0.5]) / np.linalg.norm([2.0, 0.0, 0.5]) > 0.99


def test_redrawn_atoms_come_from_the_rows_the_codes_represent_worst():
    # Rows 0-18 are coded exactly (atom 0 is their direction); only row 19's
    # residual is nonzero, so the redrawn atom is near row 19, never a
    # near-copy of atom 0.
    rng = np.random.default_rng(2)
    D = np.eye(4)[:3, :]
    X = np.outer(rng.uniform(1, 2, 20), D[0])
    X[19] = [0.1, 0.2, 0.3, 1.0]
    code = np.zeros((20, 3))
    code[:19, 0] = X[:19, 0]
    code[19, 0] = 0.1
    for seed in range(5):
        update = OnlineDictionaryUpdate(3, 4, dtype=torch.float64, device="cpu")
        update.A = torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64))
        redrawn_D = torch.tensor(D)
        mask = update.step(
            redrawn_D, torch.tensor(X), torch.tensor(code), np.random.RandomState(seed)
        )
        assert mask.tolist() == [False, False, True]
        atom = redrawn_D[2].numpy()
        assert atom @ X[19] / np.linalg.norm(X[19]) > 0.99


def test_redraw_weights_rows_by_their_residual_energy():
    signals = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    residuals = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 2.0]])  # energies 0, 1, 4
    drawn = []
    for seed in range(400):
        D = np.eye(2)
        resample_unused_atoms(
            D, np.diag([1.0, 0.0]), signals, np.random.RandomState(seed), residuals=residuals
        )
        drawn.append(int(np.argmax(signals @ D[1] / np.linalg.norm(signals, axis=1))))
    counts = np.bincount(drawn, minlength=3)
    assert counts[0] == 0  # a row with no residual is never drawn
    assert 0.7 < counts[2] / (counts[1] + counts[2]) < 0.9  # 4 / 5 of the draws
    # Every residual zero: drawn uniformly, as without residuals.
    D = np.eye(2)
    mask = resample_unused_atoms(
        D, np.diag([1.0, 0.0]), signals, np.random.RandomState(0), residuals=0 * residuals
    )
    assert mask.tolist() == [False, True]


# --------------------------------------------------------------- networks
def build(name, D):
    cls = REGISTRY[name]
    if getattr(cls, "needs_groups", False):
        penalty = HiLassoPenalty(
            0.1, torch.arange(D.shape[0]) // 4, torch.full((D.shape[0] // 4,), 0.2).double()
        )
        return cls(D, penalty, 3)
    return cls(D, 0.1, 3)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_reset_atoms_restarts_exactly_the_redrawn_atoms_parameters(name):
    rng = np.random.default_rng(1)
    # 7 features, 20 atoms, 3 layers (rescaled LISTA's correction rank: 16):
    # the axes' sizes tell the atoms apart.
    D = torch.tensor(rng.standard_normal((20, 7)))
    network = build(name, D)
    with torch.no_grad():  # as if trained
        for parameter in network.parameters():
            parameter.add_(torch.tensor(rng.standard_normal(parameter.shape)))
    before = {key: value.clone() for key, value in network.named_parameters()}
    new_D = D.clone()
    new_D[[2, 15]] = torch.tensor(rng.standard_normal((2, 7)))
    network.set_dictionary(new_D)
    atoms = torch.tensor([2, 15])
    touched = reset_atoms(network, atoms, new_D)
    fresh = build(name, new_D)
    axes_of = getattr(network, "atom_axes", {})
    assert sorted(touched) == sorted(axes_of)
    for key, value in network.named_parameters():
        value = value.detach()
        axes = axes_of.get(key, ())
        # Every axis that runs over the atoms is declared: a parameter with an
        # axis of 20 entries (the atoms) has it listed.
        sized = [axis for axis in range(value.dim()) if value.shape[axis] == 20]
        assert set(sized) <= set(axes), (key, sized)
        other = torch.ones(value.shape, dtype=torch.bool)
        for axis in axes:
            index = [slice(None)] * value.dim()
            index[axis] = atoms
            expected = fresh_value(fresh, key, index)
            if key in getattr(network, "atom_zeroed", ()):
                expected = torch.zeros_like(expected)
            np.testing.assert_array_equal(value[tuple(index)], expected)
            other[tuple(index)] = False
        np.testing.assert_array_equal(value[other], before[key][other].detach())


def fresh_value(fresh, key, index):
    return dict(fresh.named_parameters())[key][tuple(index)].detach()


def test_restarted_atoms_lose_their_optimizer_moments_and_only_they():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 6))
    model = OnlineSparseModeler(n_components=8, alpha=0.1, window_size=100, step_size=50)
    model.set_params(random_state=0).partial_fit(X)
    network = model.network_
    states = {
        name: {key: value.clone() for key, value in model._optimizer.state[p].items()}
        for name, p in network.named_parameters()
    }
    dictionary = torch.tensor(model.components_)
    model._restart_atoms(np.array([3]), dictionary)
    assert model.n_redrawn_atoms_ == 1
    for name, parameter in network.named_parameters():
        axes = network.atom_axes.get(name, ())
        for key, value in model._optimizer.state[parameter].items():
            before = states[name][key]
            if value.shape != parameter.shape or not axes:
                assert torch.equal(value, before)
                continue
            other = torch.ones(value.shape, dtype=torch.bool)
            for axis in axes:
                index = [slice(None)] * value.dim()
                index[axis] = 3
                assert (value[tuple(index)] == 0).all()
                other[tuple(index)] = False
            assert torch.equal(value[other], before[other]) and before[other].abs().sum() > 0


# ----------------------------------------------------------------- stream
def test_a_stream_gets_an_unusable_atom_back_and_uses_it(monkeypatch):
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.standard_normal((8, 8)))[0]
    # Signals and the other atoms lie in a 6-dimensional subspace; atom 0
    # starts orthogonal to it, so its codes are exactly zero in every layer.
    D_true = rng.standard_normal((6, 6)) @ basis[:6]
    D_true /= np.linalg.norm(D_true, axis=1, keepdims=True)
    code = rng.standard_normal((1600, 6)) * (rng.random((1600, 6)) < 0.4)
    X = code @ D_true + 0.01 * rng.standard_normal((1600, 6)) @ basis[:6]
    null = basis[7]
    others = D_true[:5] + 0.1 * rng.standard_normal((5, 6)) @ basis[:6]
    init = np.vstack([null, others / np.linalg.norm(others, axis=1, keepdims=True)])
    params = dict(alpha=0.05, dictionary_init=init, window_size=100, step_size=20, random_state=0)
    model = OnlineSparseModeler(**params)
    model.partial_fit(X[:80])  # four steps: the window (100 rows) is not full yet
    assert model.n_redrawn_atoms_ == 0
    model.partial_fit(X[80:])
    assert model.n_redrawn_atoms_ >= 1
    assert abs(model.components_[0] @ null) < 0.5  # no longer the unusable direction
    codes = model.transform(X[-400:])
    assert np.mean(codes[:, 0] != 0) > 0.05  # and the network uses it
    # Without redraws (the same stream, the same model otherwise), it never would be.
    monkeypatch.setattr(
        dictionary_module,
        "resample_unused_atoms",
        lambda D, *args, **kwargs: np.zeros(len(D), bool),
    )
    frozen = OnlineSparseModeler(**params).fit(X)
    assert frozen.n_redrawn_atoms_ == 0
    assert abs(frozen.components_[0] @ null) > 0.99
    assert np.mean(frozen.transform(X[-400:])[:, 0] != 0) == 0
