"""The real-data recipe end to end on small series: anchored, seasonal, global, guarded."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from app.artifact import load_artifact
from app.cli import main
from app.training.ensemble import RECIPES, anchor_module, fit_ensemble
from app.training.pipeline import TrainOptions, train_and_export
from app.training.smoothing import choose_baseline

FAST = {"epochs": 3, "quiet": True}


def monthly(n: int, seed: int = 0, level: float = 100.0) -> np.ndarray:
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 1.0, n)
    return level + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12) + noise


def write_series(tmp_path: Path, values: np.ndarray, name: str = "s.csv") -> Path:
    path = tmp_path / name
    dates = pd.date_range("2000-01-01", periods=len(values), freq="MS")
    pd.DataFrame({"ds": dates, "y": values}).to_csv(path, index=False)
    return path


def test_season_and_window_come_from_the_data_and_reach_the_artifact(tmp_path: Path) -> None:
    path = write_series(tmp_path, monthly(120))
    metrics = train_and_export(TrainOptions(out=tmp_path / "m", data=str(path), column="y",
                                            time_column="ds", **FAST))  # type: ignore[arg-type]
    assert metrics["season"] == {"period": 12, "source": "time column frequency MS"}
    artifact = load_artifact(tmp_path / "m" / "model.pt")
    meta = artifact.metadata
    assert meta.period == 12 and meta.window == metrics["window"] in (24, 36, 48)
    assert meta.normalization.kind == "window" and meta.calibration.unit == "window_scale"
    assert set(metrics["mase"]) >= {"model", "anchor", "last_value", "seasonal_naive_12"}
    x = torch.tensor(monthly(meta.window + 5)[None, -meta.window :], dtype=torch.float32)
    assert artifact.module(x).shape == (1,)
    assert artifact.module.noise_scale(x).shape == (1,)


def test_the_same_data_flags_and_seed_give_the_same_model_on_one_machine(tmp_path: Path) -> None:
    """DESIGN.md: training is reproducible on the same machine, to the bit."""
    path = write_series(tmp_path, monthly(120))
    x = torch.tensor(monthly(200, seed=1)[None, -48:], dtype=torch.float32)
    forecasts = []
    for run in ("a", "b"):
        train_and_export(TrainOptions(out=tmp_path / run, data=str(path), column="y", time_column="ds",
                                      window=48, seed=3, **FAST))  # type: ignore[arg-type]
        module = load_artifact(tmp_path / run / "model.pt").module
        forecasts.append((module(x).numpy(), module.noise_scale(x).numpy()))
    assert all(np.array_equal(a, b) for a, b in zip(forecasts[0], forecasts[1], strict=True))


def test_an_untrained_ensemble_returns_its_anchor(tmp_path: Path) -> None:
    """Zero epochs of learning leave every member's output layer at zero."""
    values = monthly(100)
    baseline = choose_baseline([values[:80]], 12, [24], horizon=1)
    recipe = dataclasses.replace(RECIPES["default"], epochs=1, learning_rate=0.0)
    trained = fit_ensemble([values[:80]], baseline, recipe, seed=0)
    x = torch.tensor(np.lib.stride_tricks.sliding_window_view(values, 24)[:30], dtype=torch.float32)
    with torch.inference_mode():
        np.testing.assert_allclose(trained.module(x), anchor_module(baseline, [values[:80]])(x), rtol=1e-6)


def test_the_period_flag_wins_and_the_window_flag_is_obeyed(tmp_path: Path) -> None:
    path = write_series(tmp_path, monthly(120))
    metrics = train_and_export(TrainOptions(out=tmp_path / "m", data=str(path), column="y", period=4,
                                            window=20, **FAST))  # type: ignore[arg-type]
    assert metrics["season"] == {"period": 4, "source": "--period"} and metrics["window"] == 20


def test_a_global_model_scores_every_series_and_serves_new_levels(tmp_path: Path) -> None:
    frames = [pd.DataFrame({"unique_id": name, "y": monthly(96, seed, level)})
              for seed, (name, level) in enumerate([("low", 10.0), ("mid", 100.0), ("high", 5000.0)])]
    path = tmp_path / "long.csv"
    pd.concat(frames).to_csv(path, index=False)
    metrics = train_and_export(TrainOptions(out=tmp_path / "g", data=str(path), column="y",
                                            id_column="unique_id", period=12, **FAST))  # type: ignore[arg-type]
    assert set(metrics["series"]) == {"low", "mid", "high"}
    for scores in metrics["series"].values():
        assert scores["mase"]["model"] < 2.0 * scores["mase"]["seasonal_naive_12"]
    module = load_artifact(tmp_path / "g" / "model.pt").module
    window = metrics["window"]
    unseen = torch.tensor(monthly(window + 1, 9, 1e6)[None, :window], dtype=torch.float32)
    with torch.inference_mode():
        assert abs(float(module(unseen)[0]) / 1e6 - 1) < 0.05  # per-window scaling: any level


def test_a_model_worse_than_a_simple_baseline_on_validation_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A random walk: nothing beats the last value, and the anchor is told to use a season of 7.
    values = 50 + np.cumsum(np.random.default_rng(3).normal(0, 1, 120))
    path = write_series(tmp_path, values)
    status = main(["train", "--data", str(path), "--column", "y", "--period", "7", "--window", "14",
                   "--epochs", "2", "--out", str(tmp_path / "m"), "--quiet"])
    assert status == 0
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    check = metrics["validation"]
    assert check["model_mase"] > check["simple_mase"]["last value"], check
    assert metrics["warning"].startswith("on validation the model's MASE")
    assert f"rnncast train: WARNING: {metrics['warning']}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--period", "0"], "--period must be at least 1 (1 = no season), got 0"),
        (["--test-fraction", "1.5"], "--test-fraction must be between 0 and 1 (exclusive), got 1.5"),
        (["--window", "1"], "--window must be at least 2, got 1"),
        (["--period", "12"], "the series has 30 rows; with a test fraction of 0.2, a season of 12 and a window of 24 "
                             "it needs at least 42"),
        (["--window", "40"], "the series has 30 rows; with a test fraction of 0.2, a season of 1 and a window of 40 "
                             "it needs at least 62"),
    ],
)
def test_bad_flags_and_short_series_stop_with_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    path = write_series(tmp_path, np.random.default_rng(0).normal(10, 1, 30))
    status = main(["train", "--data", str(path), "--column", "y", *flags, "--out", str(tmp_path / "m"), "--quiet"])
    assert status == 2
    assert capsys.readouterr().err.strip() == f"rnncast train: {message}"
