"""What a request costs, estimated from its shape before any compute, and the check
against the per-request budget.

The budget bounds memory per request: every value a request makes the server hold is
counted, so no accepted request can allocate more than the budget allows.

- ``rows``: model rows evaluated (series x horizon x (1 + paths), walk-forward
  windows) plus every value produced besides them (quantile levels x series x
  horizon, timestamps, walk-forward points). Limit: ``RNNCAST_MAX_COMPUTE_ROWS``.
- ``response_bytes``: an upper bound of the JSON answer's size (each float32 at its
  longest, each timestamp with microseconds and offset, each series' keys and id).
  Limit: ``RNNCAST_MAX_RESPONSE_BYTES``.

Any heavy endpoint builds a :class:`Cost` (``+`` adds two) and calls
:func:`check_cost` before it queues work. Answers in rows (the long forms, backtests,
anomalies) are costed by :func:`rows_cost`: their model rows plus every value
returned, in rows of at most :func:`json_row_bytes` each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.runtime.errors import LimitExceededError

# orjson writes a float32 in at most 15 characters ("-1.1754944e-38") plus a comma.
FLOAT_BYTES = 16
# '"2026-01-31T00:00:00.000001+00:00",'
TIMESTAMP_BYTES = 35
# keys, an id of up to 256 characters (escaped), nulls and scores of one series
SERIES_BYTES = 1024
QUANTILE_KEY_BYTES = 32


@dataclass(frozen=True)
class Cost:
    """A request's estimated cost; see the module docstring for the units."""

    rows: int
    response_bytes: int

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.rows + other.rows, self.response_bytes + other.response_bytes)


def rolling_cost(
    series: int,
    horizon: int,
    *,
    paths: int = 0,
    quantiles: int = 0,
    timestamped: int = 0,
    walk_forward_points: int = 0,
) -> Cost:
    """The cost of ``series`` recursive forecasts of ``horizon`` steps, with ``paths``
    simulated paths each, ``quantiles`` levels, ``timestamped`` series carrying
    timestamps and ``walk_forward_points`` in-sample predictions in all."""
    steps = series * horizon
    values_out = steps * (1 + quantiles) + walk_forward_points
    rows = steps * (1 + paths) + steps * quantiles + timestamped * horizon + 2 * walk_forward_points
    response = (
        values_out * FLOAT_BYTES
        + timestamped * horizon * TIMESTAMP_BYTES
        + series * (SERIES_BYTES + quantiles * QUANTILE_KEY_BYTES)
    )
    return Cost(rows=rows, response_bytes=response)


def json_row_bytes(float_columns: Sequence[str], time_columns: Sequence[str], id_chars: int) -> int:
    """An upper bound of one answer row in JSON: ``{"unique_id": id, "ds": time, ...}``."""
    keys = sum(len(name) + 4 for name in (*float_columns, *time_columns, "unique_id"))
    return keys + 2 * id_chars + 4 + FLOAT_BYTES * len(float_columns) + TIMESTAMP_BYTES * len(time_columns)


def rows_cost(model_rows: int, rows: int, values_per_row: int, row_bytes: int, series: int) -> Cost:
    """An answer in rows: ``model_rows`` evaluated, then ``rows`` rows of
    ``values_per_row`` values (numbers and times), each at most ``row_bytes`` long, and
    what is said per series beside them (what was filled, scores)."""
    return Cost(rows=model_rows + rows * values_per_row, response_bytes=rows * row_bytes + series * SERIES_BYTES)


def id_chars(names: Sequence[str | None]) -> int:
    """The longest series id (a position for a series without one)."""
    return max((len(name) if name is not None else 10 for name in names), default=0)


ROLLING_FORMULA = "series x horizon x (1 + num_samples + quantile levels) + timestamps + walk-forward points"


def check_cost(
    cost: Cost, *, max_rows: int, max_response_bytes: int, field: str = "horizon", formula: str = ROLLING_FORMULA
) -> None:
    """LimitExceededError (422) naming the limit the request breaks, if any; ``formula``
    says how the rows were counted, so the caller knows what to reduce."""
    if cost.rows > max_rows:
        raise LimitExceededError(
            f"this request needs {cost.rows} rows of compute and output ({formula}); the budget "
            f"is {max_rows} per request (RNNCAST_MAX_COMPUTE_ROWS)",
            field=field, limit=max_rows,
        )
    if cost.response_bytes > max_response_bytes:
        raise LimitExceededError(
            f"the answer to this request could reach {cost.response_bytes} bytes; responses are "
            f"limited to {max_response_bytes} bytes (RNNCAST_MAX_RESPONSE_BYTES): ask for fewer "
            "series, steps, quantile levels or timestamps",
            field=field, limit=max_response_bytes,
        )
