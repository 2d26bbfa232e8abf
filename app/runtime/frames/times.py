"""ISO 8601 text <-> nanoseconds since the epoch, a whole column at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from app.runtime.errors import InvalidSeriesError
from app.runtime.frames.freq import DAY, Int64s

Strings = npt.NDArray[np.str_]


def parse_times(texts: Sequence[str] | Strings, field: str) -> tuple[Int64s, bool]:
    """Nanoseconds since the epoch of ISO 8601 dates or date-times, and whether any
    carried a zone (``Z`` or ``+HH:MM``); zoned times are converted to UTC."""
    array = np.asarray(texts, dtype=np.str_)
    zulu = np.char.endswith(array, "Z")
    array = np.where(zulu, np.char.rstrip(array, "Z"), array)
    offset = (np.char.find(array, "T") >= 0) & np.isin(_char_from_end(array, 6), ["+", "-"]) & (
        _char_from_end(array, 3) == ":"
    )
    stamps = np.zeros(len(array), np.int64)
    try:
        stamps[~offset] = np.array(array[~offset], dtype="M8[ns]").astype(np.int64)
        stamps[offset] = [_utc_ns(text) for text in array[offset]]  # rare: numpy reads no offsets
    except ValueError:
        raise _bad_time(array, field) from None
    return stamps, bool(zulu.any() or offset.any())


def _char_from_end(array: Strings, k: int) -> Strings:
    """The k-th last character of each string ('' where the string is shorter)."""
    lengths = np.strings.str_len(array)
    return np.where(lengths >= k, np.strings.slice(array, lengths - k, lengths - k + 1), "")


def _utc_ns(text: str) -> int:
    moment = datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)
    return int(np.datetime64(moment, "ns").astype(np.int64))


def _bad_time(array: Strings, field: str) -> InvalidSeriesError:
    for index, text in enumerate(array):
        try:
            _utc_ns(text) if "T" in text and text[-6:-5] in "+-" else np.datetime64(text, "ns")
        except ValueError:
            return InvalidSeriesError(
                f"{field}[{index}] is {str(text)!r}, not an ISO 8601 date or date-time", field=field
            )
    return InvalidSeriesError(f"{field} holds a time outside the years 1678 to 2261", field=field)


def format_times(stamps: Int64s, zoned: bool) -> Strings:
    """ISO 8601 text of nanosecond timestamps: dates when every one is a midnight,
    else date-times to the second (or finer when needed); ``Z`` when ``zoned``."""
    moments: npt.NDArray[np.datetime64] = stamps.view("M8[ns]")
    if not len(stamps):
        return np.array([], dtype=np.str_)
    if (stamps % DAY == 0).all():
        return np.datetime_as_string(moments, unit="D")
    text: Strings = np.datetime_as_string(
        moments, unit="s" if (stamps % 10**9 == 0).all() else "ns", timezone="UTC" if zoned else "naive"
    )
    return text
