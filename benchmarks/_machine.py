"""What a benchmark result was measured on."""

import os
import platform

import sklearn
import torch

# The vector extensions that decide how fast float32 and bfloat16 products run.
VECTOR_EXTENSIONS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16")


def vector_extensions():
    """The CPU's extensions of VECTOR_EXTENSIONS, as /proc/cpuinfo lists them (None elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return ", ".join(name for name in VECTOR_EXTENSIONS if name in flags)
    except OSError:
        pass
    return None


def machine_info():
    """CPU model, cores, GPU and library versions, for every result file."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    try:  # the networks' fused CPU kernels run only with numba
        import numba

        numba_version = numba.__version__
    except ImportError:
        numba_version = None
    return {
        "cpu": cpu,
        "vector_extensions": vector_extensions(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "numba": numba_version,
    }


def torch_device(name):
    """The :class:`torch.device` a suite's ``--device`` names: ``cpu``, ``cuda`` or ``cuda:N``."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ValueError(f"The 'device' parameter must be cpu, cuda or cuda:N; got {name!r}.")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"The 'device' parameter is {name!r}, but no CUDA GPU is available.")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"The 'device' parameter is {name!r}, but this machine has "
            f"{torch.cuda.device_count()} CUDA GPU(s)."
        )
    return device
