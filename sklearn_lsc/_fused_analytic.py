"""Fused CPU inference for the networks on an analytic weight (optional: numba).

:class:`~sklearn_lsc._networks.StepLISTA` and
:class:`~sklearn_lsc._networks.ALISTA` multiply every layer's residual by one
matrix ``W`` (``D^T / L``, or ALISTA's analytic weight), so ``(X - Y D) W =
X W - Y K`` with ``K = D W``: ``X W`` is one product for all layers, and
``Y K`` reads only the rows of ``K`` that the point ahead's nonzero entries
select. After the first, a layer costs about ``nnz(Y) n_components``
multiply-adds per row, against LISTA's ``2 n_features n_components``, in one
pass per row with the point ahead and the threshold
(:func:`sklearn_lsc._fused_kernels.analytic_network`), every layer of a row
in one go, its data in cache. A row whose point ahead has more than
:data:`sklearn_lsc._fused.SPARSE_DENSITY` of its entries nonzero goes on with
BLAS's products from that layer (each row's own choice). Same codes as the
torch pass up to rounding. Without numba, with ``SKLEARN_LSC_NUMBA=0`` or
where :func:`sklearn_lsc._fused.kernels_apply` says no, the network runs its
torch pass.
"""

import weakref

import numpy as np
import torch

from . import _fused
from ._penalties import L1Penalty

# Each network's weights in the kernel's form, rebuilt when a parameter changes.
_prepared = weakref.WeakKeyDictionary()


def applies(network, X):
    """Whether :func:`analytic_forward` can run ``network`` on ``X``."""
    return type(network.penalty) is L1Penalty and _fused.kernels_apply(network, X)


def analytic_forward(network, X):
    """The network's inference pass with the kernel; None if it failed to compile.

    ``network`` provides ``W``, ``dictionary`` and ``_layer_parameters()``
    (each layer's step, its thresholds, and the later layers' weights ``1 +
    momentum`` of the point ahead, or None without momentum). Call only
    where :func:`applies`, without autograd.
    """
    return _fused.run(_forward, network, X)


def _prepare(network):
    key = _fused.state_key(network)
    cached = _prepared.get(network)
    if cached is not None and cached[0] == key:
        return cached[1]
    dtype = _fused.dtype_of(network.W.dtype)
    # Ordinary tensors, even under inference mode (see _fused._prepare).
    with torch.inference_mode(False), torch.no_grad():
        steps, thresholds, weights = network._layer_parameters()
        W = network.W.detach()
        prepared = dict(
            W=W,
            K=network.dictionary.detach() @ W,
            steps=steps.detach().numpy().astype(dtype),
            # A threshold learned negative acts as zero (the penalty's shrink).
            thresholds=thresholds.detach().clamp_min(0.0).contiguous().numpy(),
            weights=None if weights is None else weights.detach().numpy().astype(dtype),
        )
    _prepared[network] = (key, prepared)
    return prepared


def _allocate(n_samples, n_components, dtype):
    return dict(
        **_fused.empty_rows(n_samples, dtype, correlations=n_components, previous=n_components),
        stopped=np.empty(n_samples, np.intp),
    )


def _forward(network, X):
    kernels = _fused._available_kernels()
    prepared = _prepare(network)
    X = X.detach().contiguous()
    n_samples, n_layers = X.shape[0], network.n_layers
    n_components = prepared["K"].shape[0]
    buffers = _fused.workspace(_allocate, n_samples, n_components, X.dtype)
    correlations, previous = buffers["correlations"], buffers["previous"]
    stopped = buffers["stopped"]
    code = torch.empty(n_samples, n_components, dtype=X.dtype, device="cpu")  # the caller's
    torch.mm(X, prepared["W"], out=correlations)
    weights = prepared["weights"]
    kernels.analytic_network(
        correlations.numpy(), prepared["K"].numpy(), prepared["steps"], prepared["thresholds"],
        np.ones(max(n_layers - 1, 0), prepared["steps"].dtype) if weights is None else weights,
        weights is not None, bool(network.penalty.positive),
        int(_fused.SPARSE_DENSITY * n_components), code.numpy(), previous.numpy(), stopped,
    )  # fmt: skip
    if (stopped < n_layers).any():
        _finish_dense_rows(network, prepared, stopped, correlations, code, previous)
    return code


def _finish_dense_rows(network, prepared, stopped, correlations, code, previous):
    """The layers that the kernel left to BLAS: each row from the layer where it stopped on."""
    weights, steps = prepared["weights"], prepared["steps"]
    running = np.empty(0, np.intp)
    for layer in range(1, steps.shape[0]):
        running = np.concatenate([running, np.flatnonzero(stopped == layer)])
        if running.shape[0] == 0:
            continue
        rows = torch.from_numpy(running)
        current = code.index_select(0, rows)
        ahead = current
        if weights is not None:
            ahead = torch.lerp(previous.index_select(0, rows), current, float(weights[layer - 1]))
        value = torch.addmm(correlations.index_select(0, rows), ahead, prepared["K"], alpha=-1.0)
        value.mul_(float(steps[layer])).add_(ahead)
        thresholds = torch.from_numpy(prepared["thresholds"][layer])
        previous.index_copy_(0, rows, current)
        code.index_copy_(0, rows, network.penalty.shrink(value, thresholds))
