"""Fused CPU kernels for rescaled LISTA's inference pass (optional: numba).

Between its two matrix products, a rescaled LISTA layer does about twenty
elementwise passes over the codes (threshold, penalties, the plane's inner
products, the candidate, the output, the next point ahead). Each is a pass
over memory, so on the CPU they cost more than the products. These kernels
do that work row by row in two passes per layer (one after each product),
each row's data staying in cache, with the products left to torch's BLAS.

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


def applies(network, X):
    """Whether :func:`rescaled_lista_forward` can run ``network`` on ``X``."""
    if os.environ.get(_ENVIRONMENT_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if _forked_after_use:
        return False
    weights = network.W
    if (
        type(network.penalty) is not L1Penalty  # the kernels' threshold and penalty
        or network.n_layers < 2
        or X.device.type != "cpu"
        or weights.device.type != "cpu"
        or X.dtype not in (torch.float32, torch.float64)
        or weights.dtype != X.dtype
        or X.dim() != 2
        or X.shape[0] == 0
        or torch.compiler.is_compiling()
    ):
        return False
    return bool(_available_kernels())


def _prepare(network):
    """The network's inference weights in the kernels' form, kept until a parameter changes."""
    tensors = [*network.parameters(), network.dictionary]
    key = tuple((id(tensor), tensor.data_ptr(), tensor._version) for tensor in tensors)
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
            # [X - Y D | Y U_t] @ [W_t ; V_t / sqrt(K)]: the correction in the main product.
            weights=[
                torch.cat([network.W[layer], correction[layer - 1]])
                for layer in range(1, network.n_layers)
            ],
            bases=network.correction_basis.detach(),
            gains=network.gain.detach().numpy(),
            weights_ahead=(1.0 + network.momentum.detach()).numpy().astype(dtype_of(dtype)),
            dictionary=network.dictionary.detach(),
            first=network.W[0].detach(),
        )
    _prepared[network] = (key, prepared)
    return prepared


def dtype_of(torch_dtype):
    return np.float32 if torch_dtype == torch.float32 else np.float64


def rescaled_lista_forward(network, X):
    """:meth:`RescaledLISTA._forward_in_place` with fused kernels, or None if they failed.

    Call only where :func:`applies`. A failure to compile (an unsupported
    platform) warns once and turns the kernels off for the session.
    """
    global _kernels, _serialize_calls, _used
    import numba

    _used = True
    # As many threads as torch's products use (the package runs small
    # products on one thread; a user may have set fewer).
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
    try:
        if not _serialize_calls:
            return _forward(network, X)
        with _call_lock:
            code = _forward(network, X)
            _serialize_calls = numba.threading_layer() == "workqueue"
        return code
    except numba.core.errors.NumbaError as error:
        _kernels = False
        warn(
            f"numba could not compile sklearn-lsc's fused kernels ({error}); "
            "rescaled LISTA runs its torch pass instead.",
            UserWarning,
        )
        return None


def _workspace(n_samples, n_features, n_components, rank, dtype):
    """This thread's reused buffers for a batch of this shape (the last shape only).

    Fresh large buffers at every call cost page faults on their first write,
    more than the kernels that fill them.
    """
    key = (n_samples, n_features, n_components, rank, dtype)
    if getattr(_buffers, "key", None) != key:
        _buffers.key = key
        # Ordinary tensors, even when called under inference mode: a later
        # call outside it (a validation loss under no_grad) writes into them.
        with torch.inference_mode(False):
            _buffers.tensors = _allocate(n_samples, n_features, n_components, rank, dtype)
    return _buffers.tensors


def _allocate(n_samples, n_features, n_components, rank, dtype):
    return dict(
        code=torch.empty(n_samples, n_components, dtype=dtype, device="cpu"),
        ahead=torch.empty(n_samples, n_components, dtype=dtype, device="cpu"),
        image=torch.empty(n_samples, n_features, dtype=dtype, device="cpu"),
        approximation=torch.empty(n_samples, n_features, dtype=dtype, device="cpu"),
        stacked=torch.empty(n_samples, n_features + rank, dtype=dtype, device="cpu"),
        l1=np.empty(n_samples, dtype_of(dtype)),
        slope=np.empty(n_samples, dtype_of(dtype)),
        # Each code's <x, Z D> and ||Z D||^2, from one layer to the next.
        fits=np.empty(n_samples),
        energies=np.empty(n_samples),
    )


def _forward(network, X):
    kernels = _available_kernels()
    weights = _prepare(network)
    X = X.detach().contiguous()  # read through numpy: no autograd here
    n_samples, n_features = X.shape
    n_components, rank = weights["bases"].shape[1:]
    n_layers = network.n_layers
    tiny = float(torch.finfo(X.dtype).tiny)
    alpha = float(network.penalty.alpha)
    signals = X.numpy()
    buffers = _workspace(n_samples, n_features, n_components, rank, X.dtype)
    l1, slope = buffers["l1"], buffers["slope"]
    # The code Z and the next layer's B (G after its threshold) swap roles
    # every layer: the one that ends holding the codes is a fresh tensor, the
    # caller's to keep. Also the point ahead Y, the images Z D and G D, and
    # [X - Y D | Y U] for the product.
    fresh = torch.empty(n_samples, n_components, dtype=X.dtype, device="cpu")
    code, step = (fresh, buffers["code"]) if n_layers % 2 else (buffers["code"], fresh)
    ahead, image, stacked = buffers["ahead"], buffers["image"], buffers["stacked"]
    approximation = buffers["approximation"]
    residual = stacked[:, :n_features].numpy()
    torch.mm(X, weights["first"], out=code)
    positive = bool(network.penalty.positive)
    kernels.threshold(code.numpy(), weights["thresholds"][0], code.numpy(), l1, slope, positive)
    torch.mm(code, weights["dictionary"], out=approximation)
    kernels.first_plane(
        signals, code.numpy(), approximation.numpy(), alpha, l1, tiny,
        weights["weights_ahead"][0], weights["gains"][0], ahead.numpy(), step.numpy(), residual,
        buffers["fits"], buffers["energies"],
    )  # fmt: skip
    for layer in range(1, n_layers):
        torch.mm(ahead, weights["bases"][layer - 1], out=stacked[:, n_features:])
        step.addmm_(stacked, weights["weights"][layer - 1])
        kernels.threshold(
            step.numpy(), weights["thresholds"][layer], code.numpy(), l1, slope, positive
        )
        torch.mm(step, weights["dictionary"], out=image)
        last = layer == n_layers - 1
        following = layer if not last else 0  # unused by the last layer
        kernels.plane(
            signals, step.numpy(), image.numpy(), code.numpy(), approximation.numpy(), alpha, l1,
            slope, network._CONDITION, tiny, weights["weights_ahead"][following],
            weights["gains"][following], ahead.numpy(), residual, buffers["fits"],
            buffers["energies"], last, positive,
        )  # fmt: skip
        # The new code is in ``step``; ``code`` now holds the next layer's Y g.
        code, step = step, code
        approximation, image = image, approximation
    return code
