"""Fused CPU kernels for rescaled LISTA's inference pass (optional: numba).

The machinery is shared with the other networks' kernels
(:mod:`sklearn_lsc._fused_lista`, :mod:`sklearn_lsc._fused_lbcofb`,
:mod:`sklearn_lsc._fused_analytic`):
:func:`kernels_apply`, :func:`run`, :func:`workspace`, :func:`code_product`.

Between its two matrix products, a rescaled LISTA layer does about twenty
elementwise passes over the codes (threshold, penalties, the plane's inner
products, the candidate, the output, the next point ahead). Each is a pass
over memory, so on the CPU they cost more than the products. These kernels
do that work row by row in two passes per layer (one after each product),
each row's data staying in cache. The products with the codes skip their
zeros where they are sparse enough (:func:`code_product`); the others are
torch's BLAS. The correction's ``Y U_t`` is not a product with the dense
point ahead: each layer's ``G`` is multiplied by every later layer's ``U``
in the same sparse pass as ``G D``, and those products are carried from
layer to layer as the images are (``Y`` is a combination of the outputs).
With few atoms (NMF's models; :func:`_uses_gram`) the layers run in the
code's space instead: images ``Z (D D^T)`` rather than ``Z D``, so that no
pass runs over the features and a layer takes fewer operations.

They run when numba is installed (the ``fast`` extra), the tensors are
float32 or float64 on the CPU and the penalty is the Lasso's (signed or
nonnegative codes), except in a process forked after they ran (their
OpenMP runtime does not survive a fork); the environment variable
``SKLEARN_LSC_NUMBA=0`` turns them off.
Otherwise, or if numba fails to compile them, the network runs its torch
pass: the same arithmetic, so the same codes up to rounding.
"""

import os
import threading
import weakref

import numpy as np
import torch

from ._penalties import L1Penalty
from ._warnings import warn

_ENVIRONMENT_SWITCH = "SKLEARN_LSC_NUMBA"
_kernels = None  # the compiled kernels, False when numba is missing or failed
_compile_lock = threading.Lock()
# numba's "workqueue" threading layer must not be entered by two threads at
# once; until the layer in use is known, calls take this lock.
_call_lock = threading.Lock()
_serialize_calls = True
# Each network's inference weights (layer matrices with the correction
# appended, thresholds clamped at zero...), rebuilt when a parameter changes.
_prepared = weakref.WeakKeyDictionary()
_buffers = threading.local()
_KEPT_LAYOUTS = 4  # buffer sets kept per thread (see workspace)
# A row with at most this fraction of nonzero codes skips their zeros in a
# product with the codes (see code_product); denser rows take BLAS's.
SPARSE_DENSITY = 0.25
# numba's parallel kernels run on an OpenMP runtime that a forked child
# inherits in a state it cannot use: a child forked after they ran would hang
# in them. Such a child takes the torch pass.
_used = False
_forked_after_use = False


def _note_fork():
    global _forked_after_use
    _forked_after_use = _forked_after_use or _used


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_note_fork)


def _compile():
    """The kernels module, or None when numba is not installed."""
    try:
        from . import _fused_kernels
    except ImportError:
        return None
    return _fused_kernels


def _available_kernels():
    global _kernels
    if _kernels is None:
        with _compile_lock:
            if _kernels is None:
                _kernels = _compile() or False
    return _kernels


def kernels_apply(network, X):
    """Whether the kernels may run a network of ``network``'s dtype and device on ``X``.

    The network's own conditions (its penalty, its layers) are its module's.
    """
    if torch.compiler.is_compiling():  # first: nothing below is traced
        return False
    if switched_off():
        return False
    if _forked_after_use:
        return False
    weights = network.W
    if (
        X.device.type != "cpu"
        or weights.device.type != "cpu"
        or X.dtype not in (torch.float32, torch.float64)
        or weights.dtype != X.dtype
        or X.dim() != 2
        or X.shape[0] == 0
    ):
        return False
    return bool(_available_kernels())


def switched_off():
    """Whether the environment turns the numba kernels off (``SKLEARN_LSC_NUMBA=0``)."""
    return os.environ.get(_ENVIRONMENT_SWITCH, "1").strip().lower() in ("0", "false", "no", "off")


def applies(network, X):
    """Whether :func:`rescaled_lista_forward` can run ``network`` on ``X``."""
    return (
        type(network.penalty) is L1Penalty  # the kernels' threshold and penalty
        and network.n_layers >= 2
        and kernels_apply(network, X)
    )


def state_key(network):
    """What a network's prepared weights were made from: each parameter and buffer
    (the dictionary, the penalty's groups), its storage and version."""
    tensors = [*network.parameters(), *network.buffers()]
    return tuple((id(tensor), tensor.data_ptr(), tensor._version) for tensor in tensors)


def _prepare(network):
    """The network's inference weights in the kernels' form, kept until a parameter changes."""
    key = state_key(network)
    cached = _prepared.get(network)
    if cached is not None and cached[0] == key:
        return cached[1]
    # Ordinary tensors, even when called under inference mode, so that a later
    # call outside it may use them. Views of the parameters need no copy: the
    # key above rebuilds the entry whenever one of them changes.
    with torch.inference_mode(False), torch.no_grad():
        dtype = network.W.dtype
        correction = network.correction * network._correction_scale
        prepared = dict(
            thresholds=network.theta.clamp_min(0.0).numpy(),
            rank=network.correction_basis.shape[2],
            gains=network.gain.detach().numpy(),
            weights_ahead=(1.0 + network.momentum.detach()).numpy().astype(dtype_of(dtype)),
            dictionary=network.dictionary.detach(),
            first=network.W[0].detach(),
        )
        if not _uses_gram(*network.W.shape[1:], network.correction_basis.shape[2]):
            # [X - Y D | Y U_t] @ [W_t ; V_t / sqrt(K)]: the correction in the main product.
            prepared["weights"] = [
                torch.cat([network.W[layer], correction[layer - 1]])
                for layer in range(1, network.n_layers)
            ]
            # Layer s's G U' (every later layer's U side by side; see plane).
            bases = network.correction_basis.detach()
            prepared["later_bases"] = [
                torch.cat(list(bases[layer:]), dim=1) for layer in range(network.n_layers - 1)
            ]
        else:
            dictionary = network.dictionary.detach()
            prepared["gram"] = dictionary @ dictionary.T
            prepared["correlation_weights"] = dictionary.T.contiguous()
            # B = Y g + (X - Y D) W_t + (Y U_t) V_t s = [X | Y] [W_t ; M_t].
            prepared["gram_weights"] = [
                torch.cat(
                    [
                        network.W[layer],
                        torch.diag(network.gain[layer - 1])
                        - dictionary @ network.W[layer]
                        + network.correction_basis[layer - 1] @ correction[layer - 1],
                    ]
                )
                for layer in range(1, network.n_layers)
            ]
    _prepared[network] = (key, prepared)
    return prepared


def _uses_gram(n_features, n_components, rank):
    """Whether the layers run in the code's space (:func:`_forward_gram`).

    A layer there costs ``(n_features + 2 n_components) n_components``
    multiply-adds per row and passes over the atoms only; in the signal's
    space ``2 (n_features + rank) n_components`` and passes over the features
    too: the code's space is cheaper for dictionaries of fewer atoms than
    ``n_features / 2 + rank``.
    """
    return 2 * n_components < n_features + 2 * rank


def dtype_of(torch_dtype):
    return np.float32 if torch_dtype == torch.float32 else np.float64


def rescaled_lista_forward(network, X):
    """:meth:`RescaledLISTA._forward_in_place` with fused kernels, or None if they failed.

    Call only where :func:`applies`.
    """
    return run(_forward, network, X)


def run(forward, network, X):
    """``forward(network, X)``, a pass with the kernels, or None if they failed.

    A failure to compile (an unsupported platform) warns once and turns the
    kernels off for the session: the networks run their torch passes.
    """
    global _kernels, _serialize_calls, _used
    import numba

    _used = True
    # As many threads as torch's products use (the package runs small
    # products on one thread; a user may have set fewer).
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
    try:
        if not _serialize_calls:
            return forward(network, X)
        with _call_lock:
            code = forward(network, X)
            _serialize_calls = numba.threading_layer() == "workqueue"
        return code
    except numba.core.errors.NumbaError as error:
        disable(error)
        return None


def compiled_kernels():
    """The kernels module, or None: numba missing or failed, or turned off."""
    return None if switched_off() else (_available_kernels() or None)


def disable(error):
    """Turn the kernels off for the session after ``error`` (numba's, compiling them)."""
    global _kernels
    _kernels = False
    warn(
        f"numba could not compile sklearn-lsc's fused kernels ({error}); "
        "the torch and numpy passes run instead.",
        UserWarning,
    )


def code_product(kernels, code, matrix, out, counts, start=None, also=None):
    """``out <- code @ matrix``, or ``start - code @ matrix`` with ``start``.

    Thresholded codes are mostly zeros. A row with at most
    :data:`SPARSE_DENSITY` of its codes nonzero (``counts``: each row's
    nonzero codes, which the threshold counted) reads only the rows of
    ``matrix`` that they select; the denser rows take BLAS's product. The
    choice is each row's own (not the batch's: a row's way does not depend
    on the rows coded with it); the two ways agree up to rounding.
    ``also``, a pair ``(extra, extra_out)`` (without ``start``), adds the
    product ``extra_out <- code @ extra``, each sparse row's nonzero codes
    listed once for both.
    """
    n_samples, n_components = code.shape
    for factor, product in [(matrix, out), *([also] if also is not None else [])]:
        if factor.shape[0] != n_components or product.shape != (n_samples, factor.shape[1]):
            raise ValueError(
                f"shapes {code.shape} @ {factor.shape} -> {product.shape} do not match"
            )
    if also is not None and start is not None:
        raise ValueError("a second product is made only without start")
    limit = int(SPARSE_DENSITY * n_components)
    dense = np.flatnonzero(counts > limit)
    if dense.shape[0] == n_samples:
        if also is not None:
            torch.mm(code, also[0], out=also[1])
        if start is None:
            return torch.mm(code, matrix, out=out)
        return torch.addmm(start, code, matrix, alpha=-1.0, out=out)
    if also is not None:
        kernels.sparse_products(
            code.numpy(), matrix.numpy(), out.numpy(), also[0].numpy(), also[1].numpy(), limit
        )
    else:
        kernels.sparse_product(
            code.numpy(), matrix.numpy(), (out if start is None else start).numpy(),
            out.numpy(), start is not None, limit,
        )  # fmt: skip
    if dense.shape[0]:
        rows = torch.from_numpy(dense)
        selected = code.index_select(0, rows)
        if start is None:
            product = selected @ matrix
        else:
            product = torch.addmm(start.index_select(0, rows), selected, matrix, alpha=-1.0)
        out.index_copy_(0, rows, product)
        if also is not None:
            also[1].index_copy_(0, rows, selected @ also[0])
    return out


def workspace(allocate, n_samples, *shape):
    """This thread's reused buffers, views of their first ``n_samples`` rows.

    Fresh large buffers at every call cost page faults on their first write,
    more than the kernels that fill them. They are kept for the last few
    layouts (``allocate`` and ``shape``: networks of several kinds or shapes
    used in turn) and grown with the rows, so that a transform's last,
    shorter batch reuses its full batches' buffers.
    """
    slots = getattr(_buffers, "slots", None)
    if slots is None:
        slots = _buffers.slots = {}
    key = (allocate, *shape)
    rows, tensors = slots.pop(key, (0, None))
    if rows < n_samples:
        # Ordinary tensors, even when called under inference mode: a later
        # call outside it (a validation loss under no_grad) writes into them.
        with torch.inference_mode(False):
            rows, tensors = n_samples, allocate(n_samples, *shape)
    slots[key] = rows, tensors  # the most recently used last
    while len(slots) > _KEPT_LAYOUTS:
        del slots[next(iter(slots))]
    return {name: buffer[:n_samples] for name, buffer in tensors.items()}


def _per_row(n_samples, dtype):
    """Each row's l1 norm and linearised penalty (in ``dtype``), each code's
    ``<x, Z D>`` and ``||Z D||^2`` from one layer to the next (float64), and
    each row's number of nonzero codes."""
    return dict(
        l1=np.empty(n_samples, dtype_of(dtype)), slope=np.empty(n_samples, dtype_of(dtype)),
        fits=np.empty(n_samples), energies=np.empty(n_samples),
        counts=np.empty(n_samples, np.intp),
    )  # fmt: skip


def empty_rows(n_samples, dtype, **widths):
    """A CPU tensor ``(n_samples, width)`` of ``dtype`` for each named width."""
    return {
        name: torch.empty(n_samples, width, dtype=dtype, device="cpu")
        for name, width in widths.items()
    }


def _allocate(n_samples, n_features, n_components, rank, n_later, dtype):
    return dict(
        **empty_rows(
            n_samples, dtype, code=n_components, image=n_features, approximation=n_features,
            stacked=n_features + rank, projected=n_later, carried=n_later,
        ),
        **_per_row(n_samples, dtype),
    )  # fmt: skip


def _leading(buffer, n_samples, width):
    """The first ``n_samples * width`` entries of contiguous ``buffer``, shaped
    (n_samples, width): a contiguous buffer for each layer's width."""
    return buffer.view(-1)[: n_samples * width].view(n_samples, width)


def _allocate_gram(n_samples, n_features, n_components, dtype):
    return dict(
        **empty_rows(
            n_samples, dtype, code=n_components, image=n_components,
            approximation=n_components, correlations=n_components,
            stacked=n_features + n_components,
        ),
        **_per_row(n_samples, dtype),
    )  # fmt: skip


def _forward(network, X):
    kernels = _available_kernels()
    weights = _prepare(network)
    X = X.detach().contiguous()  # read through numpy: no autograd here
    if "gram" in weights:
        return _forward_gram(network, X, kernels, weights)
    n_samples, n_features = X.shape
    n_components, rank = network.W.shape[2], weights["rank"]
    n_layers = network.n_layers
    tiny = float(torch.finfo(X.dtype).tiny)
    alpha = float(network.penalty.alpha)
    signals = X.numpy()
    n_later = weights["later_bases"][0].shape[1]
    buffers = workspace(_allocate, n_samples, n_features, n_components, rank, n_later, X.dtype)
    l1, slope = buffers["l1"], buffers["slope"]
    # The code Z and the next layer's B (G after its threshold) swap roles
    # every layer: the one that ends holding the codes is a fresh tensor, the
    # caller's to keep. Also the images Z D and G D, [X - Y D | Y U] for the
    # product, the codes' products with the later layers' U (see plane).
    fresh = torch.empty(n_samples, n_components, dtype=X.dtype, device="cpu")
    code, step = (fresh, buffers["code"]) if n_layers % 2 else (buffers["code"], fresh)
    image, stacked = buffers["image"], buffers["stacked"]
    approximation, carried = buffers["approximation"], buffers["carried"].numpy()
    counts = buffers["counts"]
    torch.mm(X, weights["first"], out=code)
    positive = bool(network.penalty.positive)
    kernels.threshold(
        code.numpy(), weights["thresholds"][0], code.numpy(), l1, slope, positive, counts
    )
    projected = buffers["projected"]
    also = weights["later_bases"][0], projected
    code_product(kernels, code, weights["dictionary"], approximation, counts, also=also)
    kernels.first_plane(
        signals, code.numpy(), approximation.numpy(), alpha, l1, tiny,
        weights["weights_ahead"][0], weights["gains"][0], step.numpy(), stacked.numpy(),
        projected.numpy(), carried, rank, buffers["fits"], buffers["energies"],
    )  # fmt: skip
    for layer in range(1, n_layers):
        step.addmm_(stacked, weights["weights"][layer - 1])
        kernels.threshold(
            step.numpy(), weights["thresholds"][layer], code.numpy(), l1, slope, positive, counts
        )
        last = layer == n_layers - 1
        if last:
            projected = _leading(buffers["projected"], n_samples, 0)
            code_product(kernels, step, weights["dictionary"], image, counts)
        else:
            later = weights["later_bases"][layer]
            projected = _leading(buffers["projected"], n_samples, later.shape[1])
            also = later, projected
            code_product(kernels, step, weights["dictionary"], image, counts, also=also)
        following = layer if not last else 0  # unused by the last layer
        kernels.plane(
            signals, step.numpy(), image.numpy(), code.numpy(), approximation.numpy(), alpha, l1,
            slope, network._CONDITION, tiny, weights["weights_ahead"][following],
            weights["gains"][following], stacked.numpy(), projected.numpy(), carried, rank,
            buffers["fits"], buffers["energies"], last, positive,
        )  # fmt: skip
        # The new code is in ``step``; ``code`` now holds the next layer's Y g.
        code, step = step, code
        approximation, image = image, approximation
    return code


def _forward_gram(network, X, kernels, weights):
    """:func:`_forward` in the code's space (see :func:`_uses_gram`), same codes up to rounding."""
    n_samples, n_features = X.shape
    n_components = weights["gram"].shape[0]
    n_layers = network.n_layers
    tiny = float(torch.finfo(X.dtype).tiny)
    alpha = float(network.penalty.alpha)
    positive = bool(network.penalty.positive)
    buffers = workspace(_allocate_gram, n_samples, n_features, n_components, X.dtype)
    l1, slope, fits, energies, counts = (
        buffers[name] for name in ("l1", "slope", "fits", "energies", "counts")
    )
    # As in _forward, Z and the next layer's B swap roles every layer, the
    # codes ending in a fresh tensor; the images are Z Gram and G Gram, and
    # [X | Y] feeds the product.
    fresh = torch.empty(n_samples, n_components, dtype=X.dtype, device="cpu")
    code, step = (fresh, buffers["code"]) if n_layers % 2 else (buffers["code"], fresh)
    image, approximation = buffers["image"], buffers["approximation"]
    stacked, correlations = buffers["stacked"], buffers["correlations"]
    stacked[:, :n_features].copy_(X)
    ahead = stacked[:, n_features:].numpy()
    torch.mm(X, weights["correlation_weights"], out=correlations)
    torch.mm(X, weights["first"], out=code)
    kernels.threshold(
        code.numpy(), weights["thresholds"][0], code.numpy(), l1, slope, positive, counts
    )
    code_product(kernels, code, weights["gram"], approximation, counts)
    kernels.first_plane_gram(
        correlations.numpy(), code.numpy(), approximation.numpy(), alpha, l1, tiny,
        weights["weights_ahead"][0], ahead, fits, energies,
    )  # fmt: skip
    for layer in range(1, n_layers):
        torch.mm(stacked, weights["gram_weights"][layer - 1], out=step)
        kernels.threshold(
            step.numpy(), weights["thresholds"][layer], code.numpy(), l1, slope, positive, counts
        )
        code_product(kernels, step, weights["gram"], image, counts)
        last = layer == n_layers - 1
        following = layer if not last else 0  # unused by the last layer
        kernels.plane_gram(
            correlations.numpy(), step.numpy(), image.numpy(), code.numpy(),
            approximation.numpy(), alpha, l1, slope, network._CONDITION, tiny,
            weights["weights_ahead"][following], ahead, fits, energies, last, positive,
        )  # fmt: skip
        code, step = step, code
        approximation, image = image, approximation
    return code
