"""``max_iter="auto"`` and ``n_iter_no_change="auto"``: a training budget that follows the rows."""

import math

import numpy as np
import pytest

from sklearn_lsc import LearnedHiLassoEncoder, LearnedLassoEncoder


def rows(n_samples, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_samples, 6)).astype(np.float32)


def expected_budget(n_train, batch_size, early_stopping, learned_dictionary=False):
    """The documented rule, written out: 150 epochs and a patience of 20, raised with
    early stopping on a given dictionary to 2,000 steps and a patience of 270 steps."""
    if not early_stopping or learned_dictionary:
        return 150, 20
    steps = math.ceil(n_train / batch_size)
    return max(150, math.ceil(2000 / steps)), max(20, math.ceil(270 / steps))


DICTIONARY = np.random.default_rng(1).standard_normal((4, 6))
ENCODERS = {
    "lasso": lambda **p: LearnedLassoEncoder(dictionary=DICTIONARY, alpha=0.3, n_layers=2, **p),
    "hilasso": lambda **p: LearnedHiLassoEncoder(
        dictionary=DICTIONARY, groups=2, alpha=0.1, group_alpha=0.2, n_layers=2, **p
    ),
}


@pytest.mark.parametrize("kind", sorted(ENCODERS))
@pytest.mark.parametrize(
    "n_samples, batch_size, early_stopping",
    [
        (500, 100, "auto"),  # 450 training rows: 5 steps per epoch
        (600, 100, "auto"),  # 540: 6 steps
        (2000, 100, "auto"),  # 1,800: the epoch counts rule
        (600, 10, "auto"),  # small batches: 54 steps per epoch
        (300, 100, "auto"),  # too few rows to set aside: no early stopping
        (600, 100, False),
    ],
)
def test_auto_budget_follows_the_training_rows(kind, n_samples, batch_size, early_stopping):
    encoder = ENCODERS[kind](
        batch_size=batch_size, early_stopping=early_stopping, tol=0.5, random_state=0
    ).fit(rows(n_samples))
    n_train = n_samples - round(0.1 * n_samples) if encoder.early_stopping_ else n_samples
    assert (encoder.max_iter_, encoder.n_iter_no_change_) == expected_budget(
        n_train, batch_size, encoder.early_stopping_
    )
    # tol=0.5 stops after the patience: the patience used is the resolved one.
    assert encoder.n_iter_ == min(encoder.n_iter_no_change_ + 1, encoder.max_iter_)


def test_small_training_sets_get_more_epochs_large_ones_the_epoch_counts():
    params = dict(dictionary=DICTIONARY, alpha=0.3, n_layers=2, tol=0.5, random_state=0)
    small = LearnedLassoEncoder(**params).fit(rows(500))
    large = LearnedLassoEncoder(**params).fit(rows(3000))
    assert small.max_iter_ == 400 and small.n_iter_no_change_ == 54
    assert large.max_iter_ == 150 and large.n_iter_no_change_ == 20


def test_a_learned_dictionary_keeps_the_epoch_counts():
    encoder = LearnedLassoEncoder(
        n_components=4, alpha=0.3, n_layers=2, tol=0.5, random_state=0
    ).fit(rows(500))
    assert encoder.early_stopping_
    assert (encoder.max_iter_, encoder.n_iter_no_change_) == (150, 20)


def test_explicit_values_win_over_auto():
    encoder = LearnedLassoEncoder(
        n_components=4, alpha=0.3, n_layers=2, max_iter=7, n_iter_no_change=3, tol=0.5,
        random_state=0,
    ).fit(rows(500))  # fmt: skip
    assert (encoder.max_iter_, encoder.n_iter_no_change_) == (7, 3)
    assert encoder.n_iter_ == 4  # the first epoch, then a patience of 3
    # A patience as long as max_iter cannot stop early: every epoch runs.
    encoder.set_params(n_iter_no_change=7).fit(rows(500))
    assert (encoder.max_iter_, encoder.n_iter_) == (7, 7)


@pytest.mark.parametrize("name", ["max_iter", "n_iter_no_change"])
@pytest.mark.parametrize("value", [0, "sometimes", 2.5])
def test_bad_budgets_are_refused_naming_the_parameter(name, value):
    with pytest.raises(ValueError, match=name):
        LearnedLassoEncoder(n_components=4, **{name: value}).fit(rows(50))


def test_armijo_keeps_the_epoch_counts():
    # One full-batch step per epoch: epochs are steps already.
    encoder = LearnedLassoEncoder(
        dictionary=DICTIONARY, alpha=0.3, n_layers=2, solver="armijo", tol=0.5, random_state=0
    ).fit(rows(500))
    assert encoder.early_stopping_
    assert (encoder.max_iter_, encoder.n_iter_no_change_) == (150, 20)
