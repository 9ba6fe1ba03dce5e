"""Sets of rows that share group activity (collaborative HiLasso).

``sets`` gives an integer label per row; rows with the same label form a set
whose codes are penalised together (the Frobenius norm of each group's block
of the set's codes). Solvers and networks see a batch's rows with compact
labels ``0..n_sets - 1`` (a tensor, :func:`compact_labels`); batches always
hold whole sets (:func:`set_batches`).
"""

import numpy as np
import torch


def check_sets(sets, n_samples, name="sets"):
    """``sets`` as a 1-d int64 array of ``n_samples`` labels, or None.

    Integers of any kind are accepted (floats holding whole numbers are
    not: a label is a name, not a measurement).
    """
    if sets is None:
        return None
    labels = np.asarray(sets)
    if labels.dtype == object or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"The {name!r} parameter must hold integer set labels, one per row of X; "
            f"got an array of dtype {labels.dtype}."
        )
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(
            f"The {name!r} parameter must have shape (n_samples,) = ({n_samples},), one "
            f"set label per row of X; got shape {labels.shape}."
        )
    return labels.astype(np.int64, copy=False)


def check_constant_within_sets(y, labels):
    """Refuse training targets ``y`` (rows) that differ within a set of ``labels``.

    A set's group term is one: targets that reward or penalize its groups
    (the discriminative objective's known-active groups) must be the set's.
    """
    if y is None or labels is None:
        return
    order = np.argsort(labels, kind="stable")
    same_set = labels[order][1:] == labels[order][:-1]
    changed = np.any(y[order][1:] != y[order][:-1], axis=tuple(range(1, y.ndim)))
    if np.any(same_set & changed):
        raise ValueError(
            "y differs between rows of one set: with 'sets', the targets of every row "
            "of a set (its known-active groups) must be the same."
        )


def compact_labels(labels):
    """Labels renumbered ``0..n_sets - 1`` (a LongTensor on the device of ``labels``)."""
    return torch.unique(labels, return_inverse=True)[1]


def set_batches(labels, batch_rows, rng=None):
    """Row indices of batches of about ``batch_rows`` rows, each holding whole sets.

    ``labels``: int array (n_samples,). A set starting in a batch ends in it:
    a batch holds the sets that start within its run of ``batch_rows`` rows,
    so it may exceed ``batch_rows`` by less than its last set. Within a
    batch the rows of a set are adjacent. With ``rng`` the order of the sets is shuffled (the
    minibatches of training), else they come by label.
    """
    _, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    set_order = np.arange(sizes.shape[0]) if rng is None else rng.permutation(sizes.shape[0])
    rank = np.empty_like(set_order)
    rank[set_order] = np.arange(set_order.shape[0])
    rows = np.argsort(rank[inverse], kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes[set_order])[:-1]])
    # A set goes to the batch where it starts: batches cut only between sets.
    batch_of_set = starts // batch_rows
    cuts = starts[np.flatnonzero(np.diff(batch_of_set)) + 1]
    return np.split(rows, cuts)


def split_sets(labels, n_rows, rng):
    """``(chosen, rest)`` row indices (sorted): whole sets, drawn at random, until
    at least ``n_rows`` rows are chosen."""
    unique, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    order = rng.permutation(unique.shape[0])
    n_sets = int(np.searchsorted(np.cumsum(sizes[order]), n_rows) + 1)
    chosen = np.zeros(unique.shape[0], dtype=bool)
    chosen[order[:n_sets]] = True
    return np.flatnonzero(chosen[inverse]), np.flatnonzero(~chosen[inverse])
