"""Parsing and validating group structures (partitions of the atoms)."""

import numbers

import numpy as np


def check_groups(groups, n_components):
    """The groups as a list of sorted index arrays forming a partition of the atoms.

    ``groups`` is an int ``k`` (``k`` equal contiguous groups; ``n_components``
    must be a multiple of ``k``) or a sequence of index sequences that covers
    ``range(n_components)`` exactly once with no empty group.
    """
    if isinstance(groups, numbers.Integral) and not isinstance(groups, bool):
        if groups < 1 or n_components % groups:
            raise ValueError(
                f"The 'groups' parameter, an int, must be a positive divisor of "
                f"n_components={n_components}; got {groups}."
            )
        return [np.asarray(block) for block in np.split(np.arange(n_components), groups)]
    if isinstance(groups, dict | set | frozenset | str):
        raise TypeError(
            "The 'groups' parameter must be an int or a sequence (list, tuple or "
            "array) of index sequences, one per group, in order; got a "
            f"{type(groups).__name__}."
        )
    try:
        parsed = [np.asarray(group) for group in groups]
    except TypeError:
        raise TypeError(
            "The 'groups' parameter must be an int or a sequence of index sequences; "
            f"got {type(groups).__name__}."
        ) from None
    for position, group in enumerate(parsed):
        if group.ndim != 1 or group.size == 0:
            raise ValueError(f"The 'groups' parameter has an empty group (group {position}).")
        if not np.issubdtype(group.dtype, np.integer):
            raise ValueError(
                f"The 'groups' parameter must hold integer atom indices; group "
                f"{position} has dtype {group.dtype}."
            )
    members = np.concatenate(parsed) if parsed else np.array([], dtype=int)
    if members.size and (members.min() < 0 or members.max() >= n_components):
        raise ValueError(
            f"The 'groups' parameter has atom indices out of range(0, {n_components})."
        )
    counts = np.bincount(members, minlength=n_components)
    if np.any(counts > 1):
        raise ValueError(
            "The 'groups' parameter has overlapping groups (atoms "
            f"{np.flatnonzero(counts > 1)[:10].tolist()} appear more than once)."
        )
    if np.any(counts == 0):
        raise ValueError(
            "The 'groups' parameter leaves atoms out (atoms "
            f"{np.flatnonzero(counts == 0)[:10].tolist()} are in no group)."
        )
    return [np.sort(group).astype(np.intp) for group in parsed]


def check_group_weights(group_weights, n_groups):
    """Positive per-group weights, ones when None."""
    if group_weights is None:
        return np.ones(n_groups)
    weights = np.asarray(group_weights, dtype=np.float64)
    if weights.shape != (n_groups,):
        raise ValueError(
            f"The 'group_weights' parameter must have one weight per group ({n_groups}); "
            f"got shape {weights.shape}."
        )
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise ValueError("The 'group_weights' parameter must hold positive finite weights.")
    return weights


def group_index(groups, n_components):
    """For each atom, the index of its group."""
    index = np.empty(n_components, dtype=np.int64)
    for position, group in enumerate(groups):
        index[group] = position
    return index
