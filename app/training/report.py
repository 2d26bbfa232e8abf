"""The training report: metrics.json, loss curves and a test-period plot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from app.training.data import Series  # noqa: E402
from app.training.members import MemberReport  # noqa: E402
from app.training.train import EpochLoss  # noqa: E402

METRICS_FILE = "metrics.json"
LOSS_PLOT = "loss.png"
TEST_PLOT = "test.png"
REPORT_FILE = "report.md"


def write_metrics(out_dir: Path, metrics: dict[str, Any]) -> Path:
    """Write the metrics as pretty JSON."""
    path = out_dir / METRICS_FILE
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return path


def plot_losses(out_dir: Path, history: list[EpochLoss], best_epoch: int) -> Path:
    """Training and validation loss per epoch (scaled units), best epoch marked."""
    epochs = [h.epoch for h in history]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(epochs, [h.train for h in history], label="train (epoch mean)")
    validation = [h.validation for h in history if h.validation is not None]
    if len(validation) == len(history):
        ax.plot(epochs, validation, label="validation")
        ax.axvline(best_epoch, c="grey", ls=":", label=f"best epoch {best_epoch}")
    ax.set(xlabel="epoch", ylabel="MSE (scaled units)", title="Loss")
    ax.legend()
    fig.tight_layout()
    path = out_dir / LOSS_PLOT
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_members(out_dir: Path, members: Sequence[MemberReport]) -> Path:
    """Each ensemble member's validation loss per epoch (window scales), best marked."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k, member in enumerate(members):
        line = ax.plot(range(1, len(member.history) + 1), member.history,
                       label=f"member {k} (look-back {member.length})")
        ax.scatter([member.best_epoch], [member.validation_loss], color=line[0].get_color())
    ax.set(xlabel="epoch", ylabel="validation MAE (window scales)", title="Loss")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / LOSS_PLOT
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_test(
    out_dir: Path,
    values: Series,
    test_start: int,
    one_step: Series,
    recursive: Series,
    context: int,
) -> Path:
    """The test part: ground truth, one-step and recursive forecasts, start marked."""
    first = max(0, test_start - context)
    index = np.arange(first, len(values))
    test_index = np.arange(test_start, len(values))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(index, values[first:], c="0.6", lw=1, label="Ground truth")
    ax.plot(test_index, one_step, c="tab:blue", lw=1.2, label="Predicted (one step)")
    ax.plot(test_index, recursive, c="tab:orange", lw=1.6, label="Recursive forecast")
    ax.axvline(test_start, c="r", label="forecast start point")
    ax.set(xlabel="t", ylabel="value", title="Test period")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = out_dir / TEST_PLOT
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_summary(out_dir: Path, title: str, metrics: dict[str, Any]) -> Path:
    """A short Markdown page that shows the plots and the headline figures."""
    test = metrics["test"]
    lines = [
        f"# {title}",
        "",
        "| forecaster | MAE | RMSE |",
        "|---|---|---|",
        f"| model (one step) | {test['mae']:.4f} | {test['rmse']:.4f} |",
    ]
    for name, stats in metrics["baselines"].items():
        lines.append(f"| {name} | {stats['mae']:.4f} | {stats['rmse']:.4f} |")
    lines += _recipe_lines(metrics)
    synthetic = metrics.get("synthetic")
    if synthetic:
        lines += [
            "",
            f"- one-step MSE / oracle on {synthetic['fresh_points']} fresh points: "
            f"{synthetic['one_step_ratio_to_oracle']:.4f}",
            f"- recursive {synthetic['recursive_horizon']}-step MSE against the oracle curve: "
            f"{synthetic['recursive_mse_vs_oracle_test']:.4f} (test part), "
            f"{synthetic['recursive_mse_vs_oracle_fresh_mean']:.4f} (mean of fresh starts)",
        ]
    lines += ["", f"![loss]({LOSS_PLOT})", "", f"![test]({TEST_PLOT})", ""]
    path = out_dir / REPORT_FILE
    path.write_text("\n".join(lines))
    return path


def _recipe_lines(metrics: dict[str, Any]) -> list[str]:
    """Season, window, anchor, validation warning and per-series MASE of the recipe."""
    if "season" not in metrics:
        return []
    season, baseline = metrics["season"], metrics["baseline"]
    lines = [
        "",
        f"- season: {season['period']} ({season['source']}); window: {metrics['window']}; "
        f"anchor in {'log' if baseline['log_space'] else 'value'} space, weights {baseline['smoothing']}",
        f"- ensemble weights {metrics['ensemble']['weights']}, anchor alone {metrics['ensemble']['anchor_weight']}; "
        f"{metrics['ensemble']['even_share']:g} of the members' weight spread evenly (recursive path MASE on the "
        f"training part per share: {metrics['ensemble']['path_mase']})",
    ]
    if metrics["warning"]:
        lines.append(f"- **warning**: {metrics['warning']}")
    series = metrics.get("series")
    if series:
        lines += ["", "| series | MASE model | MASE anchor | MASE last value |", "|---|---|---|---|"]
        lines += [f"| {name} | {s['mase']['model']:.3f} | {s['mase']['anchor']:.3f} | "
                  f"{s['mase']['last_value']:.3f} |" for name, s in series.items()]
    return lines
