"""The tutorial's SimpleRNN and the wrapper that bakes scaling and layout into it."""

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
