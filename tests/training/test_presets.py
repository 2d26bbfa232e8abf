"""The tutorial preset reproduces the tutorial; the plain preset is its measured improvement."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from app.cli import main
from app.training.data import load_synthetic
from app.training.pipeline import TrainOptions, train_and_export
from app.training.train import PRESETS, EpochLoss, choose_normalization, fit


def test_tutorial_preset_is_the_tutorials_configuration() -> None:
    p = PRESETS["tutorial"]
    assert (p.window, p.layout, p.hidden_size, p.learning_rate) == (3, "features", 128, 1e-4)
    assert (p.epochs, p.batch_size, p.shuffle, p.normalization) == (100, 32, False, "none")
    assert (p.validation_fraction, p.patience, p.synthetic_points, p.log_every) == (0.0, None, 1000, 10)


def test_plain_preset_is_standardised_and_early_stopped() -> None:
    p = PRESETS["plain"]
    assert p.normalization == "auto" and p.shuffle
    assert p.validation_fraction > 0 and p.patience is not None
    assert p.window > PRESETS["tutorial"].window


def tutorial_losses(values: np.ndarray, seed: int, epochs: int) -> list[float]:
    """The tutorial's own code, indentation restored, on the given series."""

    class SimpleRNN(nn.Module):
        def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
            super().__init__()
            self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
            self.fc = nn.Linear(hidden_size, output_size)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.rnn(x)
            return self.fc(out[:, -1, :])  # type: ignore[no-any-return]

    step_size, forecast_start = 3, 800
    data = values.reshape(-1, 1)
    train = data[:forecast_start, :]
    x, y = [], []
    for i in range(len(train) - step_size):
        x.append(train[i : i + step_size,])
        y.append(train[i + step_size,])
    train_x = np.reshape(np.array(x), (len(x), 1, step_size))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(
            torch.tensor(train_x, dtype=torch.float32), torch.tensor(np.array(y), dtype=torch.float32)
        ),
        batch_size=32,
    )
    torch.manual_seed(seed)
    model = SimpleRNN(step_size, 128, 1)
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.0001)
    losses = []
    for _ in range(epochs):
        for batch_x, batch_y in loader:
            optimizer.zero_grad()
            loss = criterion(model(batch_x), batch_y)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.slow
def test_tutorial_preset_trains_exactly_like_the_tutorial_code() -> None:
    data = load_synthetic(1000, 200, seed=5)
    seen: list[EpochLoss] = []
    fit(data, PRESETS["tutorial"], seed=5, on_epoch=seen.append)
    ours = [e.last_batch for e in seen]
    theirs = tutorial_losses(data.values, seed=5, epochs=100)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_tutorial_preset_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tutorial"
    assert main(["train", "--preset", "tutorial", "--seed", "0", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    epoch_lines = [line for line in printed.splitlines() if line.startswith("Epoch [")]
    assert [line.split("]")[0] for line in epoch_lines] == [f"Epoch [{e}/100" for e in range(10, 101, 10)]
    metrics = json.loads((out / "metrics.json").read_text())
    # The tutorial's model sits near the best linear 3-lag predictor: ~1.27x the noise floor.
    assert 1.15 < metrics["synthetic"]["one_step_ratio_to_oracle"] < 1.45
    # Fed its own forecasts it collapses: far from the oracle curve.
    assert metrics["synthetic"]["recursive_mse_vs_oracle_test"] > 0.3
    for name in ("model.pt", "model.pt.sha256", "metrics.json", "loss.png", "test.png", "report.md"):
        assert (out / name).stat().st_size > 0


def test_trending_data_is_scaled_relative_to_each_window() -> None:
    t = np.arange(500.0)
    trend = 300 + 0.15 * t + np.sin(t / 5)
    assert choose_normalization(trend, "auto").kind == "last_value"
    assert choose_normalization(np.sin(t / 5), "auto").kind == "standard"
    assert choose_normalization(trend, "none").kind == "none"


def test_trending_csv_model_reaches_beyond_its_training_range(tmp_path: Path) -> None:
    t = np.arange(1200)
    rng = np.random.default_rng(0)
    values = 300 + 0.1 * t + 2 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.3, len(t))
    csv = tmp_path / "co2.csv"
    csv.write_text("ppm\n" + "\n".join(f"{v:.4f}" for v in values))
    options = TrainOptions(out=tmp_path / "m", preset="plain", data=str(csv), column="ppm", period=12,
                           epochs=15, quiet=True)
    metrics = train_and_export(options)
    assert metrics["normalization"] == "last_value"
    # Test values lie above anything seen in training; the model still tracks them.
    assert metrics["test"]["rmse"] < metrics["baselines"]["last_value"]["rmse"]
    assert "seasonal_naive_12" in metrics["baselines"]
