"""Recursive paths from every origin, and how evenly the ensemble's members are weighted."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from app.training import evaluate
from app.training.ensemble import RECIPES, fit_ensemble, member_plan, spread_evenly
from app.training.members import StackedMembers
from app.training.network import AnchoredForecaster
from app.training.paths import path_errors, path_mase
from app.training.smoothing import choose_baseline, mase_scale


def monthly(n: int, seed: int = 0) -> np.ndarray:
    t = np.arange(n)
    return 100 + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(seed).normal(0, 1.0, n)


def member_module(window: int) -> AnchoredForecaster:
    """An anchor with random members, so that paths differ from the anchor's."""
    torch.manual_seed(0)
    stack = StackedMembers(member_plan(window, 12, 4, seed=0), window, 4)
    with torch.no_grad():
        stack.w_out.normal_(0, 0.3)
    return AnchoredForecaster(torch.full((window, 1), 1 / window), 12, False, 0.0, (100.0, 10.0),
                              stack.fuse([0.25] * 4)).eval()


def test_batched_paths_equal_one_recursion_per_origin() -> None:
    window, steps, values = 24, 6, monthly(40)
    model = member_module(window)
    expected = []
    for origin in range(window, len(values)):
        length = min(steps, len(values) - origin)
        path = evaluate.recursive(model, values[:origin], length, window)
        expected.append(np.abs(path - values[origin : origin + length]))
    # float32 forecasts near 100: one batch and one row at a time differ in the last bits.
    np.testing.assert_allclose(path_errors(model, values, window, steps), np.concatenate(expected), atol=1e-3)
    unit = mase_scale(values, 12)
    assert path_mase(model, [values], window, 12, steps) == pytest.approx(np.concatenate(expected).mean() / unit,
                                                                          rel=1e-4)


def test_spreading_evenly_keeps_the_anchors_share() -> None:
    selected = [0.0, 0.6, 0.0, 0.2]  # the anchor alone holds 0.2
    assert spread_evenly(selected, 0.0) == selected
    assert spread_evenly(selected, 1.0) == pytest.approx([0.2] * 4)
    half = spread_evenly(selected, 0.5)
    assert half == pytest.approx([0.1, 0.4, 0.1, 0.2]) and sum(half) == pytest.approx(0.8)
    assert spread_evenly([0.0] * 4, 0.5) == [0.0] * 4


def test_the_ensemble_ships_the_share_whose_training_paths_score_best() -> None:
    values = monthly(120)[:100]
    baseline = choose_baseline([values], 12, [24], horizon=1)
    recipe = dataclasses.replace(RECIPES["default"], epochs=5)
    trained = fit_ensemble([values], baseline, recipe, seed=0)
    assert 0.0 in trained.path_mase and set(trained.path_mase) <= set(recipe.even_shares)
    assert trained.even_share == min(trained.path_mase, key=trained.path_mase.__getitem__)
    shipped = path_mase(trained.module, [values], baseline.window, 12, recipe.path_steps)
    assert shipped == pytest.approx(trained.path_mase[trained.even_share], rel=1e-6)
