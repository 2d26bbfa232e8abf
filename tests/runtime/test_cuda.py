"""The runtime on a CUDA device; skipped with the reason where there is none.

Run on a GPU machine with: RNNCAST_DEVICE=cuda pytest -m cuda tests/runtime
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from app.runtime.device import resolve_device
from app.runtime.forecaster import Forecaster
from app.runtime.seeding import series_keys
from tests.factories import fresh_draw

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
]


@pytest.fixture(scope="module")
def pair(tiny_artifact: Path) -> tuple[Forecaster, Forecaster]:
    device = resolve_device(os.environ.get("RNNCAST_DEVICE", "cuda"))
    return (Forecaster.load(tiny_artifact, torch.device("cpu"), "cpu"),
            Forecaster.load(tiny_artifact, device, "gpu"))


def test_auto_picks_cuda() -> None:
    assert resolve_device("auto").type == "cuda"


def test_one_step_rolling_and_walk_forward_match_cpu(pair: tuple[Forecaster, Forecaster]) -> None:
    cpu, gpu = pair
    assert gpu.device.type == "cuda"
    histories = np.stack([fresh_draw(100, s) for s in range(64)])
    np.testing.assert_allclose(gpu.predict(histories), cpu.predict(histories), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gpu.rolling(histories, 50), cpu.rolling(histories, 50), rtol=1e-3, atol=1e-4)
    series = fresh_draw(3000, 7)
    np.testing.assert_allclose(gpu.walk_forward(series), cpu.walk_forward(series), rtol=1e-4, atol=1e-5)


def test_sampled_paths_are_deterministic_and_draw_as_on_the_cpu(pair: tuple[Forecaster, Forecaster]) -> None:
    """Draws are keyed by series, not by a device generator: the device adds the same
    residuals as the CPU, so paths differ only by the forward passes' rounding."""
    cpu, gpu = pair
    histories = np.stack([fresh_draw(100, s) for s in range(8)])
    keys = series_keys(3, [f"s{i}" for i in range(8)])
    a = gpu.sample_paths(histories, 20, 64, keys)
    np.testing.assert_array_equal(a, gpu.sample_paths(histories, 20, 64, keys))
    np.testing.assert_allclose(a, cpu.sample_paths(histories, 20, 64, keys), rtol=1e-3, atol=1e-3)


def test_cuda_batches_never_run_on_the_event_loop(tiny_artifact: Path) -> None:
    """A CUDA forward waits on the device, so even `RNNCAST_BATCH_ON=loop` keeps it on
    the model's thread."""
    from app.runtime.registry import BatchSettings, ModelRegistry

    registry = ModelRegistry(tiny_artifact.parent, device="cuda", batching=BatchSettings(inline_on_cpu=True))
    registry.load_all()
    (state,) = registry.states()
    assert state.model is not None and state.model.forecaster.device.type == "cuda"
    assert state.model.batcher._inline is False  # noqa: SLF001 - the choice under test
    registry.close()
