"""Fused CPU kernels for LBCoFB's inference pass (optional: numba).

Between its two products a LBCoFB layer forms the proximal point of ``B``
(the l1 shrink, then the group shrinks of each depth of the tree), measures
how far it moves each block of the code and copies the block that moves
most. In torch that is a dozen passes over the codes and as many over the
groups' norms; the kernel does it row by row in one pass, each row's data in
cache; the product with the codes skips their zeros where they are sparse
(:func:`sklearn_lsc._fused.code_product`), the other is BLAS's. Every tree of groups and
every partition, signed or nonnegative codes: the same codes as the torch
passes up to rounding (a near tie between two blocks' moves may be broken
the other way). Without numba, with ``SKLEARN_LSC_NUMBA=0`` or where
:func:`sklearn_lsc._fused.kernels_apply` says no, the network runs its torch
pass.
"""

import weakref

import numpy as np
import torch

from . import _fused
from ._penalties import HiLassoPenalty, TreePenalty

# Each network's weights in the kernel's form, rebuilt when a parameter changes.
_prepared = weakref.WeakKeyDictionary()


def applies(network, X):
    """Whether :func:`lbcofb_forward` can run ``network`` on ``X`` (rows coded alone)."""
    return type(network.penalty) in (HiLassoPenalty, TreePenalty) and _fused.kernels_apply(
        network, X
    )


def lbcofb_forward(network, X):
    """:meth:`LBCoFB.forward` without sets, with the kernel; None if it failed to compile.

    Call only where :func:`applies`, without autograd.
    """
    return _fused.run(_forward, network, X)


def _prepare(network):
    key = _fused.state_key(network)
    cached = _prepared.get(network)
    if cached is not None and cached[0] == key:
        return cached[1]
    penalty = network.penalty
    with torch.inference_mode(False), torch.no_grad():
        if isinstance(penalty, TreePenalty):
            membership = penalty.membership
        else:  # a partition: one depth
            membership = penalty.group_index.unsqueeze(0)
        group_thresholds = network.s.detach()
        # Atoms in no group of a depth (label n_groups) are left as they are.
        starts, ends, run_groups, depth_runs = runs_of(
            membership.cpu().numpy(), skip=group_thresholds.shape[1]
        )
        block_starts, block_ends, run_blocks, _ = runs_of(penalty.block_index.cpu().numpy()[None])
        n_blocks = int(penalty.n_blocks)
        prepared = dict(
            thresholds=network.t.detach().clamp_min(0.0).numpy(),
            group_thresholds=group_thresholds.numpy(),
            layout=(starts, ends, run_groups, depth_runs, _one_run_each(run_groups, depth_runs)),
            blocks=(
                block_starts, block_ends, run_blocks, n_blocks,
                np.unique(run_blocks).shape[0] == run_blocks.shape[0] == n_blocks,
            ),
        )  # fmt: skip
    _prepared[network] = (key, prepared)
    return prepared


def runs_of(labels, skip=None):
    """Runs of equal labels along each row of ``labels`` (n_rows, n_atoms), all rows'
    runs in one list: ``(starts, ends, run_labels, row_runs)``. Run ``r`` spans
    atoms ``starts[r]`` to ``ends[r]`` with label ``run_labels[r]``; row ``d``
    holds runs ``row_runs[d]`` to ``row_runs[d + 1]``. Runs labelled ``skip``
    are left out. Unsigned (``uintp``): numba then knows the indices are not
    negative, skips the wraparound test of every access and vectorizes the
    loops over a run."""
    starts, ends, run_labels, row_runs = [], [], [], [0]
    for row in labels:
        first = np.flatnonzero(np.diff(row, prepend=row[0] - 1))
        last = np.append(first[1:], row.shape[0])
        kept = row[first] != skip
        starts.append(first[kept])
        ends.append(last[kept])
        run_labels.append(row[first][kept])
        row_runs.append(row_runs[-1] + int(kept.sum()))
    parts = [np.concatenate(part) for part in (starts, ends, run_labels)] + [row_runs]
    return tuple(np.asarray(part, dtype=np.uintp) for part in parts)


def _one_run_each(run_groups, depth_runs):
    """Whether no group has two runs within a depth."""
    return all(
        np.unique(run_groups[first:last]).shape[0] == last - first
        for first, last in zip(depth_runs[:-1], depth_runs[1:], strict=True)
    )


def _allocate(n_samples, n_features, n_components, n_sums, dtype):
    return dict(
        **_fused.empty_rows(n_samples, dtype, code=n_components, residual=n_features),
        sums=np.empty((n_samples, n_sums), _fused.dtype_of(dtype)),
        counts=np.empty(n_samples, np.intp),
    )


def _forward(network, X):
    kernels = _fused._available_kernels()
    weights = _prepare(network)
    X = X.detach().contiguous()
    n_samples, n_features = X.shape
    n_components = network.dictionary.shape[0]
    n_sums = max(weights["group_thresholds"].shape[1], weights["blocks"][3])
    buffers = _fused.workspace(_allocate, n_samples, n_features, n_components, n_sums, X.dtype)
    code, residual = buffers["code"], buffers["residual"]
    code.zero_()
    # B ends holding the codes: a fresh tensor, the caller's to keep.
    B = torch.mm(X, network.W[0].detach())
    positive = bool(network.penalty.positive)
    thresholds, group_thresholds = weights["thresholds"], weights["group_thresholds"]
    for layer in range(network.n_layers + 1):
        select = layer < network.n_layers
        kernels.prox_and_select(
            B.numpy(), code.numpy(), thresholds[layer], *weights["layout"],
            group_thresholds[layer], *weights["blocks"], buffers["sums"], positive, select,
            buffers["counts"],
        )  # fmt: skip
        if select:
            _fused.code_product(
                kernels, code, network.dictionary.detach(), residual, buffers["counts"], start=X
            )
            torch.addmm(code, residual, network.W[layer + 1].detach(), out=B)
    return B
