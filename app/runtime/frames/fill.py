"""Missing values on the regular grid: drop leading ones, fill the rest by a policy.

Works on the flat values of all series at once (``starts``/``ends`` bound each
series), with no loop over series or rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.runtime.frames.freq import Int64s

Floats = npt.NDArray[np.float64]
FillMethod = Literal["linear", "ffill", "zero", "refuse"]
FILL_METHODS: tuple[FillMethod, ...] = ("linear", "ffill", "zero", "refuse")


@dataclass(frozen=True)
class FillPolicy:
    """How missing timestamps and null values are filled, and when a series is refused.

    ``linear`` interpolates between the neighbouring observed values (a missing tail,
    with no later value, carries the last one forward); ``ffill`` carries the last
    observed value forward; ``zero`` puts 0; ``refuse`` refuses any series with a
    missing value. Values missing before a series' first observed one are dropped.
    Whatever the method, a series is refused when more than ``max_missing`` of the
    values its forecast reads (its last ``window``) were missing.
    """

    method: FillMethod = "linear"
    max_missing: float = 0.5


def first_observed(values: Floats, starts: Int64s, ends: Int64s) -> Int64s:
    """Index of each series' first finite value (``ends`` where there is none)."""
    index = np.arange(len(values))
    marked = np.where(np.isfinite(values), index, len(values))
    first = np.minimum.reduceat(marked, starts) if len(values) else np.zeros(0, np.int64)
    return np.minimum(first, ends)


def fill_missing(values: Floats, method: FillMethod, ends_of: Int64s) -> Floats:
    """``values`` with every NaN filled by ``method`` (not ``refuse``).

    Each series must start with a finite value (see :func:`first_observed`);
    ``ends_of[i]`` is the end of the series that index ``i`` belongs to.
    """
    missing = ~np.isfinite(values)
    if not missing.any():
        return values
    if method == "zero":
        return np.where(missing, 0.0, values)
    index = np.arange(len(values))
    before = np.maximum.accumulate(np.where(missing, -1, index))
    filled = values.copy()
    filled[missing] = values[before[missing]]
    if method == "linear":
        after = np.minimum.accumulate(np.where(missing, len(values), index)[::-1])[::-1]
        inside = missing & (after < ends_of)  # a missing tail has no later value: carried
        low, high = before[inside], after[inside]
        weight = (index[inside] - low) / (high - low)
        filled[inside] = values[low] + weight * (values[high] - values[low])
    return filled
