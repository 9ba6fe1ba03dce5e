"""Collaborative HiLasso: rows in sets share group activity (Sprechmann et al. 2011).

The exact solvers, the penalties and the untrained networks are checked
against plain numpy references that work one set at a time; the encoder's
``sets`` through its methods and scikit-learn's metadata routing.
"""

import functools
import warnings

import numpy as np
import pytest
import sklearn
import torch
from _reference import (
    collaborative_bcofb_reference,
    collaborative_ista_reference,
    collaborative_objective_reference,
    collaborative_prox_reference,
)
from _state import assert_same, snapshot
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_lsc import (
    LearnedHiLassoEncoder,
    StructuredSparseClassifier,
    _inference,
    hilasso_objective,
    solvers,
    sparse_encode,
)
from sklearn_lsc._groups import group_index, tree_membership
from sklearn_lsc._networks import LBCoFB, StructuredISTA
from sklearn_lsc._penalties import HiLassoPenalty, TreePenalty
from sklearn_lsc._sets import check_sets, compact_labels, set_batches, split_sets
from sklearn_lsc.datasets import make_group_sparse_signals

PARTITION = [np.arange(0, 3), np.arange(3, 7), np.arange(7, 9), np.arange(9, 12)]
TREE = [np.arange(0, 6), np.arange(0, 3), np.arange(6, 10), np.arange(8, 10)]  # 10, 11 in none
PENALTIES = np.array([0.5, 0.3, 0.4, 0.2])
ALPHA = 0.1


def problem(seed=0, n_samples=14, n_components=12, n_features=7):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((n_samples, n_features))
    # Labels neither sorted nor contiguous, sets of one to several rows.
    sets = rng.choice([7, -2, 40, 3, 11], size=n_samples)
    return X, D, sets


def penalty_of(groups, n_components, positive=False):
    tensor = torch.tensor(PENALTIES)
    if groups is PARTITION:
        return HiLassoPenalty(
            ALPHA, torch.as_tensor(group_index(groups, n_components)), tensor, positive=positive
        )
    membership = torch.as_tensor(tree_membership(groups, n_components))
    return TreePenalty(ALPHA, membership, tensor, positive=positive)


# ---------------------------------------------------------------- penalty
@pytest.mark.parametrize("groups", [PARTITION, TREE], ids=["partition", "tree"])
@pytest.mark.parametrize("positive", [False, True], ids=["signed", "nonnegative"])
def test_penalty_prox_and_value_equal_the_per_set_reference(groups, positive):
    X, D, sets = problem()
    V = np.random.default_rng(1).standard_normal((X.shape[0], D.shape[0]))
    labels = compact_labels(torch.as_tensor(sets))
    penalty = penalty_of(groups, D.shape[0], positive).with_sets(labels)
    step = 0.7
    prox = penalty.prox(torch.tensor(V), step).numpy()
    for label in np.unique(sets):
        rows = sets == label
        expected = collaborative_prox_reference(
            V[rows], ALPHA * step, groups, PENALTIES * step, positive
        )
        np.testing.assert_allclose(prox[rows], expected, atol=1e-13)
    # Shrunk as blocks: some group zeroed for every row of a set, kept in others.
    assert (prox == 0).any() and (prox != 0).any()
    in_place = torch.tensor(V)
    penalty.prox_in_place(in_place, step, torch.empty_like(in_place))
    np.testing.assert_allclose(in_place.numpy(), prox, atol=1e-13)
    # The rows' values sum to the collaborative objective's penalty.
    Z = prox
    values = penalty.value(torch.tensor(Z)).numpy()
    zero = np.zeros_like(X)
    reference = collaborative_objective_reference(
        zero, Z, np.zeros_like(D), ALPHA, groups, PENALTIES, sets
    )
    assert values.sum() / X.shape[0] == pytest.approx(reference, rel=1e-12)


def test_penalty_without_sets_is_unchanged_and_one_row_sets_are_hilasso():
    X, D, _ = problem()
    V = torch.tensor(np.random.default_rng(2).standard_normal((X.shape[0], D.shape[0])))
    penalty = penalty_of(PARTITION, D.shape[0])
    assert penalty.with_sets(None) is penalty
    alone = penalty.with_sets(torch.arange(X.shape[0]))
    assert penalty.sets is None  # a copy: the original is untouched
    torch.testing.assert_close(alone.prox(V, 0.5), penalty.prox(V, 0.5), rtol=0, atol=1e-14)
    torch.testing.assert_close(alone.value(V), penalty.value(V), rtol=1e-14, atol=0)


def test_a_tree_of_equal_contiguous_blocks_shrinks_sets_jointly():
    # Depths of equal contiguous blocks: the penalty's reshaped path, with sets.
    layered = [np.arange(0, 6), np.arange(6, 12), *(np.arange(3 * k, 3 * k + 3) for k in range(4))]
    membership = torch.as_tensor(tree_membership(layered, 12))
    weights = torch.tensor([0.5, 0.3, 0.4, 0.2, 0.3, 0.6], dtype=torch.float64)
    penalty = TreePenalty(ALPHA, membership, weights)
    assert penalty._depth_sizes == [3, 6]
    X, D, sets = problem(9)
    V = np.random.default_rng(9).standard_normal((X.shape[0], 12))
    penalty = penalty.with_sets(compact_labels(torch.as_tensor(sets)))
    weights = penalty.group_penalties.numpy()
    prox = penalty.prox(torch.tensor(V), 0.6).numpy()
    in_place = torch.tensor(V)
    penalty.prox_in_place(in_place, 0.6, torch.empty_like(in_place))
    for label in np.unique(sets):
        rows = sets == label
        expected = collaborative_prox_reference(V[rows], ALPHA * 0.6, layered, weights * 0.6)
        np.testing.assert_allclose(prox[rows], expected, atol=1e-13)
        np.testing.assert_allclose(in_place.numpy()[rows], expected, atol=1e-13)
    assert (prox == 0).any() and (prox != 0).any()
    value = penalty.value(torch.tensor(prox)).numpy().sum() / X.shape[0]
    zero = np.zeros_like(X)
    expected = collaborative_objective_reference(zero, prox, 0 * D, ALPHA, layered, weights, sets)
    assert value == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- solvers
@functools.cache
def reference_optimum(seed, groups_name, positive=False):
    """The reference optimum of ``problem(seed)`` (slow: computed once per module)."""
    X, D, sets = problem(seed)
    groups = {"partition": PARTITION, "tree": TREE}[groups_name]
    return collaborative_ista_reference(X, D, ALPHA, groups, PENALTIES, sets, 20000, positive)


@pytest.mark.parametrize("groups", [PARTITION, TREE], ids=["partition", "tree"])
@pytest.mark.parametrize("algorithm", ["fista", "ista", "bcofb"])
def test_exact_solvers_equal_the_numpy_reference(algorithm, groups):
    X, D, sets = problem()
    expected = reference_optimum(0, "partition" if groups is PARTITION else "tree")
    code = sparse_encode(
        X, D, alpha=ALPHA, groups=groups, group_alpha=1.0, group_weights=PENALTIES,
        sets=sets, algorithm=algorithm, tol=1e-12, max_iter=20000,
    )  # fmt: skip
    assert np.abs(code - expected).max() <= 1e-6 * np.abs(expected).max()
    # The per-row (HiLasso) codes solve another problem: worse on this one.
    per_row = sparse_encode(
        X, D, alpha=ALPHA, groups=groups, group_alpha=1.0, group_weights=PENALTIES, tol=1e-10
    )  # fmt: skip
    objective = {
        name: hilasso_objective(
            X,
            value,
            D,
            alpha=ALPHA,
            groups=groups,
            group_alpha=1.0,
            group_weights=PENALTIES,
            sets=sets,
        )  # fmt: skip
        for name, value in (("sets", code), ("rows", per_row))
    }
    assert objective["sets"] < objective["rows"] - 1e-4


def test_nonnegative_codes_in_sets_equal_the_reference():
    X, D, sets = problem(3)
    expected = reference_optimum(3, "partition", positive=True)
    code = sparse_encode(
        X, D, alpha=ALPHA, groups=PARTITION, group_alpha=1.0, group_weights=PENALTIES,
        sets=sets, positive=True, tol=1e-12, max_iter=20000,
    )  # fmt: skip
    assert code.min() >= 0
    assert np.abs(code - expected).max() <= 1e-6 * np.abs(expected).max()


def test_hilasso_objective_with_sets_equals_the_reference():
    X, D, sets = problem(4)
    Z = np.random.default_rng(4).standard_normal((X.shape[0], D.shape[0]))
    for groups in (PARTITION, TREE):
        value = hilasso_objective(
            X, Z, D, alpha=ALPHA, groups=groups, group_alpha=2.0,
            group_weights=PENALTIES / 2.0, sets=sets,
        )  # fmt: skip
        expected = collaborative_objective_reference(X, Z, D, ALPHA, groups, PENALTIES, sets)
        assert value == pytest.approx(expected, rel=1e-12)


def test_sets_of_one_row_are_hilasso_and_batches_keep_sets_whole(monkeypatch):
    X, D, _ = problem(5, n_samples=60)
    sets = np.repeat(np.arange(20), 3)[np.random.default_rng(5).permutation(60)]
    options = dict(alpha=ALPHA, groups=PARTITION, group_alpha=0.6, tol=1e-10, max_iter=5000)
    np.testing.assert_allclose(
        sparse_encode(X, D, sets=np.arange(60), **options),
        sparse_encode(X, D, **options),
        atol=1e-12,
    )
    whole = sparse_encode(X, D, sets=sets, **options)
    assert np.abs(whole - sparse_encode(X, D, **options)).max() > 1e-2
    # Batches of about 5 rows: sets must not be split across them (equal up
    # to the solver's tolerance: batches stop at different iterations).
    monkeypatch.setitem(solvers._BATCH_ELEMENTS, "cpu", 5 * (D.shape[0] + X.shape[1]))
    np.testing.assert_allclose(sparse_encode(X, D, sets=sets, **options), whole, atol=1e-8)


@pytest.mark.parametrize(
    ("sets", "error", "message"),
    [
        (np.arange(13), ValueError, "shape"),
        (np.zeros(14), TypeError, "integer"),
        (np.array(["a"] * 14, dtype=object), TypeError, "integer"),
        (np.zeros((14, 1), dtype=int), ValueError, "shape"),
    ],
)
def test_bad_sets_are_refused_naming_the_parameter(sets, error, message):
    X, D, _ = problem()
    with pytest.raises(error, match=f"'sets'.*{message}"):
        sparse_encode(X, D, groups=PARTITION, group_alpha=0.5, sets=sets)


def test_set_batches_and_split_hold_whole_sets():
    labels = np.repeat([5, 1, 9, 2, 8, 3], [4, 1, 7, 2, 3, 5])
    rng = np.random.RandomState(0)
    for shuffle in (None, rng):
        batches = set_batches(labels, 6, shuffle)
        rows = np.concatenate(batches)
        assert np.array_equal(np.sort(rows), np.arange(labels.size))  # every row once
        seen = set()
        for batch in batches:
            batch_labels = labels[batch]
            # Whole sets, each set's rows adjacent.
            for label in np.unique(batch_labels):
                assert (labels == label).sum() == (batch_labels == label).sum()
                assert label not in seen
                seen.add(label)
                where = np.flatnonzero(batch_labels == label)
                assert np.all(np.diff(where) == 1)
            assert batch.size < 6 + 7
    validation, training = split_sets(labels, 5, np.random.RandomState(1))
    assert validation.size >= 5 and training.size + validation.size == labels.size
    assert not set(labels[validation]) & set(labels[training])
    assert check_sets(None, 3) is None
    assert check_sets(np.array([3, 1, 3], dtype=np.int8), 3).dtype == np.int64


# ---------------------------------------------------------------- networks
@pytest.mark.parametrize("n_layers", [1, 4])
def test_untrained_structured_ista_in_sets_equals_collaborative_ista(n_layers):
    X, D, sets = problem(6)
    index = torch.as_tensor(group_index(PARTITION, D.shape[0]))
    penalty = HiLassoPenalty(ALPHA, index, torch.tensor(PENALTIES))
    network = StructuredISTA(torch.tensor(D), penalty, n_layers)
    with torch.no_grad():
        code = network(torch.tensor(X), sets=compact_labels(torch.as_tensor(sets))).numpy()
    expected = collaborative_ista_reference(X, D, ALPHA, PARTITION, PENALTIES, sets, n_layers)
    np.testing.assert_allclose(code, expected, atol=1e-12)
    assert (code == 0).any() and (code != 0).any()


@pytest.mark.parametrize("groups", [PARTITION, [np.arange(3 * g, 3 * g + 3) for g in range(4)]])
@pytest.mark.parametrize("n_layers", [1, 3, 6])
def test_untrained_lbcofb_in_sets_equals_collaborative_bcofb(n_layers, groups):
    X, D, sets = problem(7)
    index = torch.as_tensor(group_index(groups, D.shape[0]))
    penalty = HiLassoPenalty(ALPHA, index, torch.tensor(PENALTIES))
    network = LBCoFB(torch.tensor(D), penalty, n_layers)
    labels = compact_labels(torch.as_tensor(sets))
    with torch.no_grad():  # (inference: where the fast passes would run without sets)
        code = network(torch.tensor(X), sets=labels).numpy()
    expected = collaborative_bcofb_reference(X, D, ALPHA, groups, PENALTIES, sets, n_layers)
    np.testing.assert_allclose(code, expected, atol=1e-12)
    # Differentiable, with finite gradients, through the joint norms.
    X_tensor = torch.tensor(X)
    network(X_tensor, sets=labels).pow(2).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in network.parameters())


# ---------------------------------------------------------------- encoder
def shared_group_problem(seed=0, n_samples=400, set_size=4):
    X, D, _, active = make_group_sparse_signals(
        n_samples=n_samples, n_features=16, n_groups=4, group_size=6, n_active_groups=1,
        n_nonzero_per_group=3, noise=0.05, set_size=set_size, random_state=seed,
    )  # fmt: skip
    return X, D, np.arange(n_samples) // set_size, active


PARAMS = dict(groups=4, alpha=0.05, group_alpha=0.3, n_layers=3, max_iter=15, random_state=0)


def test_make_group_sparse_signals_sets_share_their_active_groups():
    _, _, sets, active = shared_group_problem(set_size=5)
    for label in np.unique(sets):
        assert (active[sets == label] == active[sets == label][0]).all()
    assert len({tuple(row) for row in active}) > 1


@pytest.mark.parametrize("architecture", ["bcofb", "ista"])
def test_encoder_codes_sets_jointly_and_scores_the_collaborative_objective(architecture):
    X, D, sets, _ = shared_group_problem()
    encoder = LearnedHiLassoEncoder(dictionary=D, architecture=architecture, **PARAMS)
    encoder.fit(X, sets=sets)
    code = encoder.transform(X, sets=sets)
    objective = hilasso_objective(X, code, D, alpha=0.05, groups=4, group_alpha=0.3, sets=sets)
    assert encoder.score(X, sets=sets) == pytest.approx(-objective, rel=1e-10)
    assert encoder.score_samples(X, sets=sets).mean() == pytest.approx(-objective, rel=1e-10)
    # Coded jointly: the set's rows select the same groups.
    energies = encoder.group_energies(X, sets=sets)
    assert energies.shape == (X.shape[0], 4)
    for label in np.unique(sets)[:20]:
        assert np.array_equal(energies[sets == label] > 0, code_active(code, sets, label))
    # Independent of the other sets and of the rows' order.
    order = np.random.default_rng(0).permutation(X.shape[0])
    np.testing.assert_allclose(
        encoder.transform(X[order], sets=sets[order]), code[order], atol=1e-12
    )
    some = np.isin(sets, [3, 17, 40])
    np.testing.assert_allclose(encoder.transform(X[some], sets=sets[some]), code[some], atol=1e-12)
    # Over many transform batches (each holding whole sets): the same results.
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(_inference._TRANSFORM_BATCH_ELEMENTS, "cpu", 30 * (24 + 16))
        np.testing.assert_allclose(encoder.transform(X, sets=sets), code, atol=1e-12)
        np.testing.assert_allclose(encoder.group_energies(X, sets=sets), energies, atol=1e-12)
        np.testing.assert_allclose(
            encoder.score_samples(X, sets=sets).mean(), -objective, rtol=1e-10
        )
    # A bfloat16 copy codes sets too (in X's dtype).
    encoder.set_params(transform_dtype="bfloat16")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # where bfloat16 is emulated
        coarse = encoder.transform(X, sets=sets)
    assert coarse.dtype == np.float64
    np.testing.assert_allclose(coarse, code, atol=0.05 * np.abs(code).max())
    encoder.set_params(transform_dtype=None)
    # fit_transform codes in the sets it trained on.
    fresh = LearnedHiLassoEncoder(dictionary=D, architecture=architecture, **PARAMS)
    np.testing.assert_allclose(fresh.fit_transform(X, sets=sets), code, atol=1e-12)


def code_active(code, sets, label):
    block = code[sets == label].reshape(-1, 4, 6)
    active = np.abs(block).sum(axis=(0, 2)) > 0  # the set's groups
    return np.broadcast_to(active, (block.shape[0], 4)) & (np.abs(block).sum(axis=2) > 0)


def test_training_in_sets_beats_per_row_training_on_the_collaborative_objective():
    X, D, sets, _ = shared_group_problem(1, n_samples=800)
    train, test = sets < 150, sets >= 150
    options = dict(dictionary=D, **{**PARAMS, "max_iter": 40})
    joint = LearnedHiLassoEncoder(**options).fit(X[train], sets=sets[train])
    per_row = LearnedHiLassoEncoder(**options).fit(X[train])
    # Both coded in sets: the network trained on the sets' objective is better.
    assert joint.score(X[test], sets=sets[test]) > per_row.score(X[test], sets=sets[test])
    # Early stopping set aside whole sets (its validation curve exists).
    assert joint.early_stopping_ and len(joint.validation_loss_curve_) == joint.n_iter_


def test_sets_travel_through_a_pipeline_by_metadata_routing():
    X, D, sets, _ = shared_group_problem()
    with sklearn.config_context(enable_metadata_routing=True):
        encoder = LearnedHiLassoEncoder(dictionary=D, **PARAMS)
        encoder.set_fit_request(sets=True).set_transform_request(sets=True)
        pipeline = make_pipeline(FunctionTransformer(lambda values: 2.0 * values), encoder)
        pipeline.fit(X, sets=sets)
        direct = LearnedHiLassoEncoder(dictionary=D, **PARAMS).fit(2.0 * X, sets=sets)
        np.testing.assert_allclose(
            pipeline.transform(X, sets=sets), direct.transform(2.0 * X, sets=sets), atol=1e-12
        )
        # (Pipeline.score is not checked: under routing, scikit-learn 1.9 passes
        # it sample_weight=None, which no unsupervised score accepts, PCA's included.)
        # Without the request, a Pipeline refuses the metadata rather than drop it.
        plain = make_pipeline(LearnedHiLassoEncoder(dictionary=D, **PARAMS))
        with pytest.raises(Exception, match="sets"):
            plain.fit(X, sets=sets)


def test_partial_fit_in_sets():
    X, D, sets, _ = shared_group_problem()
    encoder = LearnedHiLassoEncoder(dictionary=D, **PARAMS)
    before = None
    for chunk in np.array_split(np.arange(X.shape[0]), 4):
        encoder.partial_fit(X[chunk], sets=sets[chunk])
        score = encoder.score(X, sets=sets)
        assert before is None or score > before - 1e-3 * abs(before)
        before = score
    assert encoder.n_iter_ == 4


def test_sets_need_a_network_that_shrinks_groups_and_failures_keep_state():
    X, D, sets, _ = shared_group_problem()
    encoder = LearnedHiLassoEncoder(dictionary=D, **{**PARAMS, "architecture": "lista"})
    message = "architecture='bcofb' or 'ista'"
    with pytest.raises(ValueError, match=message):
        encoder.fit(X, sets=sets)
    encoder.fit(X)
    state = snapshot(encoder)
    with pytest.raises(ValueError, match=message):
        encoder.transform(X, sets=sets)
    with pytest.raises(ValueError, match=message):
        encoder.partial_fit(X, sets=sets)
    assert_same(snapshot(encoder), state)


def test_discriminative_objective_in_sets_needs_one_target_per_set():
    X, D, sets, active = shared_group_problem()
    params = {**PARAMS, "objective": "discriminative", "max_iter": 5}
    encoder = LearnedHiLassoEncoder(dictionary=D, **params).fit(X, active, sets=sets)
    assert encoder.transform(X, sets=sets).shape == (X.shape[0], 24)
    state = snapshot(encoder)
    mixed = active.copy()
    mixed[1] = np.roll(mixed[1], 1)  # row 1 shares row 0's set
    with pytest.raises(ValueError, match="y differs between rows of one set"):
        encoder.partial_fit(X, mixed, sets=sets)
    assert_same(snapshot(encoder), state)
    # The rewarded objective of a set counts its group term once: training in
    # sets of one row is per-row training.
    alone = LearnedHiLassoEncoder(dictionary=D, **params).fit(X, active, sets=np.arange(400))
    per_row = LearnedHiLassoEncoder(dictionary=D, **params).fit(X, active)
    np.testing.assert_allclose(alone.loss_curve_, per_row.loss_curve_, rtol=1e-6)


def test_bad_sets_leave_the_fitted_encoder_unchanged():
    X, D, sets, _ = shared_group_problem()
    encoder = LearnedHiLassoEncoder(dictionary=D, **PARAMS).fit(X, sets=sets)
    state = snapshot(encoder)
    with pytest.raises(ValueError, match="'sets'"):
        encoder.partial_fit(X, sets=sets[:-1])
    with pytest.raises(TypeError, match="'sets'"):
        encoder.score(X, sets=sets.astype(float))
    with pytest.raises(ValueError, match="'sets'"):
        encoder.group_energies(X, sets=sets[1:])
    assert_same(snapshot(encoder), state)


# ------------------------------------------------------------- classifier
def test_classifier_codes_each_pooling_window_as_one_set():
    X, D, _, active = make_group_sparse_signals(
        n_samples=600, n_features=16, n_groups=3, group_size=6, n_active_groups=1,
        n_nonzero_per_group=3, noise=0.3, set_size=10, random_state=0,
    )  # fmt: skip
    y = active.argmax(axis=1)
    params = dict(n_components_per_class=6, n_layers=2, pooling_window=10, max_iter=10,
                  random_state=0)  # fmt: skip
    joint = StructuredSparseClassifier(collaborative=True, **params).fit(X, y)
    windows = np.arange(X.shape[0]) // 10
    # Its scores are the encoder's energies of windows coded as sets, pooled.
    energies = joint.encoder_.group_energies(X, sets=windows)
    pooled = np.add.reduceat(energies, np.arange(0, 600, 10), axis=0)[windows]
    np.testing.assert_allclose(joint.decision_function(X), pooled, rtol=1e-12)
    assert joint.score(X, y) > 0.9
    # Mixtures of two classes: a window of mixtures trains as one set.
    pair = StructuredSparseClassifier(collaborative=True, n_active=2, **params)
    mixed, indicator, sets = pair._with_mixtures(X, y, 3)
    assert sets.shape == (mixed.shape[0],)
    for label in np.unique(sets):
        assert (indicator[sets == label] == indicator[sets == label][0]).all()
        assert (sets == label).sum() <= 10
    # Training windows start afresh where the class changes.
    labels = np.array([0] * 7 + [1] * 13)
    _, _, training_sets = joint._with_mixtures(X[:20], labels, 3)
    assert training_sets.tolist() == [0] * 7 + [1] * 3 + [2] * 10
    with pytest.raises(ValueError, match="'collaborative'.*'bcofb' or 'ista'"):
        StructuredSparseClassifier(collaborative=True, architecture="lista", **params).fit(X, y)
