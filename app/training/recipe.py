"""``rnncast train`` with the real-data recipe: data -> season -> anchor -> ensemble ->
scores -> export -> report, for one series or a global model over many."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from app.artifact import Normalization
from app.training import evaluate, report
from app.training.data import DataError, Series, SeriesData, load_synthetic
from app.training.ensemble import Recipe, TrainedEnsemble, fit_ensemble
from app.training.export import calibration_from, export_module
from app.training.network import AnchoredForecaster
from app.training.options import TrainOptions
from app.training.season import Season, resolve
from app.training.smoothing import Baseline, choose_baseline, mase_scale, window_candidates
from app.training.table import Panel, load_table


def load_panel(options: TrainOptions, recipe: Recipe) -> Panel:
    """The synthetic process (one series) or every series of the user's file."""
    if options.data == "synthetic":
        points = options.points or recipe.synthetic_points
        return Panel([load_synthetic(points, options.test_points, options.seed)], None)
    return load_table(Path(options.data), options.column or "", id_column=options.id_column,
                      time_column=options.time_column, fill=options.fill,
                      test_fraction=options.test_fraction)


def _minimum_rows(need_train: int, fraction: float) -> int:
    rows = need_train + 1
    while rows - max(1, int(round(rows * fraction))) < need_train:
        rows += 1
    return rows


def windows_for(panel: Panel, season: Season, options: TrainOptions, recipe: Recipe) -> list[int]:
    """``--window`` or the look-backs the data allow; refuse a too-short series by name."""
    shortest = min(panel.series, key=lambda s: s.test_start)
    options_ok = window_candidates(season.period, shortest.test_start, recipe.min_targets)
    if options.window is not None:
        need = options.window + recipe.min_targets
        options_ok = [options.window] if options.window <= shortest.test_start - recipe.min_targets else []
    else:
        need = (2 * season.period if season.period > 1 else 8) + recipe.min_targets
    if not options_ok:
        name = shortest.description.get("id")
        which = f"series {name!r}" if name is not None else "the series"
        raise DataError(
            f"{which} has {shortest.description['points']} rows; with a test fraction of "
            f"{options.test_fraction:g}, a season of {season.period} and a window of "
            f"{need - recipe.min_targets} it needs at least {_minimum_rows(need, options.test_fraction)}"
        )
    return options_ok


def _progress(recipe: Recipe, quiet: bool) -> tuple[tqdm[Any], Callable[[int, list[float]], None]]:
    """A bar over the epoch budget (early stopping usually ends it sooner)."""
    bar = tqdm(total=recipe.epochs, desc=f"training {recipe.members} members", unit="epoch", disable=quiet)

    def on_epoch(epoch: int, losses: list[float]) -> None:
        bar.set_postfix({"best val": f"{min(losses):.4f}"})
        bar.update()

    return bar, on_epoch


def _naive_errors(data: SeriesData, period: int, anchor: Series) -> dict[str, dict[str, float]]:
    start, values = data.test_start, data.values
    actual = values[start:]
    result = {"last_value": evaluate.errors(values[start - 1 : -1], actual)}
    if period > 1:
        result[f"seasonal_naive_{period}"] = evaluate.errors(values[start - period : -period], actual)
    result["anchor"] = evaluate.errors(anchor, actual)
    return result


def score_series(
    module: torch.nn.Module, anchor: torch.nn.Module, data: SeriesData, baseline: Baseline
) -> dict[str, Any]:
    """Test-part errors of the model (one step and recursive) beside the simple baselines."""
    start, window = data.test_start, baseline.window
    actual = data.values[start:]
    unit = mase_scale(data.values[:start], baseline.period)
    one_step = evaluate.one_step(module, data.values, window, start)
    recursive = evaluate.recursive(module, data.values[:start], len(actual), window)
    naive = _naive_errors(data, baseline.period, evaluate.one_step(anchor, data.values, window, start))
    return {
        "test_points": len(actual),
        "test": evaluate.errors(one_step, actual),
        "recursive_test": evaluate.errors(recursive, actual),
        "baselines": naive,
        "mase": {"model": evaluate.errors(one_step, actual)["mae"] / unit,
                 **{name: stats["mae"] / unit for name, stats in naive.items()}},
        "_one_step": one_step,
        "_recursive": recursive,
    }


def _validation_check(trained: TrainedEnsemble, parts: list[Series], period: int, fraction: float) -> dict[str, Any]:
    """The model beside the simple baselines on the validation targets, MASE pooled."""
    window = trained.baseline.window
    simple: dict[str, list[float]] = {"last value": [], f"seasonal naive ({period})": [], "anchor": []}
    for values in parts:
        cut = len(values) - max(1, round(fraction * (len(values) - window)))
        actual, unit = values[cut:], mase_scale(values, period)
        simple["last value"] += list(np.abs(values[cut - 1 : -1] - actual) / unit)
        if period > 1:
            simple[f"seasonal naive ({period})"] += list(np.abs(values[cut - period : -period] - actual) / unit)
    simple["anchor"] = [trained.validation["anchor_mase"]]
    scores = {name: float(np.mean(v)) for name, v in simple.items() if v}
    best = min(scores, key=lambda k: scores[k])
    check: dict[str, Any] = {"model_mase": trained.validation["model_mase"], "simple_mase": scores,
                             "best_simple": best, "warning": None}
    if check["model_mase"] > scores[best]:
        check["warning"] = (
            f"on validation the model's MASE {check['model_mase']:.3f} is worse than the "
            f"{best} baseline's {scores[best]:.3f}; prefer that baseline for this data"
        )
    return check


def _calibration_residuals(anchor: AnchoredForecaster, parts: list[Series], window: int) -> Series:
    """The anchor's one-step residuals over every training window, in units of each
    window's ``noise_scale``.

    The ensemble's own validation residuals were measured where its members stopped
    and its weights were chosen, and were too narrow on the development series (66%
    coverage of the 80% one-step interval; bench/REALDATA.md); the anchor's, over many
    more points and with four fitted weights, cover near 80% and so serve for the
    model's intervals too.
    """
    residuals = []
    for values in parts:
        x = torch.tensor(np.lib.stride_tricks.sliding_window_view(values[:-1], window), dtype=torch.float32)
        with torch.inference_mode():
            predicted, scale = anchor(x).double().numpy(), anchor.noise_scale(x).double().numpy()
        residuals.append((values[window:] - predicted) / scale)
    return np.concatenate(residuals)


def _pooled(scored: list[dict[str, Any]], key: str) -> dict[str, float]:
    errors = np.concatenate([s["_one_step" if key == "test" else "_recursive"] - s["_actual"] for s in scored])
    return {"mae": float(np.mean(np.abs(errors))), "mse": float(np.mean(errors**2)),
            "rmse": float(np.sqrt(np.mean(errors**2)))}


def _metrics(options: TrainOptions, recipe: Recipe, season: Season, trained: TrainedEnsemble,
             panel: Panel, scored: list[dict[str, Any]], check: dict[str, Any]) -> dict[str, Any]:
    first = scored[0]
    metrics: dict[str, Any] = {
        "preset": recipe.name, "seed": options.seed, "normalization": "window",
        "season": {"period": season.period, "source": season.source},
        "window": trained.baseline.window, "baseline": trained.baseline.describe(),
        "ensemble": {"members": [{k: v for k, v in m.__dict__.items() if k != "history"}
                                 for m in trained.members], "weights": trained.weights,
                     "anchor_weight": trained.anchor_weight, "even_share": trained.even_share,
                     "path_mase": {f"{share:g}": round(v, 4) for share, v in trained.path_mase.items()}},
        "validation": check, "warning": check["warning"],
        "test_points": sum(s["test_points"] for s in scored),
        "test": _pooled(scored, "test") if len(scored) > 1 else first["test"],
        "recursive_test": _pooled(scored, "recursive") if len(scored) > 1 else first["recursive_test"],
        "baselines": first["baselines"], "mase": first["mase"],
        "epochs_run": sum(m.epochs_run for m in trained.members),
        "training_seconds": round(trained.seconds, 2),
    }
    if len(scored) > 1:
        metrics["series"] = {
            s["_data"].description["id"]: {k: v for k, v in s.items() if not k.startswith("_")} for s in scored
        }
        metrics["mase_mean"] = {k: float(np.mean([s["mase"][k] for s in scored])) for k in ("model", "anchor")}
    return metrics


def train_and_export(options: TrainOptions, recipe: Recipe) -> dict[str, Any]:
    """Run the recipe and write the artifact and its report into ``options.out``."""
    panel = load_panel(options, recipe)
    parts = [s.values[: s.test_start] for s in panel.series]
    season = resolve(options.period, panel.frequency, parts)
    windows = windows_for(panel, season, options, recipe)
    baseline = choose_baseline(parts, season.period, windows, horizon=1)
    bar, on_epoch = _progress(recipe, options.quiet)
    try:
        trained = fit_ensemble(parts, baseline, recipe, options.seed, on_epoch)
    finally:
        bar.close()
        scored = []
    for data in panel.series:
        s = score_series(trained.module, trained.anchor, data, baseline)
        scored.append({**s, "_actual": data.values[data.test_start :], "_data": data})
    check = _validation_check(trained, parts, season.period, recipe.validation_fraction)
    metrics = _metrics(options, recipe, season, trained, panel, scored, check)
    if panel.series[0].description["source"] == "synthetic":
        metrics["synthetic"] = evaluate.synthetic_checks(trained.module, baseline.window, options.seed,
                                                         panel.series[0])
    residuals = _calibration_residuals(trained.anchor, parts, baseline.window)
    calibration = calibration_from(residuals, "anchor, training part", options.seed, unit="window_scale")
    export_module(
        trained.module, options, window=baseline.window, hidden_size=recipe.hidden_size,
        normalization=Normalization("window", 0.0, 1.0), period=season.period,
        training_data=_describe(panel), training={"recipe": recipe.__dict__, **metrics["ensemble"],
                                                  "baseline": baseline.describe()},
        metrics=metrics, calibration=calibration,
    )
    _write_report(options.out, recipe, trained, scored[0], metrics)
    return metrics


def _describe(panel: Panel) -> dict[str, Any]:
    if len(panel.series) == 1:
        return panel.series[0].description
    first = panel.series[0].description
    return {"source": first["source"], "file": first["file"], "column": first["column"],
            "series": len(panel.series), "frequency": panel.frequency,
            "points": sum(s.description["points"] for s in panel.series),
            "test_points": sum(s.description["test_points"] for s in panel.series)}


def _write_report(out: Path, recipe: Recipe, trained: TrainedEnsemble, first: dict[str, Any],
                  metrics: dict[str, Any]) -> None:
    data: SeriesData = first["_data"]
    report.write_metrics(out, metrics)
    report.plot_members(out, trained.members)
    report.plot_test(out, data.values, data.test_start, first["_one_step"], first["_recursive"],
                     context=min(data.test_start, 3 * trained.baseline.window + 100))
    report.write_summary(out, f"rnncast training report: preset {recipe.name}", metrics)
