"""Arrow tables <-> frames and answer tables: how CSV and Parquet bodies, Parquet
files and Arrow batches (Ray Data, Spark) meet the panel code.

Imports pyarrow, so import this module only when such data arrives: the server
does not load pyarrow until the first CSV or Parquet body.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from app.runtime.errors import InvalidSeriesError
from app.runtime.frames.fill import Floats
from app.runtime.frames.freq import Int64s
from app.runtime.frames.panel import Frame, TimeKind
from app.runtime.frames.table import Table
from app.runtime.frames.times import format_times, parse_times


def _present(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise InvalidSeriesError(
            f"no column {name!r}; the columns are {', '.join(table.column_names) or 'none'}", field=name
        )
    return table[name]


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    column = _present(table, name)
    if column.null_count:
        raise InvalidSeriesError(f"column {name!r} has {column.null_count} nulls; every row needs one", field=name)
    return column


def _ids(column: pa.ChunkedArray) -> tuple[Int64s, list[str]]:
    """Codes and ids in order of first appearance (Arrow's dictionary encoding keeps it)."""
    encoded = pc.dictionary_encode(column.cast(pa.string())).combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


def _values(column: pa.ChunkedArray, name: str) -> Floats:
    try:
        numbers = column.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidSeriesError(f"column {name!r} is not numeric ({exc})", field=name) from None
    return np.asarray(numbers.fill_null(np.nan).to_numpy(), np.float64)


def _times(column: pa.ChunkedArray, name: str) -> tuple[Int64s, TimeKind, bool]:
    kind = column.type
    if pa.types.is_timestamp(kind):
        ns = column.cast(pa.timestamp("ns", kind.tz), safe=False)
        return ns.to_numpy().view(np.int64), "datetime", kind.tz is not None
    if pa.types.is_date(kind):
        return column.cast(pa.timestamp("ns")).to_numpy().view(np.int64), "datetime", False
    if pa.types.is_integer(kind):
        return column.cast(pa.int64()).to_numpy(), "index", False
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        stamps, zoned = parse_times(column.to_numpy(zero_copy_only=False).astype(np.str_), name)
        return stamps, "datetime", zoned
    raise InvalidSeriesError(f"column {name!r} holds {kind}, not times or integers", field=name)


def read_rows(source: Any, csv: bool, id_col: str, target_col: str) -> pa.Table:
    """Rows from a CSV or Parquet file (a path or a ``pa.BufferReader``): ids read as
    text and CSV values as numbers, whatever they look like."""
    if not csv:
        return pq.read_table(source)
    types = {id_col: pa.string(), target_col: pa.float64()}
    return pa_csv.read_csv(source, convert_options=pa_csv.ConvertOptions(column_types=types))


def write_rows(table: Table, sink: Any, csv: bool, metadata: dict[str, str] | None = None) -> None:
    """An answer Table as CSV (times as ISO text) or Parquet (times as timestamps)."""
    if csv:
        pa_csv.write_csv(arrow_of(table, True), sink, pa_csv.WriteOptions(quoting_style="needed"))
    else:
        pq.write_table(arrow_of(table, False, metadata), sink)


def frame_from_arrow(table: pa.Table, id_col: str, time_col: str, target_col: str) -> Frame:
    """The rows of ``table`` as a Frame; ``time_col`` empty means rows are in time order."""
    codes, names = _ids(_column(table, id_col))
    y = _values(_present(table, target_col), target_col)
    if not time_col:
        return Frame(codes, names, y, None, "none")
    ds, kind, zoned = _times(_column(table, time_col), time_col)
    return Frame(codes, names, y, ds, kind, zoned)


def arrow_of(table: Table, text_times: bool, metadata: dict[str, str] | None = None) -> pa.Table:
    """An answer Table as Arrow: times as ISO text (``text_times``, for CSV) or as
    timestamps; NaN becomes null."""
    arrays: dict[str, Any] = {}
    for name, values in table.columns.items():
        if name in table.time_columns:
            arrays[name] = _time_array(values, table.time_kind, table.zoned, text_times)
        elif values.dtype == object:
            arrays[name] = pa.array(values, pa.string())
        else:
            arrays[name] = pa.array(values, from_pandas=True)
    return pa.table(arrays, metadata=metadata)


def _time_array(values: np.ndarray[Any, Any], kind: TimeKind, zoned: bool, text: bool) -> pa.Array:
    if kind != "datetime":
        return pa.array(values, pa.int64())
    if text:
        return pa.array(format_times(values, zoned), pa.string())
    return pa.array(values.view("M8[ns]"), pa.timestamp("ns", "UTC" if zoned else None))
