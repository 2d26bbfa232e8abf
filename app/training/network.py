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


class FusedMembers:
    """The members' weights as the scripted module holds them (see AnchoredForecaster)."""

    def __init__(self, hidden_in: torch.Tensor, hidden_bias: torch.Tensor, hidden_out: torch.Tensor,
                 out_bias: torch.Tensor) -> None:
        self.hidden_in = hidden_in  # (2 window, members x hidden)
        self.hidden_bias = hidden_bias  # (members x hidden,)
        self.hidden_out = hidden_out  # (members x hidden, 2): window-scale and spread units
        self.out_bias = out_bias  # (2,)

    @classmethod
    def empty(cls, window: int) -> "FusedMembers":
        """No members: the module is its anchor."""
        return cls(torch.zeros(2 * window, 0), torch.zeros(0), torch.zeros(0, 2), torch.zeros(2))


class AnchoredForecaster(nn.Module):
    """Raw windows in, raw next values out: an exponential-smoothing anchor plus the
    weighted residuals of an ensemble of one-step RNN members.

    Per window (ES-RNN style): take logs when the model works in log space; the anchor
    is ``z @ basis`` (linear smoothing, see app.training.smoothing); the window's scale is
    its mean absolute (seasonal) difference. Window-normalised members read
    ``(z - anchor) / scale`` and answer in window scales; standardised members read
    ``(z - shift) / spread`` and answer in spreads. Each member is an RNN cell run for one
    step from a zero state, ``tanh(input W + b)`` then a linear layer, so all members fuse
    into one product: ``hidden_in`` (2 window, members x hidden) holds every member's input
    weights (zero outside its look-back and kind), ``hidden_out`` (members x hidden, 2)
    its output layer times its ensemble weight, per unit. With no members (or weights of
    zero) the module returns the anchor: a network that learned nothing gives the baseline.
    """

    log_space: Final[bool]
    lag: Final[int]
    basis: torch.Tensor
    floor: torch.Tensor
    shift: torch.Tensor
    spread: torch.Tensor
    hidden_in: torch.Tensor
    hidden_bias: torch.Tensor
    hidden_out: torch.Tensor
    out_bias: torch.Tensor

    def __init__(
        self, basis: torch.Tensor, lag: int, log_space: bool, floor: float,
        standardisation: tuple[float, float], members: FusedMembers | None = None,
    ) -> None:
        super().__init__()
        self.log_space = log_space
        self.lag = lag
        window = basis.shape[0]
        fused = members or FusedMembers.empty(window)
        self.register_buffer("basis", basis.to(torch.float32))
        self.register_buffer("floor", torch.tensor(floor, dtype=torch.float32))
        self.register_buffer("shift", torch.tensor(standardisation[0], dtype=torch.float32))
        self.register_buffer("spread", torch.tensor(standardisation[1], dtype=torch.float32))
        self.register_buffer("hidden_in", fused.hidden_in.to(torch.float32))
        self.register_buffer("hidden_bias", fused.hidden_bias.to(torch.float32))
        self.register_buffer("hidden_out", fused.hidden_out.to(torch.float32))
        self.register_buffer("out_bias", fused.out_bias.to(torch.float32))

    def space(self, x: torch.Tensor) -> torch.Tensor:
        """Raw values -> the model's space (logarithms in log space)."""
        return torch.log(torch.clamp(x, min=self.floor)) if self.log_space else x

    def inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(batch, window) raw -> the members' input ``[window-normalised | standardised]``
        (batch, 2 window), the anchor (batch,) and the window scale (batch,), all in the
        model's space."""
        z = self.space(x)
        # A product and a row sum, not ``z @ basis``: a matrix-vector product rounds a row
        # by its memory alignment and by the rows beside it on some CPUs (AMD's), and a
        # series must get the same bits wherever its row sits (app.runtime.forecaster).
        anchor = (z * self.basis[:, 0]).sum(dim=1)
        steps = z[:, self.lag :] - z[:, : -self.lag]
        scale = steps.abs().mean(dim=1).clamp_min(1e-6)
        normalised = (z - anchor[:, None]) / scale[:, None]
        return torch.cat([normalised, (z - self.shift) / self.spread], dim=1), anchor, scale

    @torch.jit.export
    def noise_scale(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, window) raw -> (batch,) the window's mean absolute (seasonal) difference
        in raw units: the unit of the calibration residuals (``window_scale``)."""
        steps = x[:, self.lag :] - x[:, : -self.lag]
        return steps.abs().mean(dim=1).clamp_min(1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, window) raw values -> (batch,) raw next values."""
        inputs, anchor, scale = self.inputs(x)
        residual = torch.tanh(inputs @ self.hidden_in + self.hidden_bias) @ self.hidden_out + self.out_bias
        out = anchor + residual[:, 0] * scale + residual[:, 1] * self.spread
        return torch.exp(out) if self.log_space else out
