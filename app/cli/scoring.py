"""The scoring behind ``rnncast score``: forecast log lines joined with actual values.

Each logged forecast step with a series id and a timestamp becomes one point, joined
with the actual value of the same series at the same time. Per model version
(name, version and sha256):

- MAE: the mean absolute error of the points that have an actual value;
- MASE: the mean of each point's absolute error divided by its line's ``naive_mae``,
  the mean absolute one-step change of the history posted with that request (the
  in-sample error of the naive forecast, as Hyndman and Koehler scale it). The
  server computes it at forecast time, because only the request saw that history;
  a flat history (scale 0) leaves its points out of MASE. Below 1, the model beat
  repeating the last value by as much as the history's own changes;
- coverage: for each pair of quantile levels q and 1 - q logged together, the
  share of actual values inside [q, 1 - q], beside its nominal level 1 - 2q.

Timestamps are compared as instants: times without an offset are taken as UTC on
both sides. Pandas is imported only here, never by the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

GROUP = ["model", "version", "sha256"]
POINT_COLUMNS = ["point", *GROUP, "series_id", "ts", "forecast", "naive_mae"]
_FIELDS = {"model", "series_id", "timestamps", "forecast", "naive_mae", "quantiles"}


class ScoreInputError(ValueError):
    """A log or actuals file that cannot be scored; the message names the file."""


@dataclass
class LogPoints:
    """Forecast points read from the log, and what could not be used."""

    points: pd.DataFrame  # point, model, version, sha256, series_id, ts, forecast, naive_mae
    intervals: pd.DataFrame  # point, nominal, lower, upper
    lines: int = 0
    unreadable: int = 0
    unkeyed: int = 0  # lines without a series id or timestamps: nothing to join on
    files: list[Path] = field(default_factory=list)


def log_files(paths: Iterable[Path]) -> list[Path]:
    """Each path and its rotated predecessors (``LOG.1``, ``LOG.2``, ...), oldest first."""
    found = []
    for path in paths:
        rotated = [p for p in path.parent.glob(f"{path.name}.*") if p.suffix[1:].isdigit()]
        found += sorted(rotated, key=lambda p: -int(p.suffix[1:]))
        if path.exists():
            found.append(path)
        elif not rotated:
            raise ScoreInputError(f"{path}: no such forecast log")
    return found


def _lines(files: list[Path]) -> Iterator[bytes]:
    for path in files:
        try:
            with path.open("rb") as handle:
                yield from handle
        except OSError as exc:
            raise ScoreInputError(f"{path}: {exc.strerror or exc}") from exc


def _intervals(quantiles: dict[str, list[float]] | None) -> Iterator[tuple[float, list[float], list[float]]]:
    """(nominal level, lower, upper) for each pair of levels q < 0.5 and 1 - q present."""
    levels = {round(float(k), 6): v for k, v in (quantiles or {}).items()}
    for q, lower in sorted(levels.items()):
        upper = levels.get(round(1 - q, 6))
        if q < 0.5 and upper is not None:
            yield round(1 - 2 * q, 6), lower, upper


def _parse(raw: bytes) -> dict[str, Any] | None:
    """One log line, or None when it is not a whole forecast line (e.g. the last line
    of a process killed mid-write)."""
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(line, dict) or not _FIELDS <= line.keys():
        return None
    steps = len(line["forecast"])
    lengths = [len(v) for v in (line["quantiles"] or {}).values()]
    if line["timestamps"] is not None:
        lengths.append(len(line["timestamps"]))
    return line if all(n == steps for n in lengths) else None


def read_log(paths: Iterable[Path]) -> LogPoints:
    """Every forecast step of the log files that names a series and a time."""
    files = log_files(paths)
    points: list[tuple[Any, ...]] = []
    intervals: list[tuple[int, float, float, float]] = []
    result = LogPoints(pd.DataFrame(), pd.DataFrame(), files=files)
    for raw in _lines(files):
        result.lines += 1
        line = _parse(raw)
        if line is None:
            result.unreadable += 1
            continue
        if line["series_id"] is None or not line["timestamps"]:
            result.unkeyed += 1
            continue
        model, first = line["model"], len(points)
        points += [
            (first + step, model["name"], model["version"], model["sha256"], line["series_id"], ts, value,
             line["naive_mae"])
            for step, (ts, value) in enumerate(zip(line["timestamps"], line["forecast"], strict=True))
        ]
        for nominal, lower, upper in _intervals(line["quantiles"]):
            pairs = enumerate(zip(lower, upper, strict=True))
            intervals += [(first + step, nominal, lo, hi) for step, (lo, hi) in pairs]
    result.points = pd.DataFrame.from_records(points, columns=POINT_COLUMNS).astype(
        {"forecast": "float64", "naive_mae": "float64"})
    result.points["ts"] = _instants(result.points["ts"], "the forecast log")
    result.intervals = pd.DataFrame.from_records(intervals, columns=["point", "nominal", "lower", "upper"])
    return result


def _instants(values: pd.Series, where: str) -> pd.Series:
    parsed = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(bad.argmax())
        raise ScoreInputError(f"{where}: row {row + 1} holds {values.iloc[row]!r}, not an ISO 8601 time")
    return parsed


def read_actuals(path: Path, id_column: str, time_column: str, value_column: str) -> pd.DataFrame:
    """The actuals CSV as (series_id, ts, actual), one row per series and time."""
    try:
        frame = pd.read_csv(path, dtype={id_column: str})
    except (OSError, ValueError) as exc:
        raise ScoreInputError(f"{path}: {exc}") from exc
    missing = [c for c in (id_column, time_column, value_column) if c not in frame.columns]
    if missing:
        raise ScoreInputError(
            f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(frame.columns)})"
        )
    actuals = pd.DataFrame({
        "series_id": frame[id_column],
        "ts": _instants(frame[time_column], f"{path} column {time_column!r}"),
        "actual": pd.to_numeric(frame[value_column], errors="coerce"),
    })
    if actuals["actual"].isna().any():
        row = int(actuals["actual"].isna().to_numpy().argmax())
        raise ScoreInputError(f"{path}: row {row + 1} has no number in column {value_column!r}")
    duplicated = actuals.duplicated(["series_id", "ts"])
    if duplicated.any():
        first = actuals[duplicated].iloc[0]
        raise ScoreInputError(
            f"{path}: {int(duplicated.sum())} repeated (series, time) pairs, e.g. {first.series_id!r} at {first.ts}"
        )
    return actuals


def score(log: LogPoints, actuals: pd.DataFrame) -> dict[str, Any]:
    """Scores per model version, with the counts of what was read and left out."""
    joined = log.points.merge(actuals, on=["series_id", "ts"], how="inner")
    joined["abs_error"] = (joined["actual"] - joined["forecast"]).abs()
    covered = log.intervals.merge(joined[["point", "actual"]], on="point", how="inner")
    covered["inside"] = (covered["lower"] <= covered["actual"]) & (covered["actual"] <= covered["upper"])
    models = []
    for key, group in joined.groupby(GROUP, sort=True):
        scaled = group[group["naive_mae"] > 0]
        cover = covered[covered["point"].isin(group["point"])]
        models.append({
            **dict(zip(GROUP, key, strict=True)),
            "points": len(group),
            "mae": float(group["abs_error"].mean()),
            "mase": float((scaled["abs_error"] / scaled["naive_mae"]).mean()) if len(scaled) else None,
            "mase_points": len(scaled),
            "coverage": {f"{nominal:g}": float(c["inside"].mean()) for nominal, c in cover.groupby("nominal")},
        })
    return {
        "models": models,
        "files": [str(p) for p in log.files],
        "lines": log.lines,
        "lines_unreadable": log.unreadable,
        "lines_without_series_or_times": log.unkeyed,
        "points_scored": len(joined),
        "points_waiting": len(log.points) - len(joined),
    }
