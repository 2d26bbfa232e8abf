"""Backtests and anomalies against direct computations with the same model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from app.runtime import anomaly, backtest
from app.runtime.errors import InvalidSeriesError, LimitExceededError
from app.runtime.forecaster import Forecaster
from app.runtime.frames.fill import FillPolicy
from app.runtime.frames.panel import Frame, factorize, panel_of_series, to_panel
from app.runtime.intervals import IntervalSpec
from app.runtime.service import Limits
from tests.factories import fresh_draw

WINDOW = 100


@pytest.fixture(scope="module")
def forecaster(tiny_artifact: Path) -> Forecaster:
    return Forecaster.load(tiny_artifact, torch.device("cpu"), "default")


def test_backtest_windows_are_rolling_forecasts_from_each_cutoff(forecaster: Forecaster) -> None:
    values = [fresh_draw(WINDOW + 20, seed=1), fresh_draw(WINDOW + 13, seed=2)]
    panel = panel_of_series(values, ["a", "b"])
    result = backtest.run(forecaster, panel, backtest.BacktestSpec(horizon=4, n_windows=3, step_size=2))
    rows = pd.DataFrame(result.rows.columns)
    assert rows["cutoff"].tolist()[::4] == [111, 113, 115, 104, 106, 108]  # last position before each cut-off
    for (name, cutoff), window in rows.groupby(["unique_id", "cutoff"], sort=False):
        series = values[0 if name == "a" else 1]
        expected = forecaster.rolling(series[cutoff + 1 - WINDOW : cutoff + 1][None, :], 4)[0]
        np.testing.assert_array_equal(window["mean"].to_numpy(), expected)
        np.testing.assert_array_equal(window["y"].to_numpy(), series[cutoff + 1 : cutoff + 5].astype(np.float64))
        assert window["ds"].tolist() == list(range(cutoff + 1, cutoff + 5))


def test_scores_match_a_direct_computation(forecaster: Forecaster) -> None:
    values = [fresh_draw(WINDOW + 40, seed=s) + s for s in range(3)]
    panel = panel_of_series(values, ["a", "b", "c"])
    spec = backtest.BacktestSpec(horizon=6, n_windows=2, season_length=7,
                                 intervals=IntervalSpec("paths", levels=(80,), num_samples=50))
    result = backtest.run(forecaster, panel, spec)
    rows = pd.DataFrame(result.rows.columns)
    error = rows["mean"].astype(float) - rows["y"]
    inside = (rows["lo-80"] <= rows["y"]) & (rows["y"] <= rows["hi-80"])
    for i, (name, group) in enumerate(rows.groupby("unique_id", sort=False)):
        e = error[group.index]
        y, f = group["y"], group["mean"].astype(float)
        history = values[i][: WINDOW + 40 - 12].astype(float)  # before the first cut-off
        scale = np.mean(np.abs(history[7:] - history[:-7]))
        expected = {"mae": e.abs().mean(), "rmse": np.sqrt((e**2).mean()),
                    "smape": (200 * e.abs() / (y.abs() + f.abs())).mean(), "mase": e.abs().mean() / scale,
                    "coverage-80": 100 * inside[group.index].mean()}
        for key, value in expected.items():
            assert result.scores.per_series[key][i] == pytest.approx(value, rel=1e-9), (name, key)
    assert result.scores.overall["mae"] == pytest.approx(error.abs().mean(), rel=1e-9)
    assert result.scores.overall["points"] == len(rows)


def test_backtests_too_short_or_over_budget_are_refused(forecaster: Forecaster) -> None:
    panel = panel_of_series([fresh_draw(WINDOW + 10, seed=1)], [None])
    spec = backtest.BacktestSpec(horizon=5, n_windows=3)
    with pytest.raises(InvalidSeriesError, match=r"series\[0\] has 110 values; a backtest of 3 windows of h=5, "
                                                 "5 apart needs at least 115"):
        backtest.check(panel, spec, WINDOW, Limits())
    with pytest.raises(LimitExceededError, match=r"needs 75 rows of compute and output \(series x n_windows"):  # 15 + 15 x 4
        backtest.check(panel, backtest.BacktestSpec(horizon=5, n_windows=3, step_size=1), WINDOW,
                       Limits(max_compute_rows=10))


def _anomaly_panel(values: np.ndarray, missing: list[int]) -> tuple[object, np.ndarray]:
    keep = np.setdiff1d(np.arange(len(values)), missing)
    codes, names = factorize(np.array(["s"] * len(keep)))
    frame = Frame(codes, names, values[keep].astype(float), keep.astype(np.int64), "index")
    return to_panel(frame, "1", FillPolicy(), 10_000), keep


def test_an_injected_spike_is_flagged_and_filled_points_never(forecaster: Forecaster) -> None:
    values = fresh_draw(WINDOW + 400, seed=3).astype(float)
    values[WINDOW + 250] += 25.0
    panel, _ = _anomaly_panel(values, missing=[WINDOW + 100])
    table = anomaly.run(forecaster, panel, anomaly.AnomalySpec(level=99))  # type: ignore[arg-type]
    rows = pd.DataFrame(table.columns)
    assert len(rows) == 400 and rows.loc[rows["anomaly"], "ds"].tolist()[:1] == [WINDOW + 250]
    assert rows["anomaly"].mean() < 0.03
    filled = rows["ds"] == WINDOW + 100
    assert rows.loc[filled, "y"].isna().all() and not rows.loc[filled, "anomaly"].any()


def test_newest_checks_only_the_last_points_calibrated_on_the_others(forecaster: Forecaster) -> None:
    values = fresh_draw(WINDOW + 300, seed=4).astype(float)
    values[-2] -= 30.0
    panel, _ = _anomaly_panel(values, missing=[])
    table = anomaly.run(forecaster, panel, anomaly.AnomalySpec(level=95, newest=5))  # type: ignore[arg-type]
    assert table.columns["ds"].tolist() == list(range(WINDOW + 295, WINDOW + 300))
    # the spike is flagged; the point after it may be too (its forecast read the spike)
    assert table.columns["anomaly"].tolist()[:4] == [False, False, False, True]
    with pytest.raises(InvalidSeriesError, match="series 's' has 5 observed in-sample errors to calibrate on; "
                                                 "level 95 needs at least 19"):
        anomaly.run(forecaster, panel, anomaly.AnomalySpec(level=95, newest=295))  # type: ignore[arg-type]


def test_paths_anomaly_bounds_are_the_calibration_residual_quantiles(forecaster: Forecaster) -> None:
    panel, _ = _anomaly_panel(fresh_draw(WINDOW + 10, seed=5).astype(float), missing=[])
    table = anomaly.run(forecaster, panel, anomaly.AnomalySpec(90, "paths", newest=3))  # type: ignore[arg-type]
    low, high = np.quantile(forecaster.metadata.calibration.residuals, [0.05, 0.95])
    mean = table.columns["mean"].astype(float)
    np.testing.assert_allclose(table.columns["lo-90"], mean + low, rtol=1e-6)
    np.testing.assert_allclose(table.columns["hi-90"], mean + high, rtol=1e-6)


def test_paths_anomaly_bounds_follow_the_window_scale_of_a_window_scale_model() -> None:
    """The shipped model's residuals are in window units: each bound is scaled by its window."""
    shipped = Forecaster.load(Path(__file__).resolve().parents[2] / "models" / "default" / "model.pt",
                              torch.device("cpu"), "default")
    assert shipped.metadata.calibration.unit == "window_scale"
    values = 100.0 * fresh_draw(shipped.window + 10, seed=6).astype(float)
    panel, _ = _anomaly_panel(values, missing=[])
    table = anomaly.run(shipped, panel, anomaly.AnomalySpec(90, "paths", newest=3))  # type: ignore[arg-type]
    windows = np.stack([values[len(values) - k - shipped.window : len(values) - k] for k in (3, 2, 1)])
    scale = shipped.window_scales(windows.astype(np.float32)).astype(float)
    low, high = np.quantile(shipped.metadata.calibration.residuals, [0.05, 0.95])
    mean = table.columns["mean"].astype(float)
    np.testing.assert_allclose(table.columns["lo-90"], mean + low * scale, rtol=1e-5)
    np.testing.assert_allclose(table.columns["hi-90"], mean + high * scale, rtol=1e-5)
    assert (scale > 10).all()  # a series around 100 has intervals far wider than the raw residuals
