"""Parsing and validating group structures: partitions of the atoms, and trees of groups."""

import numbers

import numpy as np


def _parse_groups(groups, n_components):
    """``groups`` as a list of sorted index arrays, each nonempty, in range and without repeats."""
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
        if np.unique(group).size != group.size:
            raise ValueError(f"The 'groups' parameter lists an atom twice in group {position}.")
    members = np.concatenate(parsed) if parsed else np.array([], dtype=int)
    if members.size and (members.min() < 0 or members.max() >= n_components):
        raise ValueError(
            f"The 'groups' parameter has atom indices out of range(0, {n_components})."
        )
    return [np.sort(group).astype(np.intp) for group in parsed]


def is_partition(groups, n_components):
    """Whether parsed ``groups`` cover every atom exactly once."""
    members = np.concatenate(groups) if groups else np.array([], dtype=np.intp)
    return members.size == n_components and np.unique(members).size == n_components


def check_group_tree(groups, n_components):
    """The groups as sorted index arrays, any two of them disjoint or nested.

    An int ``k`` (``k`` equal contiguous groups; ``n_components`` must be a
    multiple of ``k``), or a sequence of nonempty index sequences: a
    partition of the atoms, or a tree of groups (Jenatton et al. 2011):
    groups nested in others, atoms in no group allowed. Groups that overlap
    without one holding the other, and a group listed twice, are refused.
    """
    parsed = _parse_groups(groups, n_components)
    tree_depths(parsed, n_components)  # raises on overlaps and repeats
    return parsed


def tree_depths(groups, n_components):
    """Each group's depth (the number of listed groups holding it); a ValueError if not a tree.

    Groups are visited from the largest: each atom remembers the smallest
    group holding it so far, and a group is nested in another only if all
    its atoms remember the same one.
    """
    holder = np.full(n_components, -1)
    depths = np.empty(len(groups), dtype=np.intp)
    for position in sorted(range(len(groups)), key=lambda k: -groups[k].size):
        group = groups[position]
        parents = np.unique(holder[group])
        if parents.size > 1:
            raise ValueError(
                f"The 'groups' parameter has groups that overlap without one holding "
                f"the other (group {position} shares atoms with group "
                f"{int(parents.max())} but is not inside it): groups must be "
                "disjoint or nested."
            )
        parent = int(parents[0])
        if parent >= 0 and groups[parent].size == group.size:
            raise ValueError(
                f"The 'groups' parameter lists the same group twice (groups {parent} "
                f"and {position})."
            )
        depths[position] = 0 if parent < 0 else depths[parent] + 1
        holder[group] = position
    return depths


def tree_membership(groups, n_components):
    """Row ``k`` of the result, deepest depth first: for each atom, the group of that
    depth holding it, or ``len(groups)`` when none does (``int64``)."""
    depths = tree_depths(groups, n_components)
    n_depths = int(depths.max()) + 1 if len(groups) else 1
    membership = np.full((n_depths, n_components), len(groups), dtype=np.int64)
    for position, (group, depth) in enumerate(zip(groups, depths, strict=True)):
        membership[n_depths - 1 - depth, group] = position
    return membership


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
