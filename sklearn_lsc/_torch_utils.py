"""Moving data between numpy and torch, and resolving devices."""

import contextlib
import numbers

import numpy as np
import torch

_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def torch_dtype(numpy_dtype):
    """The torch floating dtype matching a numpy float32/float64 dtype."""
    return _TORCH_DTYPES[np.dtype(numpy_dtype)]


def resolve_device(device, *, param_name="device"):
    """Validate ``device`` and return the matching :class:`torch.device`.

    Accepts ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a :class:`torch.device`.
    Asking for a GPU that this machine does not have raises a ``ValueError``
    naming the parameter, instead of a torch error deep inside a fit.
    """
    if isinstance(device, torch.device):
        resolved = device
    elif isinstance(device, str):
        try:
            resolved = torch.device(device)
        except (RuntimeError, ValueError):
            raise ValueError(
                f"The '{param_name}' parameter must be 'cpu', 'cuda', 'cuda:N' or a "
                f"torch.device; got {device!r}."
            ) from None
    else:
        raise TypeError(
            f"The '{param_name}' parameter must be a str or a torch.device; got "
            f"{type(device).__name__}."
        )
    if resolved.type == "cpu":
        return torch.device("cpu")
    if resolved.type != "cuda":
        raise ValueError(
            f"The '{param_name}' parameter must be 'cpu', 'cuda', 'cuda:N' or a "
            f"torch.device; got {device!r}."
        )
    if not torch.cuda.is_available():
        raise ValueError(
            f"The '{param_name}' parameter asks for {device!r}, but CUDA is not "
            "available on this machine. Use device='cpu'."
        )
    index = resolved.index if resolved.index is not None else torch.cuda.current_device()
    if not isinstance(index, numbers.Integral) or index >= torch.cuda.device_count():
        raise ValueError(
            f"The '{param_name}' parameter asks for {device!r}, but this machine has "
            f"{torch.cuda.device_count()} CUDA device(s)."
        )
    return torch.device("cuda", index)


# Below this many multiply-adds per matrix product, torch's CPU threads cost
# more in synchronisation than they save (an online step's small products
# run faster on one thread than on two).
_SMALL_PRODUCT = 2**20


@contextlib.contextmanager
def threads_for_products(size, device):
    """Run torch on one CPU thread inside the block when products are small.

    ``size`` is the multiply-adds of the block's typical matrix product. The
    previous thread count is restored on exit. No effect on a GPU.
    """
    previous = torch.get_num_threads()
    if device.type != "cpu" or size >= _SMALL_PRODUCT or previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def optimizer_state_on_cpu():
    """Make the CPU torch's default device inside the block (no-op when it is).

    torch's optimizers keep their step counters on the CPU, but torch 2.11
    makes Adam's with no device, so on torch's default device: a user's
    ``torch.set_default_device("cuda")`` (or ``"meta"``) made training fail
    or synchronise at every step. Our own tensors always name their device.
    """
    if torch.empty(()).device.type == "cpu":  # the usual case: no mode to dispatch through
        yield
        return
    with torch.device("cpu"):
        yield


def to_tensor(array, *, device, dtype):
    """Copy a numpy array into a new tensor on ``device``.

    Always a copy: the caller's array is never shared with (and so never
    modified through) the tensor, and read-only inputs (memory maps) work.
    """
    array = np.asarray(array)
    if any(stride < 0 for stride in array.strides):
        # torch refuses negative strides (reversed views such as X[::-1]).
        array = np.ascontiguousarray(array)
    if device.type == "cpu":
        tensor = torch.tensor(array, dtype=dtype, device="cpu")
        # torch.tensor keeps a Fortran array's strides, and products of
        # column-major operands take other BLAS paths: codes differed from
        # those of a C-contiguous copy by 1e-7 on some CPUs.
        return tensor if tensor.is_contiguous() else tensor.contiguous()
    # Off the CPU the transfer is the copy: no host copy first, and no pinned
    # staging copy (a pinned staging copy measured slower than the plain one).
    # The dtype is converted on the device: torch converts a host-to-device
    # copy of another dtype on the host, in a fresh temporary.
    if not array.flags.writeable:  # torch.from_numpy warns on read-only memory
        array = array.copy()
    return torch.from_numpy(np.ascontiguousarray(array)).to(device).to(dtype)


def to_numpy(tensor, dtype):
    """Copy a tensor back to a numpy array of ``dtype`` (float32 or float64) on the host.

    Converted by torch first: numpy has no bfloat16.
    """
    return tensor.detach().to("cpu", torch_dtype(dtype)).numpy()


def argmax_rows(values, scratch):
    """``values.argmax(dim=1)``, the first index among ties; may overwrite ``scratch``.

    On the CPU, torch's arg-max along rows runs at a tenth of the speed of
    the row maxima (1472 x 256 float32, two cores: 364 against 26 us), and
    comparisons that make bool tensors are as slow. So, in float arithmetic
    alone: ``sign(values - max)`` is 0 at each row's maxima and -1
    elsewhere; ``(sign + 1) * r`` with the reversed index ``r = m - 1 - j``
    keeps ``r`` at the maxima only, and its row maximum names the first one.
    Exact for float32 (indices below 2**24). Other dtypes (float64: no
    faster this way) and devices use ``argmax``.
    """
    if values.device.type != "cpu" or values.dtype != torch.float32:
        return values.argmax(dim=1)
    n_columns = values.shape[1]
    reversed_index = torch.arange(n_columns - 1, -1, -1, dtype=values.dtype, device="cpu")
    torch.sub(values, values.amax(dim=1, keepdim=True), out=scratch).sign_()
    torch.addcmul(reversed_index, scratch, reversed_index, out=scratch)
    # A row with a NaN marks no maximum: the clamp keeps its index valid.
    return (n_columns - 1 - scratch.amax(dim=1)).long().clamp_(0, n_columns - 1)
