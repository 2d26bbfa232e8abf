"""Answers as rows: named columns of equal length, ready for JSON, CSV or Arrow."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.runtime.frames.freq import Int64s
from app.runtime.frames.panel import Panel, TimeKind

Column = npt.NDArray[np.generic]


@dataclass(frozen=True)
class Table:
    """Rows as columns, in order. ``time_columns`` hold grid timestamps as int64
    (nanoseconds since the epoch for ``time_kind == "datetime"``, UTC when ``zoned``)."""

    columns: dict[str, Column]
    time_columns: tuple[str, ...] = ()
    time_kind: TimeKind = "none"
    zoned: bool = False

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def id_column(panel: Panel, series: Int64s) -> npt.NDArray[np.object_]:
    """The id of each row's series; a series posted without one is named by its position."""
    names = np.array([str(i) if n is None else n for i, n in enumerate(panel.names)], dtype=object)
    return names[series]


def panel_table(panel: Panel, columns: dict[str, Column], time_columns: tuple[str, ...] = ("ds",)) -> Table:
    """A Table that carries ``panel``'s kind of time."""
    return Table(columns, time_columns, panel.time_kind, panel.zoned)
