"""Intervals by both methods, per-series seeding, and calibration on held-out data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from app.runtime.errors import InvalidSeriesError
from app.runtime.forecaster import Forecaster
from app.runtime.frames.panel import panel_of_series
from app.runtime.intervals import IntervalSpec, check_spec, conformal_intervals, forecast
from app.runtime.seeding import series_keys
from tests.factories import fresh_draw

WINDOW = 100


@pytest.fixture(scope="module")
def forecaster(tiny_artifact: Path) -> Forecaster:
    return Forecaster.load(tiny_artifact, torch.device("cpu"), "default")


def test_conformal_bounds_are_the_finite_sample_quantile_of_the_errors() -> None:
    scores = np.arange(1.0, 21.0).reshape(1, 20, 1)  # 20 windows, one step
    found = conformal_intervals(np.zeros((1, 1), np.float32), scores, IntervalSpec(
        "conformal", levels=(80, 95), quantiles=(0.1, 0.5, 0.975)))
    # ceil(21 * 0.80) = 17th and ceil(21 * 0.95) = 20th smallest of 20
    assert {k: float(v[0, 0]) for k, v in found.bands.items()} == {"lo-80": -17, "hi-80": 17, "lo-95": -20, "hi-95": 20}
    assert {k: float(v[0, 0]) for k, v in found.quantiles.items()} == {"0.1": -17, "0.5": 0, "0.975": 20}


def test_gaps_leave_fewer_errors_and_the_largest_then_bounds() -> None:
    scores = np.arange(1.0, 21.0).reshape(1, 20, 1)
    scores[0, 10:, 0] = np.nan  # ten actuals were filled, not observed
    found = conformal_intervals(np.zeros((1, 1), np.float32), scores, IntervalSpec("conformal", levels=(95,)))
    assert float(found.bands["hi-95"][0, 0]) == 10


def test_too_few_calibration_windows_for_a_level_are_refused() -> None:
    check_spec(IntervalSpec("conformal", levels=(95,), calibration_windows=19), 1000)
    with pytest.raises(InvalidSeriesError, match="level 95 need at least 19 calibration windows; calibration_windows is 18"):
        check_spec(IntervalSpec("conformal", levels=(80, 95), calibration_windows=18), 1000)
    with pytest.raises(InvalidSeriesError, match="level 98 need at least 49"):
        check_spec(IntervalSpec("conformal", quantiles=(0.01,), calibration_windows=20), 1000)


def _forecast(forecaster: Forecaster, values: list[np.ndarray], ids: list[str | None], spec: IntervalSpec,
              horizon: int = 4) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    panel = panel_of_series(values, ids)
    series = np.arange(len(values))
    mean, found = forecast(forecaster, panel, series, panel.lengths, horizon, spec, series_keys(7, ids))
    return mean, {**found.quantiles, **found.bands}


@pytest.mark.parametrize("method", ["paths", "conformal"])
def test_a_series_gets_the_same_bits_alone_in_a_batch_and_in_any_order(forecaster: Forecaster, method: str) -> None:
    values = [fresh_draw(WINDOW + 30 + i, seed=i) for i in range(9)]
    ids: list[str | None] = [f"s{i}" for i in range(9)]
    spec = IntervalSpec(method, levels=(80,), quantiles=(0.1, 0.9), num_samples=50)  # type: ignore[arg-type]
    mean, bands = _forecast(forecaster, values, ids, spec)
    order = [8, 3, 0, 5, 1, 7, 2, 6, 4]
    mean_shuffled, bands_shuffled = _forecast(forecaster, [values[i] for i in order], [ids[i] for i in order], spec)
    for position, i in enumerate(order):
        alone_mean, alone = _forecast(forecaster, [values[i]], [ids[i]], spec)
        np.testing.assert_array_equal(alone_mean[0], mean[i])
        np.testing.assert_array_equal(mean_shuffled[position], mean[i])
        for key in bands:
            np.testing.assert_array_equal(alone[key][0], bands[key][i])
            np.testing.assert_array_equal(bands_shuffled[key][position], bands[key][i])


def test_paths_depend_on_the_seed_and_the_id(forecaster: Forecaster) -> None:
    history = fresh_draw(WINDOW, seed=1)[None, :]
    a, b = (forecaster.sample_paths(history, 3, 40, series_keys(seed, ["x"])) for seed in (1, 2))
    c = forecaster.sample_paths(history, 3, 40, series_keys(1, ["y"]))
    np.testing.assert_array_equal(a, forecaster.sample_paths(history, 3, 40, series_keys(1, ["x"])))
    assert not np.array_equal(a, b) and not np.array_equal(a, c)


def test_conformal_intervals_cover_held_out_steps_at_their_level(forecaster: Forecaster) -> None:
    """200 fresh stretches of the synthetic process: calibrate on each one's history, check
    the next 5 steps. Nominal 80% and 95%, within 5 points."""
    horizon, spec = 5, IntervalSpec("conformal", levels=(80, 95), calibration_windows=19, calibration_step=3)
    stretches = [fresh_draw(spec.history_needed(WINDOW, horizon) + horizon, seed=1000 + i) for i in range(200)]
    mean, bands = _forecast(forecaster, [s[:-horizon] for s in stretches], [None] * 200, spec, horizon)
    actual = np.stack([s[-horizon:] for s in stretches])
    for level in (80, 95):
        inside = (bands[f"lo-{level}"] <= actual) & (actual <= bands[f"hi-{level}"])
        assert abs(100 * inside.mean() - level) <= 5, (level, inside.mean())
