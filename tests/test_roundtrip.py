"""Training and serving meet here only: train -> export -> load -> predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from app.artifact import load_artifact
from app.runtime.forecaster import Forecaster
from tests.factories import fresh_draw, train_artifact

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("layout", ["features", "sequence"])
def test_trained_model_serves_the_same_numbers(tmp_path: Path, layout: str) -> None:
    path = train_artifact(tmp_path / "m", window=12, layout=layout, hidden_size=16, epochs=3, points=1500)
    raw = torch.jit.load(str(path))
    forecaster = Forecaster.load(path, torch.device("cpu"), "m")
    windows = np.stack([fresh_draw(12, seed) for seed in range(20)])
    with torch.inference_mode():
        expected = raw(torch.from_numpy(windows)).numpy()
    # 20 rows run padded to 24 in the forecaster: other GEMM kernels, float32 rounding apart.
    np.testing.assert_allclose(forecaster.predict(windows), expected, rtol=2e-6, atol=1e-6)


def test_shipped_default_model_loads_and_predicts() -> None:
    path = REPO / "models" / "default" / "model.pt"
    forecaster = Forecaster.load(path, torch.device("cpu"), "default")
    window = forecaster.window
    history = fresh_draw(window, seed=11)[None, :]
    next_value = forecaster.predict(history)
    assert next_value.shape == (1,) and 0.0 < float(next_value[0]) < 3.0
    metrics = json.loads((path.parent / "metrics.json").read_text())
    assert metrics["synthetic"]["one_step_ratio_to_oracle"] < 1.05
    assert metrics["synthetic"]["recursive_mse_vs_oracle_test"] < 0.2


@pytest.mark.slow
def test_default_model_is_reproduced_by_its_documented_command(tmp_path: Path) -> None:
    """`make model` = rnncast train --preset default --seed 0 --out models/default."""
    from app.cli import main

    assert main(["train", "--preset", "default", "--seed", "0", "--out", str(tmp_path / "default"), "--quiet"]) == 0
    shipped = json.loads((REPO / "models" / "default" / "metrics.json").read_text())
    again = json.loads((tmp_path / "default" / "metrics.json").read_text())
    assert again["epochs_run"] == shipped["epochs_run"]
    for key in ("mae", "rmse"):
        assert again["test"][key] == pytest.approx(shipped["test"][key], rel=1e-3)
    assert again["synthetic"]["one_step_ratio_to_oracle"] == pytest.approx(
        shipped["synthetic"]["one_step_ratio_to_oracle"], rel=1e-3
    )
    assert load_artifact(tmp_path / "default" / "model.pt").metadata.window == 100
