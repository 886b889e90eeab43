"""Device choice and seeding: CUDA when present, CPU otherwise; same seed, same numbers on CPU."""

from __future__ import annotations

import ctypes
import os
import random

import numpy as np
import torch


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
