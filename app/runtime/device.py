"""Choosing the torch device and thread count from settings."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from app.runtime.errors import ModelNotReadyError


def resolve_device(spec: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda[:N]`` must exist."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelNotReadyError(f"RNNCAST_DEVICE={spec} but CUDA is not available here")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise ModelNotReadyError(
                f"RNNCAST_DEVICE={spec} but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    return device


def available_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup v2 CPU quota
    (a container's CPU limit, which affinity does not show)."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cpus


def configure_threads(num_threads: int, workers: int) -> int:
    """Set torch's intra-op threads; 0 shares this process's CPUs among the workers."""
    if num_threads == 0:
        num_threads = max(1, available_cpus() // max(1, workers))
    torch.set_num_threads(num_threads)
    return num_threads


def batches_on_loop(batch_on: str, workers: int) -> bool:
    """``auto``: run one-step batches on the event loop when each worker has one CPU,
    where a compute thread could only take turns with the loop."""
    if batch_on == "auto":
        return available_cpus() // max(1, workers) <= 1
    return batch_on == "loop"
