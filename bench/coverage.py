"""Interval coverage and a backtest of a served model on the real series.

``python -m bench.coverage --data DIR [--model models/default/model.pt]`` reads the seven
``DIR/<name>.csv`` (``ds,y``) series of the shared real-data set and, following its split
protocol (n_test = min(200, max(round(0.2 n), 2m)) seasonal, min(200, round(0.2 n))
otherwise), measures with the runtime's own code (the numbers the server gives):

- **coverage**: from every origin t in the test part whose h = min(24, n_test) steps
  are all in the test part, the 80% and 95% intervals of both methods (``conformal``:
  the server's default calibration, as many windows of the history before t as fit, up
  to 50, step 1; ``paths``: 500 paths, seed 0), the share of the h actual values inside
  and the mean width (also relative to the mean |y| of the series), per series and pooled;
- **backtest**: ``POST /v1/forecast/backtest`` semantics, h = min(24, n_test), as many
  cut-offs 6 apart as fit the test part (at most 4), MASE with the season, 80/95
  coverage of conformal intervals (of simulated paths where the history is too short
  to calibrate).

An origin needs window + h + 18 values before it (conformal, 19 windows for 95%); series shorter than that
for the model's window are reported as such. ``--train DIR`` also trains one model per
series on its train part only (the default recipe with a window of 24, which every
series' train part can calibrate) and measures each series with its own model: a model
that was fitted to the data, as a user would serve it. Prints Markdown; ``--out``
writes it too.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import torch

from app.runtime import backtest
from app.runtime.forecaster import Forecaster
from app.runtime.frames.panel import Panel, panel_of_series
from app.runtime.intervals import IntervalSpec, forecast
from app.runtime.seeding import series_keys

# name -> season, from the data set's README
SEASONS = {"airpassengers": 12, "wineind": 12, "ausbeer": 4, "unemp": 1, "heartrate": 1, "lynx": 1, "elnino": 12}
LEVELS = (80.0, 95.0)
METHODS = {
    "conformal": IntervalSpec("conformal", LEVELS),  # the server's default calibration
    "paths": IntervalSpec("paths", LEVELS, num_samples=500),
}


@dataclass(frozen=True)
class Series:
    """One real series and its protocol split."""

    name: str
    y: np.ndarray
    season: int

    @property
    def n_test(self) -> int:
        n, m = len(self.y), self.season
        return min(200, max(round(0.2 * n), 2 * m)) if m > 1 else min(200, round(0.2 * n))

    @property
    def n_train(self) -> int:
        return len(self.y) - self.n_test

    @property
    def horizon(self) -> int:
        return min(24, self.n_test)


def load(data: Path) -> list[Series]:
    """The seven series, ``y`` exactly as stored."""
    series = []
    for name, season in SEASONS.items():
        y = np.loadtxt(data / f"{name}.csv", delimiter=",", skiprows=1, usecols=1, dtype=np.float64)
        series.append(Series(name, y, season))
    return series


def origins(s: Series, window: int, spec: IntervalSpec) -> np.ndarray:
    """Forecast origins in the test part with every step in it and enough history before."""
    first = max(s.n_train, spec.history_needed(window, s.horizon))
    return np.arange(first, len(s.y) - s.horizon + 1)


def coverage(forecaster: Forecaster, s: Series, method: str) -> dict[str, float] | None:
    """Coverage (%) and width per level over every origin and step, or None when none fits."""
    spec = METHODS[method]
    ends = origins(s, forecaster.window, spec)
    if not len(ends):
        return None
    panel: Panel = panel_of_series([s.y.astype(np.float32)], [s.name])
    series = np.zeros(len(ends), np.int64)
    keys = series_keys(0, [f"{s.name}@{t}" for t in ends])  # an independent stream per origin
    _, found = forecast(forecaster, panel, series, ends, s.horizon, spec, keys)
    actual = s.y[ends[:, None] + np.arange(s.horizon)]
    scale = float(np.mean(np.abs(s.y)))
    result = {"origins": float(len(ends))}
    for level in LEVELS:
        low, high = found.bands[f"lo-{level:g}"], found.bands[f"hi-{level:g}"]
        result[f"cov{level:g}"] = 100 * float(np.mean((low <= actual) & (actual <= high)))
        result[f"width{level:g}"] = float(np.mean(high - low))
        result[f"relwidth{level:g}"] = float(np.mean(high - low)) / scale
    return result


def backtest_of(forecaster: Forecaster, s: Series) -> tuple[str, int, dict[str, float]] | str:
    """Backtest scores of the model on the test part, with conformal intervals, or
    simulated paths when the history before the first cut-off is too short to
    calibrate (the interval method, the cut-offs, the scores); or why it cannot run."""
    step = 6
    n_windows = max(1, min(4, (s.n_test - s.horizon) // step + 1))
    panel = panel_of_series([s.y.astype(np.float32)], [s.name])
    for method in METHODS:
        spec = backtest.BacktestSpec(s.horizon, n_windows, step, s.season, METHODS[method])
        needed = spec.history_needed(forecaster.window)
        if len(s.y) >= needed:
            result = backtest.run(forecaster, panel, spec)
            return method, n_windows, {key: float(values[0]) for key, values in result.scores.per_series.items()}
    return f"needs {needed} values for window {forecaster.window}"


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def report(forecaster: Forecaster, series: list[Series]) -> str:
    """The Markdown tables."""
    lines = [
        "| series | n | n_test | h | method | origins | cover 80 | cover 95 | width 80 | width 95 | "
        "width 80 / mean abs y | width 95 / mean abs y |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    pooled: dict[str, list[tuple[float, dict[str, float]]]] = {m: [] for m in METHODS}
    for s in series:
        for method in METHODS:
            found = coverage(forecaster, s, method)
            if found is None:
                needed = METHODS[method].history_needed(forecaster.window, s.horizon)
                lines.append(f"| {s.name} | {len(s.y)} | {s.n_test} | {s.horizon} | {method} | 0 | "
                             f"needs {needed} values before an origin (window {forecaster.window}) | | | | | |")
                continue
            pooled[method].append((found["origins"] * s.horizon, found))
            lines.append(
                f"| {s.name} | {len(s.y)} | {s.n_test} | {s.horizon} | {method} | {found['origins']:.0f} | "
                f"{_fmt(found['cov80'])} | {_fmt(found['cov95'])} | {_fmt(found['width80'], 3)} | "
                f"{_fmt(found['width95'], 3)} | {_fmt(found['relwidth80'], 3)} | {_fmt(found['relwidth95'], 3)} |"
            )
    for method, parts in pooled.items():
        if parts:
            weights = np.array([w for w, _ in parts])
            cov = {lv: np.average([p[f"cov{lv:g}"] for _, p in parts], weights=weights) for lv in LEVELS}
            rel = {lv: np.average([p[f"relwidth{lv:g}"] for _, p in parts], weights=weights) for lv in LEVELS}
            lines.append(f"| **pooled** | | | | {method} | {sum(int(p['origins']) for _, p in parts)} | "
                         f"**{cov[80.0]:.1f}** | **{cov[95.0]:.1f}** | | | {rel[80.0]:.3f} | {rel[95.0]:.3f} |")
    lines += ["", "| series | h | windows | intervals | MAE | RMSE | sMAPE | MASE | cover 80 | cover 95 |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for s in series:
        found = backtest_of(forecaster, s)
        if isinstance(found, str):
            lines.append(f"| {s.name} | {s.horizon} | 0 | | {found} | | | | | |")
            continue
        method, windows, scores = found
        lines.append(
            f"| {s.name} | {s.horizon} | {windows} | {method} | {_fmt(scores['mae'], 3)} | "
            f"{_fmt(scores['rmse'], 3)} | {_fmt(scores['smape'], 1)} | {_fmt(scores['mase'], 3)} | "
            f"{_fmt(scores['coverage-80'])} | {_fmt(scores['coverage-95'])} |"
        )
    return "\n".join(lines)


def train_own(s: Series, data: Path, out: Path, window: int = 24) -> Forecaster:
    """A model of the default recipe with ``window``, fitted on the series' train part only."""
    from app.training.pipeline import TrainOptions, train_and_export

    train_and_export(TrainOptions(
        out=out / s.name, preset="default", data=str(data / f"{s.name}.csv"), column="y", seed=0, window=window,
        test_fraction=s.n_test / len(s.y), period=s.season if s.season > 1 else None, quiet=True,
    ))
    return Forecaster.load(out / s.name / "model.pt", torch.device("cpu"), s.name)


def own_models_report(series: list[Series], data: Path, out: Path) -> str:
    """Coverage and backtest with each series' own model."""
    tables = [report(train_own(s, data, out), [s]).split("\n\n") for s in series]
    coverage_rows = [row for table in tables for row in table[0].splitlines()[2:] if "pooled" not in row]
    backtest_rows = [row for table in tables for row in table[1].splitlines()[2:]]
    head_c, head_b = tables[0][0].splitlines()[:2], tables[0][1].splitlines()[:2]
    return "\n".join([*head_c, *coverage_rows, *_pooled(coverage_rows), "", *head_b, *backtest_rows])


def _pooled(rows: list[str]) -> list[str]:
    """Pooled coverage lines of table rows (weights: origins x h)."""
    lines = []
    for method in METHODS:
        cells = [[c.strip() for c in row.split("|")[1:-1]] for row in rows if f"| {method} |" in row]
        cells = [c for c in cells if c[6] != "" and not c[6].startswith("needs")]
        if cells:
            weights = np.array([float(c[5]) * float(c[3]) for c in cells])
            cover = [np.average([float(c[k]) for c in cells], weights=weights) for k in (6, 7)]
            lines.append(f"| **pooled** | | | | {method} | {sum(int(c[5]) for c in cells)} | "
                         f"**{cover[0]:.1f}** | **{cover[1]:.1f}** | | | | |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of the real series (<name>.csv)")
    parser.add_argument("--model", type=Path, default=Path("models/default/model.pt"))
    parser.add_argument("--train", type=Path, help="train a model per series into this folder and measure it too")
    parser.add_argument("--out", type=Path, help="also write the tables here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    forecaster = Forecaster.load(args.model, torch.device("cpu"), "default")
    started = time.perf_counter()
    series = load(args.data)
    text = (f"### The served model {args.model} (window {forecaster.window}, sha256 {forecaster.sha256[:12]})"
            f"\n\n{report(forecaster, series)}\n")
    if args.train is not None:
        text += "\n### Each series' own model (default recipe, window 24, its train part)\n\n"
        text += own_models_report(series, args.data, args.train) + "\n"
    text = f"{date.today().isoformat()}, {time.perf_counter() - started:.0f} s.\n\n{text}"
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
