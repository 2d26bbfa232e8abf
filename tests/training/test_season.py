"""Which season the model uses and how it was found."""

from __future__ import annotations

import numpy as np
import pytest

from app.training.season import from_autocorrelation, from_frequency, resolve


@pytest.mark.parametrize(
    ("code", "period"),
    [("MS", 12), ("ME", 12), ("QS-JAN", 4), ("QE-DEC", 4), ("W-SUN", 52), ("D", 7), ("h", 24), ("YS-JAN", 1),
     ("2D", 7), ("s", None), (None, None)],
)
def test_frequency_codes_give_their_season(code: str | None, period: int | None) -> None:
    assert from_frequency(code) == period


def test_autocorrelation_finds_a_noisy_season_and_not_its_multiples() -> None:
    t = np.arange(240)
    y = 10 + np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.3, len(t))
    assert from_autocorrelation(y).period == 12


def test_no_season_in_noise_or_a_slow_wave() -> None:
    rng = np.random.default_rng(1)
    assert from_autocorrelation(rng.normal(size=300)).period == 1
    t = np.arange(5000)
    assert from_autocorrelation(np.sin(0.02 * t) + 2 * rng.random(len(t))).period == 1


def test_the_flag_wins_then_the_time_column_then_the_data() -> None:
    t = np.arange(240)
    y = 10 + np.sin(2 * np.pi * t / 7)
    assert resolve(3, "MS", [y]).period == 3
    assert resolve(None, "QS-JAN", [y]).source == "time column frequency QS-JAN"
    assert resolve(None, None, [y]).period == 7
    assert resolve(None, "s", [y]).period == 7
