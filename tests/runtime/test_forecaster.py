"""Forecaster numerics against the raw TorchScript file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from app.runtime.forecaster import CHUNK_ROWS, Forecaster
from app.runtime.seeding import series_keys
from tests.factories import fresh_draw

WINDOW = 100
SHIPPED = Path(__file__).resolve().parents[2] / "models" / "default" / "model.pt"


@pytest.fixture(scope="module")
def forecaster(tiny_artifact: Path) -> Forecaster:
    return Forecaster.load(tiny_artifact, torch.device("cpu"), "default")


@pytest.fixture(scope="module")
def raw(tiny_artifact: Path) -> torch.jit.ScriptModule:
    return torch.jit.load(str(tiny_artifact))


def call(raw: torch.jit.ScriptModule, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return raw(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()


def test_predict_equals_the_file_for_random_series(forecaster: Forecaster, raw: torch.jit.ScriptModule) -> None:
    """The forecaster pads 37 rows to 40, the bare call does not: other GEMM kernels may
    run, so the two agree to float32 rounding (which kernel depends on the CPU)."""
    rng = np.random.default_rng(0)
    windows = (rng.normal(1, 0.7, (37, WINDOW))).astype(np.float32)
    np.testing.assert_allclose(forecaster.predict(windows), call(raw, windows), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("rows", [1, 3, 8, 37, 64, 255])
def test_a_row_gets_the_same_bits_alone_or_batched(forecaster: Forecaster, rows: int) -> None:
    """The promise the server makes: batching never changes a series' answer."""
    rng = np.random.default_rng(rows)
    windows = (rng.normal(1, 0.7, (rows, WINDOW))).astype(np.float32)
    batched = forecaster.predict(windows)
    alone = np.concatenate([forecaster.predict(windows[i : i + 1]) for i in range(rows)])
    np.testing.assert_array_equal(batched, alone)


def test_rolling_equals_a_manual_recursion(forecaster: Forecaster, raw: torch.jit.ScriptModule) -> None:
    histories = np.stack([fresh_draw(WINDOW, s) for s in range(5)])
    horizon = 12
    expected = np.zeros((5, horizon), dtype=np.float32)
    for i in range(5):
        history = list(histories[i])
        for k in range(horizon):
            # step k: the last `window` values of history followed by the k forecasts so far
            x = np.array((history + list(expected[i, :k]))[-WINDOW:], dtype=np.float32)[None]
            expected[i, k] = call(raw, x)[0]
    # Batched and single-row matmuls may round differently in the last bit.
    np.testing.assert_allclose(forecaster.rolling(histories, horizon), expected, rtol=1e-6, atol=1e-6)


def test_rolling_chunks_give_the_same_numbers(forecaster: Forecaster) -> None:
    histories = np.repeat(fresh_draw(WINDOW, 3)[None], CHUNK_ROWS + 5, axis=0)
    out = forecaster.rolling(histories, 2)
    assert out.shape == (CHUNK_ROWS + 5, 2)
    np.testing.assert_array_equal(out[0], out[-1])


def test_walk_forward_equals_per_window_calls(forecaster: Forecaster, raw: torch.jit.ScriptModule) -> None:
    values = fresh_draw(WINDOW + 40, 9)
    expected = np.concatenate([call(raw, values[i : i + WINDOW][None]) for i in range(40)])
    np.testing.assert_allclose(forecaster.walk_forward(values), expected, rtol=1e-6, atol=1e-6)


def test_sampled_paths_are_seeded(forecaster: Forecaster) -> None:
    histories = np.stack([fresh_draw(WINDOW, s) for s in range(3)])
    a = forecaster.sample_paths(histories, 6, 50, series_keys(1, [None] * len(histories)))
    b = forecaster.sample_paths(histories, 6, 50, series_keys(1, [None] * len(histories)))
    c = forecaster.sample_paths(histories, 6, 50, series_keys(2, [None] * len(histories)))
    assert a.shape == (3, 50, 6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a[:, :, 0].std(axis=1).min() > 0.1  # residual noise was added


def test_eighty_percent_interval_covers_eighty_percent(forecaster: Forecaster) -> None:
    """One-step 10%-90% intervals on held-out synthetic data cover 80% +- 5%."""
    series = fresh_draw(WINDOW + 2000, seed=424242)
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], WINDOW)
    actual = series[WINDOW:]
    paths = forecaster.sample_paths(np.ascontiguousarray(windows), 1, 400, series_keys(0, [None] * len(windows)))[:, :, 0]
    low, high = np.quantile(paths, [0.1, 0.9], axis=1)
    coverage = float(np.mean((actual >= low) & (actual <= high)))
    assert 0.75 <= coverage <= 0.85, coverage


def test_output_shape_b1_is_accepted(tmp_path: Path) -> None:
    """DESIGN allows forward to return (batch, 1) as well as (batch,)."""
    from app.artifact import read_metadata, save_artifact

    class Column(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, -1:] * 2.0

    meta = read_metadata(Path(__file__).resolve().parents[2] / "models" / "default" / "model.pt")
    # Column exports no noise_scale, so its residuals are in raw units.
    meta = dataclasses.replace(meta, calibration=dataclasses.replace(meta.calibration, unit="raw"))
    path = save_artifact(torch.jit.script(Column()), meta, tmp_path)
    f = Forecaster.load(path, torch.device("cpu"), "col")
    windows = np.ones((3, meta.window), dtype=np.float32)
    np.testing.assert_array_equal(f.predict(windows), [2.0, 2.0, 2.0])
    assert f.rolling(windows, 3).tolist() == [[2.0, 4.0, 8.0]] * 3


def test_a_series_gets_the_same_path_whatever_the_number_of_rows_beside_it() -> None:
    """8 rows reach the module as a view of the rolling buffer, 9 are padded (a copy):
    some CPUs' kernels (the shipped model's ``z @ basis``) round a row differently at
    another memory alignment, so every step's windows go to the module in fresh memory."""
    shipped = Forecaster.load(SHIPPED, torch.device("cpu"), "default")
    histories = np.random.default_rng(0).normal(20, 3, (9, shipped.window)).astype(np.float32)
    np.testing.assert_array_equal(shipped.rolling(histories[:8], 12), shipped.rolling(histories, 12)[:8])
