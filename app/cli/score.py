"""``rnncast score``: score the forecast log against actual values that arrived later.

MAE, MASE and interval coverage per model version: the loop that tells a team when
a model has gone stale. How each is computed: :mod:`app.cli.scoring`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``score`` and its flags."""
    score = commands.add_parser("score", help="score logged forecasts against actual values")
    score.add_argument("--log", type=Path, action="append", required=True,
                       help="forecast log (RNNCAST_FORECAST_LOG); its rotated LOG.1, LOG.2, ... are "
                       "read too; repeat for the logs of several servers")
    score.add_argument("--actuals", type=Path, required=True,
                       help="CSV of actual values, one row per series and time")
    score.add_argument("--id-column", default="unique_id", help="series id column of --actuals")
    score.add_argument("--time-column", default="ds", help="ISO 8601 time column of --actuals")
    score.add_argument("--value-column", default="y", help="actual value column of --actuals")
    score.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    score.set_defaults(run=run)


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def table(report: dict[str, Any]) -> str:
    """The scores as an aligned text table with a summary line."""
    rows = [["model", "version", "sha256", "points", "MAE", "MASE", "coverage (nominal: actual)"]]
    for m in report["models"]:
        coverage = ", ".join(f"{float(k):.0%}: {v:.0%}" for k, v in m["coverage"].items()) or "-"
        rows.append([m["model"], m["version"], m["sha256"][:12], str(m["points"]),
                     _number(m["mae"]), _number(m["mase"]), coverage])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append(
        f"{report['points_scored']} forecast points scored from {report['lines']} lines in "
        f"{len(report['files'])} files; {report['points_waiting']} points wait for actuals; "
        f"{report['lines_without_series_or_times']} lines without a series id or timestamps and "
        f"{report['lines_unreadable']} unreadable lines left out"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the scores; exit 2 when a file cannot be read or joined."""
    from app.cli.scoring import ScoreInputError, read_actuals, read_log, score

    try:
        log = read_log(args.log)
        actuals = read_actuals(args.actuals, args.id_column, args.time_column, args.value_column)
    except ScoreInputError as exc:
        print(f"rnncast score: {exc}", file=sys.stderr)
        return 2
    report = score(log, actuals)
    print(json.dumps(report) if args.json else table(report))
    return 0
