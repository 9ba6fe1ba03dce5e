"""Moving data between numpy and torch, and resolving devices."""

import contextlib
import numbers

import numpy as np
import torch

_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def torch_dtype(numpy_dtype):
    """The torch floating dtype matching a numpy float32/float64 dtype."""
    return _TORCH_DTYPES[np.dtype(numpy_dtype)]


def available_accelerator():
    """``(type, count)`` of the accelerator this torch can use, or None.

    Through torch's accelerator API where it exists (torch 2.6 and later:
    CUDA, ROCm, MPS, XPU and others), else CUDA and MPS by their own checks.
    """
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None:
        if not accelerator.is_available():
            return None
        return accelerator.current_accelerator().type, accelerator.device_count()
    if torch.cuda.is_available():
        return "cuda", torch.cuda.device_count()
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps", 1
    return None


def _current_index(device_type):
    if device_type == "cuda":
        return torch.cuda.current_device()
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is None:
        return 0
    # current_device_index from torch 2.7; torch 2.6 named it current_device_idx.
    current = getattr(accelerator, "current_device_index", None)
    return (current or accelerator.current_device_idx)()


def resolve_device(device, *, param_name="device"):
    """Validate ``device`` and return the matching :class:`torch.device`.

    Accepts ``"auto"`` (the accelerator torch can use, else the CPU), any
    device name torch knows (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``,
    ``"xpu"``...) or a :class:`torch.device`. Asking for a device that this
    machine does not have raises a ``ValueError`` naming the parameter,
    instead of a torch error deep inside a fit.
    """
    if isinstance(device, str) and device == "auto":
        accelerator = available_accelerator()
        if accelerator is None:
            return torch.device("cpu")
        return torch.device(accelerator[0], _current_index(accelerator[0]))
    expected = (
        f"The '{param_name}' parameter must be 'auto', a torch device name ('cpu', 'cuda', "
        "'cuda:N', 'mps', ...) or a torch.device"
    )
    if isinstance(device, torch.device):
        resolved = device
    elif isinstance(device, str):
        try:
            resolved = torch.device(device)
        except (RuntimeError, ValueError):
            raise ValueError(f"{expected}; got {device!r}.") from None
    else:
        raise TypeError(f"{expected}; got {type(device).__name__}.")
    if resolved.type == "cpu":
        return torch.device("cpu")
    if resolved.type == "meta":
        raise ValueError(f"{expected}; got {device!r}, which computes nothing.")
    # Only now, not for the CPU: nothing of an accelerator's runtime is touched.
    accelerator = available_accelerator()
    if accelerator is None or accelerator[0] != resolved.type:
        available = "the CPU only" if accelerator is None else f"the CPU and {accelerator[0]!r}"
        raise ValueError(
            f"The '{param_name}' parameter asks for {device!r}, but this machine's torch "
            f"can use {available}. Use device='cpu' or device='auto'."
        )
    index = resolved.index if resolved.index is not None else _current_index(resolved.type)
    if not isinstance(index, numbers.Integral) or index >= accelerator[1]:
        raise ValueError(
            f"The '{param_name}' parameter asks for {device!r}, but this machine has "
            f"{accelerator[1]} {resolved.type} device(s)."
        )
    return torch.device(resolved.type, index)


def synchronize(device):
    """Wait for the work queued on ``device`` (for timing); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type != "cpu":
        accelerator = getattr(torch, "accelerator", None)
        if accelerator is not None and hasattr(accelerator, "synchronize"):
            accelerator.synchronize(device)
        elif device.type == "mps":  # torch before the accelerator API
            torch.mps.synchronize()


# Devices without float64 arithmetic.
_NO_FLOAT64 = ("mps",)


def exact_device(device):
    """Where float64 work for ``device`` runs: the device itself, or the CPU if it has none."""
    return torch.device("cpu") if device.type in _NO_FLOAT64 else device


def check_float64_support(device, dtype):
    """Refuse float64 on a device that has none (Apple's MPS), with what to do instead."""
    if dtype == torch.float64 and device.type in _NO_FLOAT64:
        raise ValueError(
            f"The {device.type!r} device has no float64 arithmetic: pass float32 data "
            "(X.astype(np.float32)) or use device='cpu'."
        )


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


def all_finite(tensor):
    """Whether every entry of ``tensor`` is finite.

    A sum with a NaN or an infinity in it is not finite, so a finite sum
    settles it in one cheap reduction; only a sum that overflowed from
    finite entries needs the elementwise test.
    """
    if bool(torch.isfinite(tensor.sum())):
        return True
    return bool(torch.isfinite(tensor).all())


def to_tensor(array, *, device, dtype):
    """Copy a numpy array into a new tensor on ``device``.

    Always a copy: the caller's array is never shared with (and so never
    modified through) the tensor, and read-only inputs (memory maps) work.
    """
    check_float64_support(device, dtype)
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
