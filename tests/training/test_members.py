"""Members trained side by side equal the fused product the scripted module computes."""

from __future__ import annotations

import numpy as np
import torch

from app.training.ensemble import member_plan
from app.training.export import script_and_check
from app.training.members import StackedMembers, train_members
from app.training.network import AnchoredForecaster


def test_fused_members_compute_the_weighted_stack() -> None:
    torch.manual_seed(0)
    stack = StackedMembers(member_plan(16, 4, 6, seed=0), 16, 8)
    with torch.no_grad():
        stack.w_out.normal_()
        stack.b_out.normal_()
    weights = [0.5, 0.0, 0.2, 0.0, 0.1, 0.2]
    module = AnchoredForecaster(torch.rand(16, 1) / 16, 4, False, 0.0, (10.0, 2.0), stack.fuse(weights))
    x = torch.rand(33, 16) * 5 + 10
    with torch.inference_mode():
        inputs, anchor, scale = module.inputs(x)
        units = torch.where(stack.standardised[None, :], torch.tensor(2.0), scale[:, None])
        expected = anchor + (stack(inputs) * units) @ torch.tensor(weights)
        np.testing.assert_allclose(module(x), expected, rtol=1e-5)
    assert module.hidden_in.shape == (32, 4 * 8)  # members of weight zero are left out
    scripted = script_and_check(module, 16, seed=0)
    assert scripted.noise_scale(x).shape == (33,)


def test_each_member_keeps_its_own_best_epoch() -> None:
    specs = member_plan(8, 1, 3, seed=1)
    stack = StackedMembers(specs, 8, 4)
    generator = torch.Generator().manual_seed(2)
    inputs = torch.randn(200, 16, generator=generator)
    targets = (inputs[:, 6:8].sum(dim=1, keepdim=True) * 0.3).repeat(1, 3)
    reports = train_members((inputs[:150], targets[:150]), (inputs[150:], targets[150:]), stack,
                            epochs=40, patience=5, learning_rate=1e-2, weight_decay=0.0, seed=0)
    assert [r.length for r in reports] == [8, 4, 8]
    assert [r.inputs for r in reports] == ["window", "window", "standardised"]
    for report in reports:
        best = min(report.history)
        assert report.validation_loss == round(best, 6)
        assert report.history.index(best) + 1 == report.best_epoch
    # Training stops once every member has waited `patience` epochs past its best.
    last_best = max(r.best_epoch for r in reports)
    assert reports[0].epochs_run in (last_best + 5, 40)


def test_a_row_gets_the_same_bits_wherever_it_sits() -> None:
    """Odd windows and log space make fresh tensors whose rows start at every alignment."""
    for window, log_space in ((30, True), (33, False), (33, True)):
        module = AnchoredForecaster(torch.rand(window, 1) / window, 1, log_space, 1e-3, (10.0, 2.0))
        x = torch.rand(64, window) * 5 + 10
        with torch.inference_mode():
            batched = module(x)
            for i in range(64):
                torch.testing.assert_close(module(x[i : i + 1]), batched[i : i + 1], rtol=0, atol=0)
