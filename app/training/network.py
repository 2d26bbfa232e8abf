"""The tutorial's SimpleRNN, the wrapper that bakes scaling and layout into it, and the
anchored ensemble of the real-data recipe."""

# No `from __future__ import annotations`: TorchScript must see real Final types.

from typing import Final

import torch
from torch import nn

from app.artifact import Layout, Normalization


class SimpleRNN(nn.Module):
    """``nn.RNN`` then ``nn.Linear`` on the last step's output, as in the tutorial."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 1) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, steps, features) -> (batch, output_size)."""
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])  # type: ignore[no-any-return]


class ScaledForecaster(nn.Module):
    """Raw values ``(batch, window)`` in, raw-scale next values ``(batch,)`` out.

    Scaling and the RNN's input layout live here, so the exported file alone gives
    correct forecasts to any TorchScript consumer, and training and serving cannot
    disagree about normalisation.
    """

    sequence_layout: Final[bool]
    relative: Final[bool]
    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, net: SimpleRNN, layout: Layout, norm: Normalization) -> None:
        super().__init__()
        self.net = net
        self.sequence_layout = layout == "sequence"
        self.relative = norm.kind == "last_value"
        self.register_buffer("shift", torch.tensor(norm.shift, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(norm.scale, dtype=torch.float32))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale raw windows and shape them for the RNN; also return the per-row shift."""
        if self.relative:
            ref = x[:, -1:]
        else:
            ref = self.shift.expand(x.shape[0], 1)
        z = (x - ref) / self.scale
        inputs = z.unsqueeze(2) if self.sequence_layout else z.unsqueeze(1)
        return inputs, ref

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, window) raw values -> (batch,) raw-scale forecasts."""
        inputs, ref = self.encode(x)
        out: torch.Tensor = self.net(inputs)
        return out[:, 0] * self.scale + ref[:, 0]


class Member(nn.Module):
    """One ensemble member: a SimpleRNN reading the last ``length`` values of a window as
    one step of features, predicting the residual the anchor leaves.

    A member reads either the window normalised by itself (minus the anchor, over the
    window's scale: robust to level shifts, series of any level) or ``standardised`` by
    the training part's constants (it then knows the absolute level, which helps on a
    stationary series). Its output layer starts at zero: untrained, it adds nothing.
    """

    length: Final[int]
    standardised: Final[bool]

    def __init__(self, length: int, hidden_size: int, standardised: bool) -> None:
        super().__init__()
        self.length = length
        self.standardised = standardised
        self.net = SimpleRNN(length, hidden_size)
        nn.init.zeros_(self.net.fc.weight)
        nn.init.zeros_(self.net.fc.bias)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``u``: (batch, window) normalised values -> (batch,) residuals."""
        out: torch.Tensor = self.net(u[:, -self.length :].unsqueeze(1))
        return out[:, 0]


class AnchoredForecaster(nn.Module):
    """Raw windows in, raw next values out: an exponential-smoothing anchor plus the
    weighted residuals of an ensemble of members.

    Per window (ES-RNN style): take logs when the model works in log space; the anchor
    is ``z @ basis`` (linear smoothing, see app.training.smoothing); the window's scale is
    its mean absolute (seasonal) difference. Window-normalised members read
    ``(z - anchor) / scale`` and answer in window scales; standardised members read
    ``(z - shift) / spread`` and answer in spreads. Their weighted sum is added to the
    anchor. Weights of zero give the anchor itself, so a network that learned nothing
    returns the baseline.
    """

    log_space: Final[bool]
    lag: Final[int]
    basis: torch.Tensor
    weights: torch.Tensor
    floor: torch.Tensor
    shift: torch.Tensor
    spread: torch.Tensor

    def __init__(
        self, basis: torch.Tensor, lag: int, log_space: bool, floor: float,
        standardisation: tuple[float, float], members: list[Member], weights: list[float],
    ) -> None:
        super().__init__()
        self.log_space = log_space
        self.lag = lag
        self.register_buffer("basis", basis.to(torch.float32))
        self.register_buffer("weights", torch.tensor(weights or [0.0], dtype=torch.float32))
        self.register_buffer("floor", torch.tensor(floor, dtype=torch.float32))
        self.register_buffer("shift", torch.tensor(standardisation[0], dtype=torch.float32))
        self.register_buffer("spread", torch.tensor(standardisation[1], dtype=torch.float32))
        self.members = nn.ModuleList(members)

    def space(self, x: torch.Tensor) -> torch.Tensor:
        """Raw values -> the model's space (logarithms in log space)."""
        return torch.log(torch.clamp(x, min=self.floor)) if self.log_space else x

    def inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(batch, window) raw -> window-normalised and standardised windows, the anchor
        (batch,) and the window scale (batch,), all in the model's space."""
        z = self.space(x)
        anchor = (z @ self.basis)[:, 0]
        steps = z[:, self.lag :] - z[:, : -self.lag]
        scale = steps.abs().mean(dim=1).clamp_min(1e-6)
        return (z - anchor[:, None]) / scale[:, None], (z - self.shift) / self.spread, anchor, scale

    @torch.jit.export
    def noise_scale(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, window) raw -> (batch,) the window's mean absolute (seasonal) difference
        in raw units: the unit of the calibration residuals (``window_scale``)."""
        steps = x[:, self.lag :] - x[:, : -self.lag]
        return steps.abs().mean(dim=1).clamp_min(1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, window) raw values -> (batch,) raw next values."""
        u, s, anchor, scale = self.inputs(x)
        out = anchor
        for i, member in enumerate(self.members):
            if member.standardised:
                out = out + self.weights[i] * member(s) * self.spread
            else:
                out = out + self.weights[i] * member(u) * scale
        return torch.exp(out) if self.log_space else out
