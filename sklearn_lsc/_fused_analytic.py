"""Fused CPU inference for the networks on an analytic weight (optional: numba).

:class:`~sklearn_lsc._networks.StepLISTA` and
:class:`~sklearn_lsc._networks.ALISTA` multiply every layer's residual by one
matrix ``W`` (``D^T P``, or ALISTA's analytic weight), so ``(X - Y D) W =
X W - Y K`` with ``K = D W``: ``X W`` is one product for all layers, and
``Y K`` reads only the rows of ``K`` that the point ahead's nonzero entries
select. After the first, a layer costs about ``nnz(Y) n_components``
multiply-adds per row, against LISTA's ``2 n_features n_components``, in one
pass per row with the point ahead and the threshold
(:func:`sklearn_lsc._fused_kernels.analytic_network`), every layer of a row
in one go, its data in cache. A row whose point ahead is too dense for that
to pay (:func:`_sparse_limit`) stops there; the stopped rows go on with
BLAS's products from that layer when they are more than
:data:`_KERNEL_FINISH` of the batch, else in the kernel, densely. Where
most rows of the batch are dense from the start, the batch's layers are
all BLAS's. Same codes as the
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
# Rows that the kernel stopped (too dense for its sparse product) go on with
# BLAS's products when more than this fraction of the batch; fewer finish in
# the kernel, densely (gathering them for BLAS costs more than it saves).
_KERNEL_FINISH = 0.25


def applies(network, X):
    """Whether :func:`analytic_forward` can run ``network`` on ``X``."""
    return type(network.penalty) is L1Penalty and _fused.kernels_apply(network, X)


def analytic_forward(network, X):
    """The network's inference pass with the kernel; None if it failed to compile.

    ``network`` provides ``W``, ``dictionary``, ``_layer_parameters()``
    (each layer's step, its thresholds, and the later layers' weights ``1 +
    momentum`` of the point ahead, or None without momentum) and its torch
    pass ``_forward_in_place_torch``. Call only
    where :func:`applies`, without autograd.
    """
    return _fused.run(_forward, network, X)


def _prepare(network):
    # The thresholds scale with the penalty's alpha, a float: in the key too.
    key = (_fused.state_key(network), id(network.penalty), float(network.penalty.alpha))
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


def _allocate(n_samples, n_features, n_components, dtype):
    return dict(
        **_fused.empty_rows(
            n_samples, dtype, correlations=n_components, previous=n_components,
            ahead=n_components, spare=n_components, residual=n_features,
        ),
        counts=np.empty(n_samples, np.intp),
        stopped=np.empty(n_samples, np.intp),
    )  # fmt: skip


def _forward(network, X):
    kernels = _fused._available_kernels()
    prepared = _prepare(network)
    X = X.detach().contiguous()
    (n_samples, n_features), n_layers = X.shape, network.n_layers
    n_components = prepared["K"].shape[0]
    buffers = _fused.workspace(_allocate, n_samples, n_features, n_components, X.dtype)
    correlations, previous = buffers["correlations"], buffers["previous"]
    positive = bool(network.penalty.positive)
    code = torch.empty(n_samples, n_components, dtype=X.dtype, device="cpu")  # the caller's
    torch.mm(X, prepared["W"], out=correlations)
    torch.mul(correlations, float(prepared["steps"][0]), out=code)
    counts = buffers["counts"]
    kernels.shrink(code.numpy(), prepared["thresholds"][0], positive, counts)
    if n_layers == 1:
        return code
    limit = _sparse_limit(n_features, n_components)
    if 2 * np.count_nonzero(counts > limit) > n_samples:
        # Mostly dense codes (the second layer's point ahead has the first
        # layer's nonzero entries): BLAS's products for every row.
        return _dense_layers(kernels, network, prepared, buffers, X, code)
    weights = prepared["weights"]
    stopped = buffers["stopped"]

    def kernel_layers(start, limit):
        kernels.analytic_network(
            correlations.numpy(), prepared["K"].numpy(), prepared["steps"],
            prepared["thresholds"],
            np.ones(n_layers - 1, prepared["steps"].dtype) if weights is None else weights,
            weights is not None, positive, limit, start, code.numpy(), previous.numpy(), stopped,
        )  # fmt: skip

    stopped.fill(1)
    kernel_layers(stopped, limit)
    left = np.count_nonzero(stopped < n_layers)
    if left > _KERNEL_FINISH * n_samples:
        _finish_dense_rows(kernels, network, prepared, stopped, X, correlations, code, previous)
    elif left:
        # A few dense rows: on in the kernel with every entry's row of K,
        # rather than a dozen small BLAS calls per layer on gathered copies.
        kernel_layers(stopped, n_components)
    return code


def _through_residual(X, prepared):
    """Whether a dense row's product is better made as ``(X - Y D) W`` (the torch
    pass's: ``2 n_features`` multiply-adds per atom) than as ``C - Y K``
    (``n_components``)."""
    return 2 * X.shape[1] < prepared["K"].shape[0]


def _blas_layer(kernels, network, prepared, layer, signals, correlations, current, previous,
                out, ahead=None, residual=None):  # fmt: skip
    """Layer ``layer``'s output for the rows of ``current`` into ``out``, with BLAS's products.

    ``previous`` holds the rows' output of the layer before (not read at the
    second layer: it is zero). The product is ``(X - Y D) W`` when the rows'
    ``signals`` are given (:func:`_through_residual`), else ``C - Y K`` from
    their ``correlations``. ``ahead`` and ``residual``: scratch of the rows'
    shapes, or None for fresh tensors.
    """
    weights = prepared["weights"]
    if weights is None:
        ahead = current
    elif layer == 1:  # the previous codes are zero
        ahead = torch.mul(current, float(weights[0]), out=ahead)
    else:
        ahead = torch.lerp(previous, current, float(weights[layer - 1]), out=ahead)
    if signals is not None:
        residual = torch.addmm(signals, ahead, network.dictionary, alpha=-1.0, out=residual)
        torch.mm(residual, prepared["W"], out=out)
    else:
        torch.addmm(correlations, ahead, prepared["K"], alpha=-1.0, out=out)
    out.mul_(float(prepared["steps"][layer])).add_(ahead)
    counts = np.empty(out.shape[0], np.intp)  # the shrink counts the codes; unused here
    positive = bool(network.penalty.positive)
    kernels.shrink(out.numpy(), prepared["thresholds"][layer], positive, counts)


def _dense_layers(kernels, network, prepared, buffers, X, code):
    """The layers after the first for every row with BLAS's products, in the workspace;
    ``code`` holds the first layer's output and receives the last's."""
    signals = X if _through_residual(X, prepared) else None
    current, previous, spare = code, buffers["previous"], buffers["spare"]
    for layer in range(1, prepared["steps"].shape[0]):
        _blas_layer(
            kernels, network, prepared, layer, signals, buffers["correlations"], current,
            previous, spare, buffers["ahead"], buffers["residual"],
        )  # fmt: skip
        previous, current, spare = current, spare, previous
    if current is not code:
        code.copy_(current)
    return code


def _sparse_limit(n_features, n_components):
    """The most nonzero entries of a point ahead that the kernel's product takes.

    A dense row's product costs ``min(n_components, 2 n_features)``
    multiply-adds per atom (``Y K``, or the residual's two products, whichever
    is fewer), at BLAS's rate; the kernel's, one per nonzero entry and atom,
    at a few times less: it takes rows with at most
    :data:`sklearn_lsc._fused.SPARSE_DENSITY` of the dense row's count.
    """
    return int(_fused.SPARSE_DENSITY * min(n_components, 2 * n_features))


def _finish_dense_rows(kernels, network, prepared, stopped, X, correlations, code, previous):
    """The layers that the kernel left to BLAS: each row from the layer where it stopped on."""
    through_residual = _through_residual(X, prepared)
    running = np.empty(0, np.intp)
    for layer in range(1, prepared["steps"].shape[0]):
        running = np.concatenate([running, np.flatnonzero(stopped == layer)])
        if running.shape[0] == 0:
            continue
        rows = torch.from_numpy(running)
        current = code.index_select(0, rows)
        out = torch.empty_like(current)
        _blas_layer(
            kernels, network, prepared, layer,
            X.index_select(0, rows) if through_residual else None,
            None if through_residual else correlations.index_select(0, rows),
            current, previous.index_select(0, rows) if layer > 1 else None, out,
        )  # fmt: skip
        previous.index_copy_(0, rows, current)
        code.index_copy_(0, rows, out)
