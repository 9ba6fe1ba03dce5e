"""Encoder hooks for the Lasso or, with groups, the HiLasso objective.

Shared by :class:`~sklearn_lsc.LearnedHiLassoEncoder` and
:class:`~sklearn_lsc.OnlineSparseModeler`: parsing ``groups``, the per-sample
objective (torch and numpy), the network for ``architecture``, and exact
codes. ``groups_`` None means the plain Lasso (no group term).
"""

import torch

from . import solvers
from ._groups import check_group_weights, group_index
from ._networks import NETWORKS, STRUCTURED_NETWORKS, RescaledLISTA
from ._objectives import hilasso_loss, lasso_loss
from ._prox import contiguous_group_size
from ._scale import warn_if_codes_vanish

# Exact codes used as regression targets are solved to this accuracy.
TARGET_TOL = 1e-6
TARGET_MAX_ITER = 1000


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
        self._group_index = group_index(self.groups_, n_components)
        self._group_size = contiguous_group_size(
            torch.as_tensor(self._group_index, device="cpu"), len(self.groups_)
        )

    def _group_penalties(self):
        """``group_alpha * w_g`` per group, from the parameters as they are now."""
        return self.group_alpha * check_group_weights(self.group_weights, len(self.groups_))

    def _warn_if_codes_vanish(self, X, dictionary):
        """Warn when the penalties zero every optimal code of the training rows."""
        if self.groups_ is None:
            warn_if_codes_vanish(self, X, dictionary)
        elif getattr(self, "objective", None) != "discriminative":
            # (The discriminative objective rewards known-active groups: no zero codes.)
            warn_if_codes_vanish(self, X, dictionary, self._group_index, self._group_penalties())

    def _group_tensors(self, device, dtype):
        """Group index and penalties, in the units of ``X / signal_scale_``."""
        index = torch.as_tensor(self._group_index, device=device)
        penalties = self._group_penalties() / self.signal_scale_
        return index, torch.as_tensor(penalties, device=device, dtype=dtype)

    def _objective(self, device, dtype):
        loss = self._training_objective(device, dtype)
        return lambda X, code, dictionary: loss(X, code, dictionary, None)

    def _training_objective(self, device, dtype):
        alpha = self._scaled_alpha()
        if self.groups_ is None:
            return lambda X, code, dictionary, y: lasso_loss(X, code, dictionary, alpha)
        index, penalties = self._group_tensors(device, dtype)
        group_size = self._group_size

        def loss(X, code, dictionary, y):
            # Known-active groups get the opposite sign: a reward for energy there.
            sample_penalties = penalties if y is None else penalties * (1.0 - 2.0 * y)
            return hilasso_loss(X, code, dictionary, alpha, index, sample_penalties, group_size)

        return loss

    def _build_network(self, dictionary):
        architecture = self._architecture_name()
        if architecture == "rescaled_lista" and self.groups_ is not None:
            # Its per-signal factor minimises the objective it is trained on.
            groups = self._group_tensors(dictionary.device, dictionary.dtype)
            return RescaledLISTA(dictionary, self._scaled_alpha(), self.n_layers, *groups)
        if architecture in NETWORKS:
            return NETWORKS[architecture](dictionary, self._scaled_alpha(), self.n_layers)
        index, penalties = self._group_tensors(dictionary.device, dictionary.dtype)
        return STRUCTURED_NETWORKS[architecture](
            dictionary, self._scaled_alpha(), index, penalties, self.n_layers
        )

    def _penalty(self, device, dtype):
        if self.groups_ is None:
            return solvers.Penalty(self._scaled_alpha())
        return solvers.Penalty(self._scaled_alpha(), *self._group_tensors(device, dtype))

    def _exact_codes(self, X, dictionary, init):
        with torch.no_grad():
            code, _ = solvers._solve(
                X,
                dictionary,
                self._penalty(X.device, X.dtype),
                "fista",
                TARGET_MAX_ITER,
                TARGET_TOL,
                init,
            )
        return code
