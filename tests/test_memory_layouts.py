"""Inputs in any memory layout give the results of their C-contiguous copies."""

import numpy as np
import pytest

from sklearn_lsc import (
    LearnedHiLassoEncoder,
    LearnedLassoEncoder,
    OnlineSparseModeler,
    SparseCodingClassifier,
    StructuredSparseClassifier,
    hilasso_objective,
    lasso_objective,
    sparse_encode,
)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((80, 10)).astype(np.float32)
Y = np.arange(80) % 2
D = RNG.standard_normal((12, 10))


def _layouts(array):
    """Views of ``array``'s values that are not C-contiguous, by name."""
    wide = np.zeros((array.shape[0], 2 * array.shape[1]), array.dtype)
    wide[:, ::2] = array
    read_only = array.copy()
    read_only.flags.writeable = False
    return {
        "reversed rows": np.ascontiguousarray(array[::-1])[::-1],
        "reversed columns": np.ascontiguousarray(array[:, ::-1])[:, ::-1],
        "fortran": np.asfortranarray(array),
        "strided": wide[:, ::2],
        "read-only": read_only,
    }


CASES = {
    "sparse_encode X": (X, lambda A: sparse_encode(A, D, alpha=0.1)),
    "sparse_encode dictionary": (D, lambda A: sparse_encode(X, A, alpha=0.1)),
    "hilasso sparse_encode": (
        X, lambda A: sparse_encode(A, D, alpha=0.05, groups=3, group_alpha=0.1)
    ),
    "lasso_objective": (X, lambda A: lasso_objective(A, np.ones((80, 12)), D, 0.1)),
    "hilasso_objective": (
        X,
        lambda A: hilasso_objective(A, np.ones((80, 12)), D, alpha=0.1, groups=3,
                                    group_alpha=0.1),
    ),
    "LearnedLassoEncoder": (
        X,
        lambda A: LearnedLassoEncoder(n_components=8, alpha=0.1, max_iter=2, random_state=0)
        .fit(A).transform(A),
    ),
    "LearnedLassoEncoder dictionary": (
        D[:8],
        lambda A: LearnedLassoEncoder(dictionary=A, alpha=0.1, max_iter=2, random_state=0)
        .fit(X).transform(X),
    ),
    "LearnedHiLassoEncoder": (
        X,
        lambda A: LearnedHiLassoEncoder(n_components=8, groups=2, alpha=0.1, max_iter=2,
                                        random_state=0).fit(A).transform(A),
    ),
    "OnlineSparseModeler": (
        X,
        lambda A: OnlineSparseModeler(n_components=8, alpha=0.1, step_size=20, window_size=40,
                                      random_state=0).fit(A).transform(A),
    ),
    "SparseCodingClassifier": (
        X,
        lambda A: SparseCodingClassifier(
            LearnedLassoEncoder(n_components=4, max_iter=2, random_state=0)
        ).fit(A, Y).decision_function(A),
    ),
    "StructuredSparseClassifier": (
        X,
        lambda A: StructuredSparseClassifier(n_components_per_class=4, max_iter=2,
                                             random_state=0).fit(A, Y).decision_function(A),
    ),
}  # fmt: skip


@pytest.mark.parametrize("layout", list(_layouts(X)))
@pytest.mark.parametrize("case", list(CASES))
def test_any_layout_gives_the_results_of_a_contiguous_copy(case, layout):
    values, run = CASES[case]
    view = _layouts(values)[layout]
    assert not view.flags.c_contiguous or not view.flags.writeable
    before = view.copy()
    expected = run(np.ascontiguousarray(values))
    # Equal up to float64 rounding: numpy's products over a Fortran-ordered
    # array sum in another order (1e-13 relative in a classifier's scores).
    np.testing.assert_allclose(run(view), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(view, before)  # the input is left alone
