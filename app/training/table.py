"""Reading a user's file: one series, or many in long format, with gaps filled.

CSV or Parquet (told apart by the file's first bytes, not its name), read with pandas.
A long-format file has one row per (series id, time, value). Every problem stops with
one sentence naming the file, the column and the row a user would look at.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from app.training.data import DataError, SeriesData

Fill = Literal["linear", "previous", "none"]
PARQUET_MAGIC = b"PAR1"
# More missing than this and a series is refused rather than invented.
MOST_MISSING = 0.5


@dataclass(frozen=True)
class Panel:
    """The series of one file, each with its own test split, and their time frequency."""

    series: list[SeriesData]
    frequency: str | None


def read_frame(path: Path) -> pd.DataFrame:
    """The file as a DataFrame; CSV unless its first bytes say Parquet."""
    try:
        with path.open("rb") as handle:
            parquet = handle.read(4) == PARQUET_MAGIC
        if parquet:
            return pd.read_parquet(path)
        # Only an empty cell is a gap: pandas' default NA markers (n/a, NA, null, ...) stay
        # text here, so they are reported as the non-numbers they are.
        return pd.read_csv(path, skip_blank_lines=False, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except ImportError as exc:
        raise DataError(f"{path}: reading Parquet needs pyarrow ({exc})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable CSV or Parquet file ({str(exc).strip()})") from None


def _column(frame: pd.DataFrame, path: Path, name: str) -> pd.Series:
    if name not in frame.columns:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise DataError(f"{path}: no column {name!r} (columns found: {found})")
    return frame[name]


def _numbers(raw: pd.Series, where: str) -> pd.Series:
    numeric = pd.to_numeric(raw, errors="coerce")
    rows = raw.index.to_numpy()
    bad = (numeric.isna() & raw.notna()).to_numpy()
    if bad.any():
        at = int(np.argmax(bad))
        raise DataError(f"{where} has a non-numeric value {raw.iloc[at]!r} at row {int(rows[at]) + 2}")
    infinite = ~np.isfinite(numeric.fillna(0.0).to_numpy(dtype=np.float64))
    if infinite.any():
        raise DataError(f"{where} has a non-finite value at row {int(rows[np.argmax(infinite)]) + 2}")
    return numeric


def _longest_gap(missing: np.ndarray, rows: np.ndarray) -> str:
    best, start, run_start = 0, 0, 0
    for i, gap in enumerate(missing):
        if not gap:
            continue
        run_start = i if i == 0 or not missing[i - 1] else run_start
        if i - run_start + 1 > best:
            best, start = i - run_start + 1, run_start
    return f"rows {rows[start] + 2}-{rows[start + best - 1] + 2} ({best} values)"


def fill_gaps(numeric: pd.Series, fill: Fill, where: str) -> np.ndarray:
    """Fill empty values: linearly or with the previous value; trim empty ends."""
    missing = numeric.isna().to_numpy()
    rows = numeric.index.to_numpy()
    if missing.mean() > MOST_MISSING:
        raise DataError(
            f"{where} is mostly empty ({int(missing.sum())} of {len(missing)} values missing; "
            f"the longest gap is {_longest_gap(missing, rows)})"
        )
    present = np.flatnonzero(~missing)
    inner = numeric.iloc[present[0] : present[-1] + 1]
    if inner.isna().any():
        if fill == "none":
            row = int(inner.index.to_numpy()[int(np.argmax(inner.isna().to_numpy()))])
            raise DataError(f"{where} has a gap (empty value) at row {row + 2}; --fill linear fills it")
        inner = inner.interpolate("linear") if fill == "linear" else inner.ffill()
    return inner.to_numpy(dtype=np.float64)


def _frequency(times: pd.Series) -> str | None:
    stamps = pd.to_datetime(times, errors="coerce")
    if stamps.isna().any() or len(stamps) < 3 or pd.api.types.is_numeric_dtype(times):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces an offset return type
        code = pd.infer_freq(pd.DatetimeIndex(stamps))
    return None if code is None else str(getattr(code, "freqstr", code))


def load_table(
    path: Path, column: str, *, id_column: str | None = None, time_column: str | None = None,
    fill: Fill = "linear", test_fraction: float = 0.2,
) -> Panel:
    """Every series of the file, ordered by time when a time column is named."""
    frame = read_frame(path)
    values = _numbers(_column(frame, path, column), f"{path}: column {column!r}")
    frame = frame.assign(**{column: values})
    if time_column is not None:
        frame = frame.iloc[np.argsort(_column(frame, path, time_column).to_numpy(), kind="stable")]
    groups = [("", frame)] if id_column is None else list(frame.groupby(_column(frame, path, id_column), sort=False))
    series, frequency = [], None
    for key, group in groups:
        where = f"{path}: column {column!r}" + (f" of series {key!r}" if id_column else "")
        filled = fill_gaps(group[column], fill, where)
        test_points = max(1, int(round(len(filled) * test_fraction)))
        description = {"source": "file", "file": path.name, "column": column, "points": len(filled),
                       "test_points": test_points}
        if id_column is not None:
            description["id"] = str(key)
        series.append(SeriesData(filled, len(filled) - test_points, description))
        if time_column is not None and frequency is None:
            frequency = _frequency(group[time_column])
    return Panel(series, frequency)
