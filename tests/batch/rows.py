"""Long-format rows of a few daily series for the batch tests."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tests.factories import make_series


def rows(count: int, length: int = 160) -> pa.Table:
    """``count`` daily series of uneven lengths, with a missing day and a null in one."""
    ids, days, values = [], [], []
    for s in range(count):
        n = length + 7 * s
        day = np.datetime64("2024-01-01") + np.arange(n)
        y = np.array(make_series(n, seed=s), dtype=np.float64)
        keep = np.ones(n, bool)
        if s == 1:
            keep[n - 20] = False  # a missing timestamp, filled linearly like the server does
            y[n - 30] = np.nan  # a null value
        ids += [f"store-{s}"] * int(keep.sum())
        days.append(day[keep])
        values.append(y[keep])
    return pa.table({"unique_id": ids, "ds": np.concatenate(days), "y": pa.array(np.concatenate(values),
                                                                                from_pandas=True)})
