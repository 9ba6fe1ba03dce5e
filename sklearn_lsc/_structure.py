"""Encoder hooks for the Lasso or, with groups, the HiLasso penalty.

Shared by :class:`~sklearn_lsc.LearnedHiLassoEncoder` and
:class:`~sklearn_lsc.OnlineSparseModeler`: parsing ``groups``, the penalty
(from which the base class derives the objective, the network and exact
codes) and the discriminative objective. ``groups_`` None means the plain
Lasso (no group term).
"""

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from ._docstrings import fill_doc
from ._groups import check_group_weights, group_index, is_partition, tree_membership
from ._objectives import sparse_coding_loss
from ._penalties import HiLassoPenalty, L1Penalty, TreePenalty
from ._prox import contiguous_group_size, group_sums
from ._scale import warn_if_codes_vanish
from ._torch_utils import exact_device, to_numpy


@fill_doc
class GroupObjectiveMixin:
    """Hooks of :class:`~sklearn_lsc._base.LearnedEncoderBase` for (Hi)Lasso models.

    Subclasses define ``_parsed_groups(n_components)`` (a partition or None)
    and ``_architecture_name()``, and have ``alpha``, ``group_alpha``,
    ``group_weights`` and ``n_layers`` parameters.
    """

    def _check_structure(self, n_components):
        self.groups_ = self._parsed_groups(n_components)
        if self.groups_ is None:
            return
        check_group_weights(self.group_weights, len(self.groups_))
        self._membership = None  # a tree of groups: each depth's groups, deepest first
        if not is_partition(self.groups_, n_components):
            self._membership = tree_membership(self.groups_, n_components)
            return
        self._group_index = group_index(self.groups_, n_components)
        self._group_size = contiguous_group_size(
            torch.as_tensor(self._group_index, device="cpu"), len(self.groups_)
        )

    def group_energies(self, X):
        """Compute the l2 norm of each group of the codes of ``X``.

        Large energies mark the groups (sources, classes) present in a signal.
        With a tree of groups, one column per listed group (nested ones too).

        %(signal_parameters)s

        Returns
        -------
        energies : ndarray of shape (n_samples, n_groups)
            ``||z_g||_2`` for each sample and group, in the dtype of ``X``.
        """
        return self._group_energies(X)

    def _group_energies(self, X, sets=None):
        """:meth:`group_energies` of the codes of ``X`` coded in ``sets`` (None: rows alone)."""
        check_is_fitted(self)
        if self.groups_ is None:
            raise ValueError(
                f"group_energies needs groups: this {type(self).__name__} was fitted "
                "with groups=None (the Lasso)."
            )
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        labels = self._check_sets(sets, X.shape[0])
        energies = np.empty((X.shape[0], len(self.groups_)), dtype=X.dtype)
        for rows, code, _ in self._encoded_batches(X, labels=labels):
            # In float64 (on the CPU where the device has none), relative to
            # each row's largest coefficient: no overflow.
            code = code.to(exact_device(code.device), torch.float64)
            peak = code.abs().amax(dim=1, keepdim=True)
            scaled = code / torch.where(peak > 0, peak, torch.ones_like(peak))
            squares = self._listed_group_sums(scaled * scaled)
            energies[rows] = to_numpy(squares.sqrt() * peak, X.dtype)
        return energies

    def _listed_group_sums(self, values):
        """Per row, the sum of ``values`` over each listed group: (n_samples, n_groups)."""
        n_groups = len(self.groups_)
        membership = self._tree_membership()
        if membership is None:
            index = torch.as_tensor(self._group_index, device=values.device)
            return group_sums(values, index, n_groups)
        # A tree: each listed group sits at one depth; the last column holds
        # the atoms in no group of that depth.
        total = values.new_zeros(values.shape[0], n_groups + 1)
        for row in torch.as_tensor(membership, device=values.device):
            total += group_sums(values, row, n_groups + 1)
        return total[:, :-1]

    def _tree_membership(self):
        """The tree's membership rows, or None for a partition (and models saved before trees)."""
        return getattr(self, "_membership", None)

    def _group_penalties(self):
        """``group_alpha * w_g`` per group, from the parameters as they are now."""
        return self.group_alpha * check_group_weights(self.group_weights, len(self.groups_))

    def _warn_if_codes_vanish(self, X, dictionary, labels=None):
        """Warn when the penalties zero every optimal code of the training rows."""
        if self.groups_ is None or self._tree_membership() is not None or labels is not None:
            # (For a tree or sets, only the l1 condition: sufficient, never a
            # false alarm; a set's joint norms exceed its rows' own.)
            warn_if_codes_vanish(self, X, dictionary)
        elif getattr(self, "objective", None) != "discriminative":
            # (The discriminative objective rewards known-active groups: no zero codes.)
            warn_if_codes_vanish(self, X, dictionary, self._group_index, self._group_penalties())

    def _penalty(self, device, dtype):
        """The Lasso's penalty, or HiLasso's with ``groups_``, in the units of ``X / scale``."""
        alpha = self._scaled_alpha()
        if self.groups_ is None:
            return L1Penalty(alpha, positive=self.positive)
        penalties = self._group_penalties() / self.signal_scale_
        penalties = torch.as_tensor(penalties, device=device, dtype=dtype)
        if self._tree_membership() is not None:
            membership = torch.as_tensor(self._tree_membership(), device=device)
            return TreePenalty(alpha, membership, penalties, positive=self.positive)
        index = torch.as_tensor(self._group_index, device=device)
        return HiLassoPenalty(
            alpha, index, penalties, group_size=self._group_size, positive=self.positive
        )

    def _training_objective(self, device, dtype):
        penalty = self._penalty(device, dtype)
        if self.groups_ is None:
            return lambda X, code, dictionary, y, sets=None: sparse_coding_loss(
                X, code, dictionary, penalty
            )

        def loss(X, code, dictionary, y, sets=None):
            if y is not None:
                # Known-active groups get the opposite sign: a reward for energy there.
                penalties = penalty.group_penalties * (1.0 - 2.0 * y)
                rewarded = penalty.with_group_penalties(penalties).with_sets(sets)
                return sparse_coding_loss(X, code, dictionary, rewarded)
            return sparse_coding_loss(X, code, dictionary, penalty.with_sets(sets))

        return loss
