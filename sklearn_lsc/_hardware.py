"""Whether a device multiplies bfloat16 natively (else bfloat16 is emulated, and slow)."""

import functools
import platform
import subprocess

import torch

# x86 flags of native bfloat16 products (AVX-512 BF16 dot products, AMX tiles).
_X86_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def _cpu_bfloat16():
    """``(native, reason)``: True/False, or None where it cannot be told."""
    machine = platform.machine().lower()
    if platform.system() == "Linux":
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
                text = cpuinfo.read()
        except OSError:
            return None, "unknown CPU"
        for line in text.splitlines():
            key = line.split(":", 1)[0].strip()
            if key in ("flags", "Features"):
                flags = set(line.split(":", 1)[1].split())
                if key == "Features":  # ARM: the BF16 extension
                    return ("bf16" in flags), "this ARM CPU lacks the BF16 extension"
                native = any(flag in flags for flag in _X86_BFLOAT16_FLAGS)
                return native, "this CPU has neither AVX-512 BF16 nor AMX"
        return None, "unknown CPU"
    if platform.system() == "Darwin" and machine in ("arm64", "aarch64"):
        try:
            answer = subprocess.run(
                ["sysctl", "-n", "hw.optional.arm.FEAT_BF16"],
                capture_output=True, text=True, timeout=5, check=False,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None, "unknown CPU"
        return answer.stdout.strip() == "1", "this Apple CPU lacks the BF16 extension"
    return None, "unknown CPU"


def native_bfloat16(device):
    """``(native, reason)`` for ``device``: True, False (with why) or None (unknown)."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return (
            major >= 8,
            f"this GPU (compute capability {major}.{minor}) has no bfloat16 tensor cores",
        )
    if device.type == "cpu":
        return _cpu_bfloat16()
    return None, f"unknown device {device.type}"
