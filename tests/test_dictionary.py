"""The online dictionary step (Mairal et al. 2009) and dictionary initialization."""

import types

import numpy as np
import pytest
import torch

from sklearn_lsc import _fused
from sklearn_lsc._dictionary import (
    OnlineDictionaryUpdate,
    init_dictionary_from_samples,
    update_atoms,
)


def surrogate(D, A, B_T):
    """Mairal's surrogate ``0.5 tr(D^T A D) - tr(B^T D)`` that the atom updates minimise."""
    return 0.5 * np.trace(D.T @ A @ D) - np.sum(B_T * D)


def test_decoupled_atoms_are_solved_exactly():
    """With diagonal A each atom is argmin over the unit ball: proj(b_k / A_kk)."""
    rng = np.random.default_rng(0)
    A = np.diag([2.0, 0.5, 4.0])
    B_T = rng.standard_normal((3, 5)) * np.array([[0.1], [3.0], [1.0]])
    D = update_atoms(rng.standard_normal((3, 5)), A, B_T)
    expected = B_T / np.diag(A)[:, None]
    expected /= np.maximum(1.0, np.linalg.norm(expected, axis=1, keepdims=True))
    np.testing.assert_allclose(D, expected, rtol=1e-12)


def test_updates_decrease_the_surrogate_and_keep_atoms_in_the_unit_ball():
    rng = np.random.default_rng(1)
    code = rng.standard_normal((50, 6))
    X = rng.standard_normal((50, 4))
    A, B_T = code.T @ code / 50, (X.T @ code).T / 50
    D = rng.standard_normal((6, 4))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    values = [surrogate(D, A, B_T)]
    for _ in range(5):
        D = update_atoms(D, A, B_T)
        values.append(surrogate(D, A, B_T))
        assert np.all(np.linalg.norm(D, axis=1) <= 1 + 1e-12)
    assert np.all(np.diff(values) <= 1e-12) and values[-1] < values[0]


def test_unused_atoms_are_left_alone():
    A = np.diag([1.0, 0.0])
    D = np.array([[1.0, 0.0], [0.0, 0.3]])
    updated = update_atoms(D.copy(), A, np.array([[0.5, 0.5], [9.0, 9.0]]))
    np.testing.assert_array_equal(updated[1], [0.0, 0.3])


def test_step_accumulates_statistics_with_forgetting():
    rng = np.random.default_rng(2)
    update = OnlineDictionaryUpdate(3, 4, forgetting_factor=0.5, dtype=torch.float64, device="cpu")
    D = torch.tensor(np.eye(3, 4))
    batches = [(rng.standard_normal((10, 4)), rng.standard_normal((10, 3))) for _ in range(2)]
    for X, code in batches:
        update.step(D, torch.tensor(X), torch.tensor(code))
    (X0, Z0), (X1, Z1) = batches
    np.testing.assert_allclose(update.A, 0.5 * Z0.T @ Z0 / 10 + Z1.T @ Z1 / 10, rtol=1e-12)
    np.testing.assert_allclose(update.B, 0.5 * X0.T @ Z0 / 10 + X1.T @ Z1 / 10, rtol=1e-12)
    assert update.n_steps == 2


def test_init_from_samples_skips_zero_rows_and_fills_with_random_atoms():
    X = np.vstack([np.zeros((3, 4)), np.arange(8.0).reshape(2, 4) + 1])
    D = init_dictionary_from_samples(X, 4, np.random.RandomState(0))
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0)
    from_rows = X[3:] / np.linalg.norm(X[3:], axis=1, keepdims=True)
    for row in from_rows:
        assert np.any(np.all(np.isclose(D, row), axis=1))


def test_init_from_samples_starts_no_two_atoms_from_one_repeated_row():
    rng = np.random.RandomState(1)
    distinct = rng.standard_normal((3, 10))
    X = distinct[rng.randint(0, 3, 200)]
    X[::7] *= 2.5  # a multiple normalizes to the same atom
    X[::5] *= -1.0  # and a negative one to its opposite: one direction for signed codes
    with pytest.warns(UserWarning, match="only 3 distinct nonzero rows"):
        D = init_dictionary_from_samples(X, 8, np.random.RandomState(0))
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0)
    coherence = np.abs(D @ D.T) - np.eye(8)
    assert coherence.max() < 0.99  # no atom repeats another
    units = distinct / np.linalg.norm(distinct, axis=1, keepdims=True)
    for row in units:  # each distinct row starts one atom (of either sign)
        assert np.sum(np.all(np.isclose(np.abs(D @ row)[:, None], 1.0), axis=1)) == 1


def test_init_from_samples_draws_the_same_rows_without_repeats():
    # Removing repeats changes nothing where there are none: the atoms are
    # the rows the seed's permutation picks, as before.
    X = np.random.RandomState(2).standard_normal((50, 6))
    D = init_dictionary_from_samples(X, 5, np.random.RandomState(3))
    picked = np.random.RandomState(3).choice(np.arange(50), size=5, replace=False)
    np.testing.assert_allclose(D, X[picked] / np.linalg.norm(X[picked], axis=1, keepdims=True))


def test_negligible_dictionary_entries_are_zeroed_and_codes_unchanged():
    # Multiplicative NMF updates leave subnormal entries in atoms; they are
    # zeroed (arithmetic on them is slow), which changes no code beyond rounding.
    from sklearn.decomposition import sparse_encode as sklearn_sparse_encode

    from sklearn_lsc import LearnedLassoEncoder, sparse_encode
    from sklearn_lsc._validation import check_dictionary

    rng = np.random.default_rng(0)
    dictionary = np.abs(rng.standard_normal((12, 8)))
    dictionary[:, :3] *= 1e-310  # subnormal in float64
    dictionary[0, 3] = 2.0**-101 * dictionary[0].max()  # just under the cut
    dictionary[1, 3] = 2.0**-99 * dictionary[1].max()  # just over it
    given = dictionary.copy()
    checked = check_dictionary(dictionary)
    np.testing.assert_array_equal(dictionary, given)  # the caller's array untouched
    assert np.all(checked[:, :3] == 0) and checked[0, 3] == 0
    assert checked[1, 3] == given[1, 3]
    np.testing.assert_array_equal(checked[:, 4:], given[:, 4:])
    X = rng.standard_normal((20, 8))
    reference = sklearn_sparse_encode(
        X, given, algorithm="lasso_cd", alpha=0.1, max_iter=100_000, positive=True
    )
    ours = sparse_encode(X, given, alpha=0.1, positive=True, tol=1e-12, max_iter=100_000)
    np.testing.assert_allclose(ours, reference, atol=1e-6)
    encoder = LearnedLassoEncoder(dictionary=given, alpha=0.1, max_iter=1, random_state=0)
    components = encoder.fit(X).components_
    assert np.all(components[:, :3] == 0)
    assert not np.any((components != 0) & (np.abs(components) < np.finfo(np.float32).tiny))


def statistics(seed, n_atoms=40, n_features=9):
    """Mairal's A and B^T from sparse codes, an atom no code used, unit atoms."""
    rng = np.random.default_rng(seed)
    code = rng.standard_normal((200, n_atoms)) * (rng.random((200, n_atoms)) < 0.2)
    code[:, 5] = 0.0  # A_55 = 0: atom 5 is left as it is
    X = rng.standard_normal((200, n_features))
    D = rng.standard_normal((n_atoms, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    return D, code.T @ code / 200, (X.T @ code).T / 200


@pytest.mark.parametrize("positive", [False, True])
def test_compiled_atom_updates_match_numpys(monkeypatch, positive):
    pytest.importorskip("numba")
    D, A, B_T = statistics(3)
    skip = np.zeros(D.shape[0], dtype=bool)
    skip[[0, 17]] = True
    assert _fused.compiled_kernels() is not None
    # An F-ordered dictionary: updated in place all the same.
    compiled = np.asfortranarray(D)
    returned = update_atoms(compiled, A, B_T, positive=positive, skip=skip)
    monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")
    assert _fused.compiled_kernels() is None
    reference = update_atoms(D.copy(), A, B_T, positive=positive, skip=skip)
    assert returned is compiled
    np.testing.assert_allclose(compiled, reference, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(compiled[[0, 5, 17]], D[[0, 5, 17]])  # skipped, unused
    assert not np.allclose(compiled, D)


def test_atom_updates_refuse_statistics_of_another_shape():
    D, A, B_T = statistics(4)
    with pytest.raises(ValueError, match="do not match"):
        update_atoms(D, A[:-1, :-1], B_T)
    with pytest.raises(ValueError, match="do not match"):
        update_atoms(D, A, B_T[:, :-1])


def test_a_kernel_that_fails_to_compile_falls_back_to_numpy(monkeypatch):
    errors = pytest.importorskip("numba.core.errors")
    D, A, B_T = statistics(5)

    def failing(*arguments):
        raise errors.NumbaError("no compiler for this platform")

    monkeypatch.setattr(_fused, "_kernels", types.SimpleNamespace(update_atoms=failing))
    with pytest.warns(UserWarning, match="could not compile"):
        updated = update_atoms(D.copy(), A, B_T)
    assert _fused.compiled_kernels() is None  # numpy from now on
    monkeypatch.setenv("SKLEARN_LSC_NUMBA", "0")
    np.testing.assert_allclose(updated, update_atoms(D.copy(), A, B_T), rtol=1e-12)
