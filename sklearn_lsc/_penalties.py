"""Sparsity penalties: one class each, used by the solvers, the objectives and every network.

A penalty ``P`` knows its value per sample, its proximal operator (with the
thresholds that the penalty itself prescribes for a step, or with learned
thresholds: a network's layers), and the pieces rescaled LISTA needs (the
linearisation ``<s, z>`` for ``s`` a subgradient). It is a torch module
holding buffers, so that ``.to(device, dtype)`` moves it with the network
that owns it. Adding a penalty is one class here (with its tests); the
exact solvers, the objectives and every network that calls these methods
take it as it is.
"""

import copy
import numbers

import torch
from torch import nn

from ._groups import group_index, is_partition, tree_membership
from ._prox import (
    contiguous_group_size,
    group_norms,
    group_shrink,
    group_shrink_in_place,
    group_sums,
    one_sided_shrink,
    one_sided_shrink_in_place,
    scale_groups,
    soft_threshold,
    soft_threshold_in_place,
)


class L1Penalty(nn.Module):
    """``alpha ||z||_1``: the Lasso's penalty; its prox is the soft threshold.

    With ``positive=True`` the codes are also constrained to be nonnegative
    (the indicator of ``z >= 0`` is added): the prox is the one-sided shrink
    ``max(v - t, 0)``, and :meth:`value` is meant for codes that satisfy the
    constraint (:meth:`feasible` says which do).

    Parameters
    ----------
    alpha : float
        Weight of the l1 norm (nonnegative).
    positive : bool, default=False
        Whether codes are constrained to be nonnegative.
    """

    # Whether the penalty has a group term (the structured networks need one).
    grouped = False

    # Collaborative codes: the set of each row (a LongTensor of labels 0..n_sets
    # - 1) whose rows share each group's norm; None: every row alone.
    sets = None

    def __init__(self, alpha, positive=False):
        super().__init__()
        self.alpha = float(alpha)
        self.positive = bool(positive)

    def extra_repr(self):
        return f"alpha={self.alpha:g}" + (", positive=True" if self.positive else "")

    def arguments(self):
        """The constructor's keyword arguments (tensors on the CPU): what saving stores."""
        return {"alpha": self.alpha, "positive": self.positive}

    def with_sets(self, sets):
        """The same penalty over rows grouped in ``sets`` (collaborative HiLasso).

        ``sets``: a LongTensor (n_samples,) of labels ``0..n_sets - 1``, or
        None (every row its own set). The group term of a set is ``sum_g p_g
        ||Z_g||_F``, the Frobenius norm of the set's block of codes in group
        ``g``: the prox shrinks each block as one, and :meth:`value` shares
        each set's group term equally among its rows (so the rows' values
        sum to the objective). The l1 term stays per row: without groups,
        sets change nothing. A shallow copy (the buffers are shared), or
        this penalty when nothing changes.
        """
        if sets is None and self.sets is None:
            return self
        other = copy.copy(self)
        other.sets = sets
        if sets is not None:
            n_sets = int(sets.max()) + 1 if sets.numel() else 0
            other.set_sizes = torch.bincount(sets, minlength=n_sets)
        return other

    def joint(self, values):
        """Per row, the sum of ``values`` (n_samples, k) over the rows of its set.

        ``values`` itself without sets: segment sums over rows, no loop over sets.
        """
        if self.sets is None:
            return values
        totals = values.new_zeros(self.set_sizes.shape[0], *values.shape[1:])
        return totals.index_add_(0, self.sets, values).index_select(0, self.sets)

    def _row_share(self, per_set_values):
        """Per-row values (n_samples,) whose sum over a set's rows is ``per_set_values``."""
        if self.sets is None:
            return per_set_values
        return per_set_values / self.set_sizes.index_select(0, self.sets)

    def feasible(self, code):
        """Per row (shape (n_samples, 1)) whether ``code`` meets the constraint; None if none."""
        return code.amin(dim=1, keepdim=True) >= 0 if self.positive else None

    def value(self, code, scratch=None):
        """``P(z)`` of each row of ``code``, shape (n_samples,); may overwrite ``scratch``."""
        magnitudes = code.abs() if scratch is None else torch.abs(code, out=scratch)
        return self.alpha * magnitudes.sum(dim=1)

    def linearised(self, step, code, scratch=None):
        """``<s, code>`` per row, shape (n_samples,), for ``s`` a subgradient of ``P`` at ``step``.

        Per coefficient ``s`` is the sign of ``step``, or of ``code`` where
        ``step`` is zero: ``s_i z_i`` is ``|z_i|``, or ``-|z_i|`` where
        ``step_i`` and ``z_i`` have opposite signs. ``scratch`` (shaped like
        ``code``) saves the temporaries of inference.
        """
        if scratch is None:
            signs = torch.where(step != 0, step, code).sign_()
            return self.alpha * torch.linalg.vecdot(signs, code)
        # No mask (its compare and select cost a quarter of a layer on the CPU).
        opposite = torch.sign(step, out=scratch).mul_(code).neg_().relu_().sum(dim=1)
        magnitude = torch.abs(code, out=scratch).sum(dim=1)
        return self.alpha * (magnitude - 2 * opposite)

    def thresholds(self, step):
        """``(t, s)``: the l1 and group thresholds of the prox of ``step * P``.

        ``step`` is a float or a tensor of per-coefficient steps; ``s`` is
        None without groups. A network's layers start from these.
        """
        return self.alpha * step, None

    def shrink(self, values, thresholds, group_thresholds=None):
        """The prox with explicit (learned) thresholds, out of place (autograd).

        ``group_thresholds`` None applies the l1 part only (a network that
        learns no group thresholds). An l1 threshold that a network learned
        negative acts as zero.
        """
        if self.positive:
            return one_sided_shrink(values, thresholds)
        return soft_threshold(values, thresholds)

    def shrink_in_place(self, values, thresholds, scratch, group_thresholds=None):
        """:meth:`shrink` overwriting ``values``; ``scratch`` (same shape) is clobbered."""
        if self.positive:
            return one_sided_shrink_in_place(values, thresholds)
        return soft_threshold_in_place(values, thresholds, scratch)

    def prox(self, values, step):
        """Prox of ``step * P`` (``step`` a float or per coefficient), out of place."""
        return self.shrink(values, *self.thresholds(step))

    def prox_in_place(self, values, step, scratch):
        """:meth:`prox` with a float ``step``, overwriting ``values`` (``scratch``: same shape)."""
        thresholds, group_thresholds = self.thresholds(step)
        return self.shrink_in_place(values, thresholds, scratch, group_thresholds)


class GroupPenalty(L1Penalty):
    """What the penalties with a group term share: thresholds and the prox's two steps.

    The prox of ``step * P`` is the l1 shrink (one-sided with ``positive``)
    followed by the subclass's ``_group_shrink`` with thresholds ``step *
    group_penalties``.
    """

    grouped = True

    def thresholds(self, step):
        """As :meth:`L1Penalty.thresholds`, one threshold per group; per-coefficient
        steps (coordinate descent) have no group threshold: ``s`` is None."""
        if isinstance(step, torch.Tensor) and step.dim() > 0:
            return self.alpha * step, None
        return self.alpha * step, self.group_penalties * step

    def prox(self, values, step):
        if isinstance(step, torch.Tensor) and step.dim() > 0:
            raise ValueError(
                "The prox of a penalty with groups takes one step for all coefficients; "
                "per-coefficient steps (coordinate descent) suit the Lasso only."
            )
        return super().prox(values, step)

    def shrink(self, values, thresholds, group_thresholds=None):
        code = super().shrink(values, thresholds)
        if group_thresholds is None:
            return code
        return self._group_shrink(code, group_thresholds)

    def shrink_in_place(self, values, thresholds, scratch, group_thresholds=None):
        super().shrink_in_place(values, thresholds, scratch)
        if group_thresholds is None:
            return values
        return self._group_shrink_in_place(values, group_thresholds)

    def with_group_penalties(self, group_penalties):
        """The same penalty with other group weights (e.g. one row per sample).

        A shallow copy: the other buffers (the groups' layout) are shared, not
        rebuilt, since the discriminative objective asks for one per batch.
        """
        other = copy.copy(self)
        other._buffers = {**self._buffers, "group_penalties": group_penalties}
        return other

    def _joint_norms(self, squares):
        """Norms from per-row squared norms (n_samples, k): each set's, per row.

        The squares are clamped away from zero before the square root (a
        finite, zero gradient at an all-zero group).
        """
        return torch.sqrt(self.joint(squares).clamp_min(1e-30))

    def _group_shrink(self, code, group_thresholds):
        raise NotImplementedError

    def _group_shrink_in_place(self, values, group_thresholds):
        return values.copy_(self._group_shrink(values, group_thresholds))


class HiLassoPenalty(GroupPenalty):
    """``alpha ||z||_1 + sum_g p_g ||z_g||_2`` over a partition of the atoms (HiLasso).

    For non-overlapping groups the exact prox is the soft threshold followed
    by the group shrink ``z_g <- max(0, 1 - s_g / ||z_g||) z_g``.

    Parameters
    ----------
    alpha : float
        Weight of the l1 norm.
    group_index : LongTensor of shape (n_components,)
        The group of each atom.
    group_penalties : Tensor of shape (n_groups,) or (n_samples, n_groups)
        ``p_g = group_alpha * group_weights``; per row for the
        discriminative objective (known-active groups rewarded).
    group_size : int, default=None
        The common size of contiguous groups (faster operations), computed
        from ``group_index`` when None and the groups are contiguous.
    positive : bool, default=False
        Whether codes are constrained to be nonnegative: the one-sided
        shrink, then the group shrink (which keeps signs), is still the
        exact prox.
    """

    def __init__(self, alpha, group_index, group_penalties, group_size=None, positive=False):
        super().__init__(alpha, positive)
        self.register_buffer("group_index", group_index.detach().clone())
        self.register_buffer("group_penalties", group_penalties.detach().clone())
        if group_size is None:
            group_size = contiguous_group_size(group_index, group_penalties.shape[-1])
        self.group_size = group_size

    def extra_repr(self):
        return super().extra_repr() + f", n_groups={self.n_groups}"

    @property
    def n_groups(self):
        return self.group_penalties.shape[-1]

    # The blocks of block-coordinate descent: sets of atoms over which the
    # penalty is separable (here the groups themselves).
    @property
    def block_index(self):
        return self.group_index

    @property
    def n_blocks(self):
        return self.n_groups

    @property
    def block_size(self):
        return self.group_size

    def arguments(self):
        return {
            **super().arguments(),
            "group_index": self.group_index.cpu(),
            "group_penalties": self.group_penalties.cpu(),
        }

    def group_norms(self, code):
        """``||z_g||_2`` of each row and group, shape (n_samples, n_groups).

        With sets, each row holds its set's norms ``||Z_g||_F``.
        """
        if self.sets is None:
            return group_norms(code, self.group_index, self.n_groups, self.group_size)
        squares = group_sums(code * code, self.group_index, self.n_groups, self.group_size)
        return self._joint_norms(squares)

    def value(self, code, scratch=None):
        group_term = (self.group_norms(code) * self.group_penalties).sum(dim=1)
        return super().value(code, scratch) + self._row_share(group_term)

    def linearised(self, step, code, scratch=None):
        """As :meth:`L1Penalty.linearised`; per group ``s_g`` is ``step_g / ||step_g||``,
        or ``code_g / ||code_g||`` where ``step_g`` is zero."""
        if self.sets is not None:
            raise NotImplementedError("The linearisation of a penalty with sets.")
        slope = super().linearised(step, code, scratch)
        index, n_groups, size = self.group_index, self.n_groups, self.group_size
        squares = group_sums(step * step, index, n_groups, size)
        dots = group_sums(step * code, index, n_groups, size)
        along = torch.where(
            squares > 0, dots / squares.clamp_min(1e-30).sqrt(), self.group_norms(code)
        )
        return slope + (along * self.group_penalties).sum(dim=1)

    def _group_shrink(self, code, group_thresholds):
        if self.sets is None:
            return group_shrink(code, self.group_index, group_thresholds, self.group_size)
        scale = torch.relu(1.0 - group_thresholds / self.group_norms(code))
        return scale_groups(code, self.group_index, scale, self.group_size)

    def _group_shrink_in_place(self, values, group_thresholds):
        if self.group_size is None or self.sets is not None:
            return values.copy_(self._group_shrink(values, group_thresholds))
        return group_shrink_in_place(values, group_thresholds, self.group_size)


class TreePenalty(GroupPenalty):
    """``alpha ||z||_1 + sum_g p_g ||z_g||_2`` over a tree of groups (Jenatton et al. 2011).

    Any two listed groups are disjoint or nested; atoms may belong to no
    group. The exact prox is the l1 shrink, then the group shrinks
    ``z_g <- max(0, 1 - s_g / ||z_g||) z_g`` applied from the deepest groups
    to the roots (groups of one depth are disjoint: one vectorised step per
    depth). The penalty is separable over the root groups (and the atoms in
    no group): those are the blocks of block-coordinate descent.

    Parameters
    ----------
    alpha : float
        Weight of the l1 norm.
    membership : LongTensor of shape (n_depths, n_components)
        Row ``k`` (deepest depth first) gives, for each atom, the listed
        group of that depth that holds it, or ``n_groups`` when none does
        (:func:`sklearn_lsc._groups.tree_membership`).
    group_penalties : Tensor of shape (n_groups,) or (n_samples, n_groups)
        ``p_g`` per listed group.
    positive : bool, default=False
        Whether codes are constrained to be nonnegative.
    """

    group_size = None  # not a partition: no whole-partition fast paths

    def __init__(self, alpha, membership, group_penalties, positive=False):
        super().__init__(alpha, positive)
        self.register_buffer("membership", membership.detach().clone())
        self.register_buffer("group_penalties", group_penalties.detach().clone())
        n_groups = group_penalties.shape[-1]
        # Which groups sit at each depth (the last column: "no group").
        depth_mask = torch.zeros(membership.shape[0], n_groups + 1, dtype=torch.bool)
        for depth, row in enumerate(membership.cpu()):
            depth_mask[depth, row[row < n_groups]] = True
        self.register_buffer("depth_mask", depth_mask.to(membership.device))
        # Blocks: the root group holding each atom, or the atom alone.
        roots = membership[-1]
        alone = roots == n_groups
        labels = torch.where(
            alone, n_groups + torch.arange(roots.shape[0], device=roots.device), roots
        )
        blocks, block_index = torch.unique(labels, return_inverse=True)
        self.register_buffer("block_index", block_index)
        self._n_blocks = int(blocks.numel())  # once: no device sync per layer
        self.block_size = contiguous_group_size(block_index, self._n_blocks)
        # A depth whose groups are contiguous blocks of one size covering every
        # atom works on a (n_samples, n_blocks, size) view, with no scatter:
        # its block size, and the listed group of each block (a buffer).
        self._depth_sizes = []
        for depth, row in enumerate(membership.cpu()):
            groups, index = torch.unique_consecutive(row, return_inverse=True)
            size = None
            if bool((row < n_groups).all()) and groups.unique().numel() == groups.numel():
                size = contiguous_group_size(index, groups.numel())
            self._depth_sizes.append(size)
            # Not saved: derived from ``membership`` (and models saved before it load).
            self.register_buffer(
                f"_depth_groups_{depth}", groups.to(membership.device), persistent=False
            )

    def extra_repr(self):
        return (
            super().extra_repr() + f", n_groups={self.n_groups}, depths={self.membership.shape[0]}"
        )

    @property
    def n_groups(self):
        return self.group_penalties.shape[-1]

    @property
    def n_blocks(self):
        return self._n_blocks

    def arguments(self):
        return {
            **super().arguments(),
            "membership": self.membership.cpu(),
            "group_penalties": self.group_penalties.cpu(),
        }

    def _padded(self, per_group):
        """``per_group`` (``(..., n_groups)``) with a zero for "no group" appended."""
        return torch.cat([per_group, per_group.new_zeros(*per_group.shape[:-1], 1)], dim=-1)

    def _depth_norms(self, code, index):
        """Norms of the groups of one depth (``index``: its membership row), one
        column per listed group and a last for "no group"; with sets, the sets'."""
        squares = group_sums(code * code, index, self.n_groups + 1)
        return self._joint_norms(squares)

    def _shrink_depth(self, code, depth, padded_thresholds, in_place=False):
        """One depth's group shrinks (``padded_thresholds``: :meth:`_padded`);
        ``in_place`` overwrites ``code`` where the depth's layout allows."""
        size = self._depth_sizes[depth]
        if size is None:
            index = self.membership[depth]
            norms = self._depth_norms(code, index)
            scaled = scale_groups(code, index, torch.relu(1.0 - padded_thresholds / norms))
            return code.copy_(scaled) if in_place else scaled
        groups = getattr(self, f"_depth_groups_{depth}")
        blocks = (code.view if in_place else code.reshape)(code.shape[0], -1, size)
        # (One fused pass; its gradient at an all-zero block is zero.)
        norms = torch.linalg.vector_norm(blocks, dim=2)
        norms = norms.clamp_min(1e-15) if self.sets is None else self._joint_norms(norms * norms)
        factor = torch.relu(1.0 - padded_thresholds.index_select(-1, groups) / norms)
        if in_place:
            blocks.mul_(factor.unsqueeze(2))
            return code
        return (blocks * factor.unsqueeze(2)).reshape(code.shape)

    def group_norms(self, code):
        """``||z_g||_2`` of each row and listed group, shape (n_samples, n_groups).

        With sets, each row holds its set's norms ``||Z_g||_F``.
        """
        total = 0.0
        for depth, index in enumerate(self.membership):
            total = total + self._depth_norms(code, index) * self.depth_mask[depth]
        return total[:, :-1]

    def value(self, code, scratch=None):
        group_term = (self.group_norms(code) * self.group_penalties).sum(dim=1)
        return super().value(code, scratch) + self._row_share(group_term)

    def linearised(self, step, code, scratch=None):
        """As :meth:`HiLassoPenalty.linearised`, each listed group on its own."""
        if self.sets is not None:
            raise NotImplementedError("The linearisation of a penalty with sets.")
        slope = super().linearised(step, code, scratch)
        n_bins = self.n_groups + 1
        along = 0.0
        for depth, index in enumerate(self.membership):
            squares = group_sums(step * step, index, n_bins)
            dots = group_sums(step * code, index, n_bins)
            direction = torch.where(
                squares > 0,
                dots / squares.clamp_min(1e-30).sqrt(),
                group_norms(code, index, n_bins),
            )
            along = along + direction * self.depth_mask[depth]
        return slope + (along[:, :-1] * self.group_penalties).sum(dim=1)

    def _group_shrink(self, code, group_thresholds):
        """The group shrinks, deepest groups first (each depth's groups are disjoint)."""
        padded = self._padded(group_thresholds)  # "no group": threshold 0, factor 1
        for depth in range(self.membership.shape[0]):
            code = self._shrink_depth(code, depth, padded)
        return code

    def _group_shrink_in_place(self, values, group_thresholds):
        padded = self._padded(group_thresholds)
        for depth in range(self.membership.shape[0]):
            self._shrink_depth(values, depth, padded, in_place=True)
        return values


PENALTIES = {cls.__name__: cls for cls in (L1Penalty, HiLassoPenalty, TreePenalty)}


def as_penalty(penalty):
    """``penalty``, or :class:`L1Penalty` of it when it is a number (the Lasso's ``alpha``)."""
    if isinstance(penalty, L1Penalty):
        return penalty
    if isinstance(penalty, torch.Tensor | numbers.Real) and not isinstance(penalty, bool):
        return L1Penalty(float(penalty))
    raise TypeError(f"A penalty or the Lasso's alpha was expected, got {type(penalty).__name__}.")


def penalty_like(penalty, tensor):
    """A copy of ``as_penalty(penalty)`` on the device and in the dtype of ``tensor``.

    A copy: a network owns its penalty, and moving a module moves it in place.
    """
    return copy.deepcopy(as_penalty(penalty)).to(tensor.device, tensor.dtype)


def grouped_penalty_like(penalty, tensor, network):
    """:func:`penalty_like` for a ``network`` whose layers learn group thresholds."""
    if not getattr(penalty, "grouped", False):
        raise TypeError(f"{network} needs a penalty with groups, got {penalty!r}.")
    return penalty_like(penalty, tensor)


def group_penalty(alpha, groups, n_components, group_penalties, *, positive=False):
    """The penalty of parsed ``groups``: :class:`HiLassoPenalty` for a partition of
    the atoms, :class:`TreePenalty` for any other tree of groups.

    ``group_penalties`` (a tensor, one per group) sets the device and dtype;
    ``groups`` come from :func:`sklearn_lsc._groups.check_group_tree`.
    """
    device = group_penalties.device
    if is_partition(groups, n_components):
        index = torch.as_tensor(group_index(groups, n_components), device=device)
        return HiLassoPenalty(alpha, index, group_penalties, positive=positive)
    membership = torch.as_tensor(tree_membership(groups, n_components), device=device)
    return TreePenalty(alpha, membership, group_penalties, positive=positive)
