"""Device choice and seeding: CUDA when present, CPU otherwise; same seed, same numbers on CPU."""

from __future__ import annotations

import ctypes
import os
import random

import numpy as np
import torch

PORTABLE_ENV = "PIPELINE_PORTABLE_MATH"
# What PIPELINE_PORTABLE_MATH=1 sets (docs/reproducibility.md, benchmarks/cross_cpu.py): MKL's
# conditional numerical reproducibility on its SSE2 code path, the same on every Intel or
# compatible CPU; ATen's kernels built without AVX instead of the AVX2/AVX-512 ones it picks per CPU.
PORTABLE_MATH = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default"}


def math_mode() -> str:
    """`portable` when PIPELINE_PORTABLE_MATH is 1, else `native` (the fastest kernels of this CPU)."""
    value = os.environ.get(PORTABLE_ENV, "0").strip().lower()
    if value in ("", "0", "false", "no"):
        return "native"
    if value in ("1", "true", "yes"):
        return "portable"
    raise ValueError(f"{PORTABLE_ENV} must be 1 or 0; got {os.environ[PORTABLE_ENV]!r}")


def apply_math_mode() -> str:
    """With PIPELINE_PORTABLE_MATH=1, make torch on the CPU compute the same numbers whatever the
    x86-64 CPU's instruction set (same params, seed and `cpu_threads`); return the mode (`native`,
    `portable`), a run tag.

    Portable: MKL and ATen take the code paths of PORTABLE_MATH, and oneDNN is switched off (nn.LSTM
    then runs on ATen and MKL; oneDNN's kernels follow the CPU's ISA). Measured on one machine with
    AVX-512, AVX2 and SSE emulated (benchmarks/cross_cpu.py, docs/reproducibility.md): identical,
    at 2.7-3.8x the CPU time. Must run before this process's first torch operation: both libraries
    pick their kernels once, at their first use, so a later call raises instead of leaving a mix.
    """
    mode = math_mode()
    if mode == "portable":
        os.environ.update(PORTABLE_MATH)
        torch.backends.mkldnn.enabled = False
        if torch.backends.cpu.get_cpu_capability() != "DEFAULT":
            raise RuntimeError(f"{PORTABLE_ENV}=1 came too late: torch already chose its "
                               f"{torch.backends.cpu.get_cpu_capability()} kernels in this process")
    return mode


def pick_device(preference: str = "auto") -> torch.device:
    """`auto` picks CUDA when available; `cpu`/`cuda` force one (cuda fails clearly if absent)."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device '{preference}' requested but CUDA is not available")
    return torch.device(preference)


def describe_device(device: torch.device) -> dict[str, str]:
    """Tags for MLflow: the device type and, on CUDA, the GPU's name."""
    info = {"device": device.type}
    if device.type == "cuda":
        info["gpu_name"] = torch.cuda.get_device_name(device)
    return info


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so CPU runs repeat exactly."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def set_cpu_threads(threads: int) -> None:
    """Cap torch's CPU threads (0 keeps torch's default).

    Small models gain nothing from more threads, and on a busy 2-core machine two spinning
    OpenMP threads per process make an epoch many times slower.
    """
    if threads:
        torch.set_num_threads(threads)


def keep_freed_memory() -> None:
    """Let glibc keep freed memory for the next step instead of handing it back to the kernel.

    A training step allocates and frees the same multi-megabyte buffers every time. By default
    glibc unmaps blocks over 128 KiB and trims the top of the heap, so the next step faults
    every page in again: 1,000-3,000 page faults per scratch-LSTM step, ~20% of its time
    (measured, docs/rnn.md). Process-wide, like the thread count; a no-op without glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: blocks up to 32 MiB come from the heap
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GiB of free heap
    except (OSError, AttributeError):
        pass
