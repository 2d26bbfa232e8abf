"""The real-data protocol (the data folder's README): split, MASE, and the statsforecast
reference models fitted on the same training parts.

Split: n_test = min(200, max(round(0.2 n), 2m)) on seasonal series, min(200, round(0.2 n))
otherwise. Task a: one-step forecasts of every test point from the true history, no
refit. Task b: h = min(2m, 24) recursive steps from the split (h = 2 without a season);
task b24: h = min(24, n_test). MASE divides by the training part's in-sample seasonal
naive MAE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

Values = npt.NDArray[np.float64]
REFERENCES = ("Naive", "SeasonalNaive", "AutoETS", "AutoARIMA", "AutoTheta")
TASKS = ("a", "b", "b24")


@dataclass(frozen=True)
class Case:
    """One series under the protocol."""

    name: str
    path: Path
    y: Values
    season: int

    @property
    def n_test(self) -> int:
        """Points held out at the end."""
        n, m = len(self.y), self.season
        return min(200, max(round(0.2 * n), 2 * m)) if m > 1 else min(200, round(0.2 * n))

    @property
    def n_train(self) -> int:
        """Points the models may see."""
        return len(self.y) - self.n_test

    def horizon(self, task: str) -> int:
        """Steps ahead of a task (1 for task a)."""
        if task == "a":
            return 1
        if task == "b":
            return min(2 * self.season, 24) if self.season > 1 else 2
        return min(24, self.n_test)

    def actual(self, task: str) -> Values:
        """The held-out values a task is scored on."""
        start = self.n_train
        return self.y[start:] if task == "a" else self.y[start : start + self.horizon(task)]

    def mase(self, task: str, forecast: npt.ArrayLike) -> float:
        """MASE of ``forecast`` against the task's actual values."""
        m, train = self.season, self.y[: self.n_train]
        scale = float(np.mean(np.abs(train[m:] - train[:-m])))
        return float(np.mean(np.abs(self.actual(task) - np.asarray(forecast)))) / scale


def seasons_from_readme(folder: Path) -> dict[str, int]:
    """The season column of the folder README's series table ("none" -> 1), if any."""
    readme = folder / "README.md"
    seasons: dict[str, int] = {}
    if readme.is_file():
        for line in readme.read_text().splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 4 and re.fullmatch(r"\d+|none", cells[3]) and cells[0] != "series":
                seasons[cells[0]] = 1 if cells[3] == "none" else int(cells[3])
    return seasons


def load_cases(folder: Path, overrides: dict[str, int], only: list[str] | None) -> list[Case]:
    """Every ``*.csv`` (``ds,y``) of the folder with its season."""
    seasons = {**seasons_from_readme(folder), **overrides}
    cases = []
    for path in sorted(folder.glob("*.csv")):
        if only and path.stem not in only:
            continue
        y = pd.read_csv(path)["y"].to_numpy(dtype=np.float64)
        cases.append(Case(path.stem, path, y, seasons.get(path.stem, 1)))
    return cases


def reference_forecasts(case: Case) -> dict[str, dict[str, Values]]:
    """Each statsforecast model fitted once on the training part: task a from
    ``forward(y[:t], h=1)`` at every test point, tasks b and b24 from ``predict(h)``."""
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, Naive, SeasonalNaive

    m, train = case.season, case.y[: case.n_train]
    models: dict[str, Any] = {"Naive": Naive(), "SeasonalNaive": SeasonalNaive(season_length=m),
              "AutoETS": AutoETS(season_length=m), "AutoARIMA": AutoARIMA(season_length=m),
              "AutoTheta": AutoTheta(season_length=m)}
    out: dict[str, dict[str, Values]] = {}
    for name, model in models.items():
        fitted = model.fit(train)
        one_step = [fitted.forward(y=case.y[:t], h=1)["mean"][0] for t in range(case.n_train, len(case.y))]
        out[name] = {"a": np.asarray(one_step, dtype=np.float64)}
        for task in ("b", "b24"):
            out[name][task] = np.asarray(fitted.predict(h=case.horizon(task))["mean"], dtype=np.float64)
    return out


def geometric_mean(ratios: list[float]) -> float:
    """exp(mean(log r)): the protocol's summary of ratios."""
    return float(np.exp(np.mean(np.log(ratios))))
