"""Training every ensemble member at once, then fusing them for the scripted module.

A member is a SimpleRNN cell that reads its look-back as one step of features; from a
zero initial state that step is ``tanh(u W_ih^T + b_ih + b_hh)`` followed by a linear
layer. Stacking the members' weights along a first axis trains them all with one
optimiser step per batch (six times fewer small steps than one member after another);
a member with a shorter look-back, or of the other input kind, sees those inputs masked
to zero, which its weights then never learn from. Each member keeps its own best epoch
on validation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from app.training.network import FusedMembers


@dataclass(frozen=True)
class MemberReport:
    """What one member's training did."""

    length: int
    loss: str
    inputs: str
    seed: int
    epochs_run: int
    best_epoch: int
    validation_loss: float
    history: list[float]  # validation loss per epoch, for the report's plot


@dataclass(frozen=True)
class MemberSpec:
    """One member's look-back, loss and input kind, and its initialisation seed."""

    length: int
    squared: bool
    standardised: bool
    seed: int


class StackedMembers(nn.Module):
    """Members over a window of ``width`` values, trained together.

    Their input is ``[window-normalised | standardised]`` (2 * width values); each
    member's mask keeps the last ``length`` values of its own kind.
    """

    def __init__(self, specs: list[MemberSpec], width: int, hidden: int) -> None:
        super().__init__()
        inputs, biases = [], []
        bound = hidden**-0.5  # nn.RNN's own initialisation
        mask = torch.zeros(len(specs), 2 * width)
        for k, spec in enumerate(specs):
            generator = torch.Generator().manual_seed(spec.seed)
            inputs.append((torch.rand(2 * width, hidden, generator=generator) * 2 - 1) * bound)
            biases.append((torch.rand(hidden, generator=generator) * 2 - 1) * bound)
            end = 2 * width if spec.standardised else width
            mask[k, end - spec.length : end] = 1.0
        self.w_in = nn.Parameter(torch.stack(inputs))  # (k, 2 * width, hidden)
        self.b_in = nn.Parameter(torch.stack(biases))  # (k, hidden)
        self.w_out = nn.Parameter(torch.zeros(len(specs), hidden))  # zero: start at the anchor
        self.b_out = nn.Parameter(torch.zeros(len(specs)))
        self.mask: torch.Tensor
        self.register_buffer("mask", mask)
        self.squared: torch.Tensor
        self.register_buffer("squared", torch.tensor([spec.squared for spec in specs]))
        self.standardised: torch.Tensor
        self.register_buffer("standardised", torch.tensor([spec.standardised for spec in specs]))
        self.specs = specs
        self.width = width

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(batch, 2 * width) inputs -> (batch, k) residuals, each in its member's unit."""
        k, width, size = self.w_in.shape
        # One matrix product for all members: (batch, 2 width) @ (2 width, k * hidden).
        weights = (self.w_in * self.mask[:, :, None]).permute(1, 0, 2).reshape(width, k * size)
        hidden = torch.tanh((inputs @ weights).view(-1, k, size) + self.b_in)
        return (hidden * self.w_out).sum(dim=2) + self.b_out

    def fuse(self, weights: list[float]) -> FusedMembers:
        """The members with a positive ensemble weight, fused for the scripted module:
        each one's masked input weights side by side, its output layer scaled by its
        weight into the column of its unit (window scale or spread)."""
        kept = [k for k, w in enumerate(weights) if w > 0]
        if not kept:
            return FusedMembers.empty(self.width)
        size = self.w_in.shape[2]
        with torch.no_grad():
            hidden_in = torch.cat([self.w_in[k] * self.mask[k][:, None] for k in kept], dim=1)
            hidden_bias = torch.cat([self.b_in[k] for k in kept])
            hidden_out = torch.zeros(len(kept) * size, 2)
            out_bias = torch.zeros(2)
            for i, k in enumerate(kept):
                column = int(self.specs[k].standardised)
                hidden_out[i * size : (i + 1) * size, column] = weights[k] * self.w_out[k]
                out_bias[column] += weights[k] * self.b_out[k]
        return FusedMembers(hidden_in.clone(), hidden_bias.clone(), hidden_out, out_bias)


def _loss_per_member(stack: StackedMembers, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Each member's own loss: absolute error (MASE's) or squared error (smoother near
    the optimum, better at learning a fine linear filter from much noisy data)."""
    error = stack(inputs) - targets
    return torch.where(stack.squared, error**2, error.abs()).mean(dim=0)


def train_members(
    fit: tuple[torch.Tensor, torch.Tensor],
    validation: tuple[torch.Tensor, torch.Tensor],
    stack: StackedMembers,
    *,
    epochs: int,
    patience: int,
    learning_rate: float,
    weight_decay: float,
    seed: int,
    on_epoch: Callable[[int, list[float]], None] = lambda *_: None,
) -> list[MemberReport]:
    """Adam on each member's loss over (inputs (n, 2 width), targets (n, k)); each
    member's best epoch on validation (by its own loss) is kept; stops when every member
    has waited ``patience`` epochs."""
    (u, target), (val_u, val_target) = fit, validation
    optimizer = torch.optim.Adam(stack.parameters(), lr=learning_rate, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    batch = min(256, max(32, -(-len(u) // 16)))  # 16 steps an epoch on small data, batches of 256 on big
    k = len(stack.specs)
    best_loss, best_epoch = torch.full((k,), float("inf")), [0] * k
    best_state = {name: p.detach().clone() for name, p in stack.named_parameters()}
    history: list[list[float]] = []
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(u), generator=generator)
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            optimizer.zero_grad()
            _loss_per_member(stack, u[rows], target[rows]).sum().backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        with torch.no_grad():
            losses = _loss_per_member(stack, val_u, val_target)
        history.append(losses.tolist())
        on_epoch(epoch, history[-1])
        better = losses < best_loss
        for name, p in stack.named_parameters():
            best_state[name][better] = p.detach()[better]
        best_loss = torch.where(better, losses, best_loss)
        best_epoch = [epoch if b else e for b, e in zip(better.tolist(), best_epoch, strict=True)]
        if epoch - max(best_epoch) >= patience:
            break
    with torch.no_grad():
        for name, p in stack.named_parameters():
            p.copy_(best_state[name])
    return [
        MemberReport(spec.length, "squared" if spec.squared else "absolute",
                     "standardised" if spec.standardised else "window", spec.seed, len(history), best_epoch[j],
                     round(float(best_loss[j]), 6), [h[j] for h in history])
        for j, spec in enumerate(stack.specs)
    ]
