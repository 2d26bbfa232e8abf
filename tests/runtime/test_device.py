"""Device and CPU choices made from settings and the machine."""

from __future__ import annotations

import os

import pytest
import torch

from app.runtime.device import available_cpus, batches_on_loop, configure_threads, resolve_device


def test_available_cpus_is_at_most_the_affinity() -> None:
    assert 1 <= available_cpus() <= len(os.sched_getaffinity(0))


def test_threads_default_to_the_cpus_shared_among_workers() -> None:
    before = torch.get_num_threads()
    try:
        assert configure_threads(0, workers=1) == available_cpus()
        assert configure_threads(0, workers=available_cpus() * 2) == 1
        assert configure_threads(3, workers=1) == 3 and torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("batch_on", "workers", "expected"),
    [("loop", 1, True), ("thread", 1, False), ("auto", 10_000, True)],
)
def test_where_batches_run(batch_on: str, workers: int, expected: bool) -> None:
    assert batches_on_loop(batch_on, workers) is expected


def test_auto_keeps_the_thread_when_a_worker_has_spare_cpus() -> None:
    if available_cpus() < 2:
        pytest.skip("this machine gives the process one CPU")
    assert batches_on_loop("auto", workers=1) is False


def test_cpu_device_resolves_without_cuda() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
