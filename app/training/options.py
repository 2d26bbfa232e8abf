"""What the user asked ``rnncast train`` for, and the checks on it that need no data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.training.data import DataError
from app.training.table import Fill


@dataclass(frozen=True)
class TrainOptions:
    """The command line's choices; ``None`` means "choose from the data"."""

    out: Path
    preset: str = "default"
    data: str = "synthetic"
    column: str | None = None
    id_column: str | None = None
    time_column: str | None = None
    fill: Fill = "linear"
    seed: int = 0
    points: int | None = None
    test_points: int = 200
    test_fraction: float = 0.2
    period: int | None = None
    window: int | None = None
    epochs: int | None = None
    name: str | None = None
    version: str = "1"
    quiet: bool = False

    def check(self) -> None:
        """Refuse impossible flags in one sentence each (exit status 2 in the CLI)."""
        if self.period is not None and self.period < 1:
            raise DataError(f"--period must be at least 1 (1 = no season), got {self.period}")
        if not 0.0 < self.test_fraction < 1.0:
            raise DataError(f"--test-fraction must be between 0 and 1 (exclusive), got {self.test_fraction}")
        if self.window is not None and self.window < 2:
            raise DataError(f"--window must be at least 2, got {self.window}")
        if self.epochs is not None and self.epochs < 1:
            raise DataError(f"--epochs must be at least 1, got {self.epochs}")
        if self.points is not None and self.points < 2:
            raise DataError(f"--points must be at least 2, got {self.points}")
        if self.data != "synthetic" and self.column is None:
            raise DataError("--column is required with a data file: name the column to forecast")
        if self.data == "synthetic" and (self.id_column or self.time_column):
            raise DataError("--id-column and --time-column need a data file (--data FILE)")
