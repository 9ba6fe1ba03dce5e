"""Fused CPU kernels for LISTA's inference pass (optional: numba).

A LISTA layer's first product, the residual ``X - Z D``, reads the codes,
which the threshold leaves mostly zero: where they are sparse enough the
kernel reads only the atoms that nonzero codes select
(:func:`sklearn_lsc._fused.code_product`), and the threshold counts them as
it goes. The second product, with the dense residual, stays with torch's
BLAS. Same codes as the torch pass up to rounding. Without numba, with
``SKLEARN_LSC_NUMBA=0`` or where :func:`sklearn_lsc._fused.kernels_apply`
says no, the network runs its torch pass.
"""

import numpy as np
import torch

from . import _fused
from ._penalties import L1Penalty


def applies(network, X):
    """Whether :func:`lista_forward` can run ``network`` on ``X``."""
    return type(network.penalty) is L1Penalty and _fused.kernels_apply(network, X)


def lista_forward(network, X):
    """:meth:`LISTA._forward_in_place` with the kernels; None if they failed to compile.

    Call only where :func:`applies`, without autograd.
    """
    return _fused.run(_forward, network, X)


def _allocate(n_samples, n_features, n_components, dtype):
    return dict(
        **_fused.empty_rows(n_samples, dtype, code=n_components, residual=n_features),
        counts=np.empty(n_samples, np.intp),
    )


def _forward(network, X):
    kernels = _fused._available_kernels()
    X = X.detach().contiguous()
    n_samples, n_features = X.shape
    n_layers, _, n_components = network.W.shape
    weights = network.W.detach()
    dictionary = network.dictionary.detach()
    thresholds = network.theta.detach().clamp_min(0.0).numpy()
    positive = bool(network.penalty.positive)
    buffers = _fused.workspace(_allocate, n_samples, n_features, n_components, X.dtype)
    residual, counts = buffers["residual"], buffers["counts"]
    # The codes and the next layer's pre-activation swap roles every layer:
    # the one that ends holding the codes is a fresh tensor, the caller's.
    fresh = torch.empty(n_samples, n_components, dtype=X.dtype, device="cpu")
    code, spare = (fresh, buffers["code"]) if n_layers % 2 else (buffers["code"], fresh)
    torch.mm(X, weights[0], out=code)
    kernels.shrink(code.numpy(), thresholds[0], positive, counts)
    for layer in range(1, n_layers):
        _fused.code_product(kernels, code, dictionary, residual, counts, start=X)
        torch.addmm(code, residual, weights[layer], out=spare)
        code, spare = spare, code
        kernels.shrink(code.numpy(), thresholds[layer], positive, counts)
    return code
