"""bench/REALDATA.md from the figures of bench.realdata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.protocol import REFERENCES, TASKS, geometric_mean

TARGETS = (
    "Targets: geometric-mean MASE ratio to AutoETS <= 1.0 for tasks a and b24; no series worse "
    "than the seasonal naive by more than 10% on task a; 80% intervals cover 80% +- 7%."
)


def _runs(results: dict[str, Any]) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """(label, {series: scores}) for every seed and the global model."""
    runs = [(f"seed {s}", {name: e["rnncast"][str(s)] for name, e in results["series"].items()})
            for s in results["seeds"]]
    if "global" in results:
        runs.append(("global", results["global"]["series"]))
    return runs


def _mase_table(results: dict[str, Any]) -> list[str]:
    labels = [label for label, _ in _runs(results)]
    refs = [r for r in REFERENCES if any("references" in e for e in results["series"].values())]
    lines = [f"| series | task | h | {' | '.join('rnncast ' + x for x in labels)} | {' | '.join(refs)} |",
             "|---|---|---" + "|---" * (len(labels) + len(refs)) + "|"]
    for name, entry in results["series"].items():
        for task in TASKS:
            ours = [f"{scores[name]['mase'][task]:.3f}" for _, scores in _runs(results)]
            theirs = [f"{entry['references'][r][task]:.3f}" for r in refs]
            lines.append(f"| {name} | {task} | {entry['h'][task]} | {' | '.join(ours)} | {' | '.join(theirs)} |")
    return lines


def _ratio_table(results: dict[str, Any]) -> list[str]:
    if not all("references" in e for e in results["series"].values()):
        return ["(references skipped)"]
    lines = ["| run | task | " + " | ".join(f"/ {r}" for r in REFERENCES) + " | series better than AutoETS |",
             "|---|---|" + "---|" * (len(REFERENCES) + 1)]
    for label, scores in _runs(results):
        for task in TASKS:
            cells = []
            for ref in REFERENCES:
                ratios = [scores[n]["mase"][task] / e["references"][ref][task] for n, e in results["series"].items()]
                cells.append(f"{geometric_mean(ratios):.3f}")
            wins = sum(scores[n]["mase"][task] < e["references"]["AutoETS"][task]
                       for n, e in results["series"].items())
            lines.append(f"| {label} | {task} | {' | '.join(cells)} | {wins} of {len(scores)} |")
    worst = []
    for label, scores in _runs(results):
        ratio, name = max((scores[n]["mase"]["a"] / e["references"]["SeasonalNaive"]["a"], n)
                          for n, e in results["series"].items())
        worst.append(f"{label}: {ratio:.3f} ({name})")
    return [*lines, "", "Worst task-a ratio to the seasonal naive: " + "; ".join(worst) + "."]


def _coverage_table(results: dict[str, Any]) -> list[str]:
    lines = ["| run | one step, all test points | 24-step path | per series (one step / path) |",
             "|---|---|---|---|"]
    for label, scores in _runs(results):
        one = np.concatenate([s["inside_a"] for s in scores.values()])
        path = np.concatenate([s["inside_b24"] for s in scores.values()])
        each = ", ".join(f"{n} {np.mean(s['inside_a']):.0%}/{np.mean(s['inside_b24']):.0%}" for n, s in scores.items())
        lines.append(f"| {label} | {one.mean():.1%} ({len(one)}) | {path.mean():.1%} ({len(path)}) | {each} |")
    return lines


def _training_table(results: dict[str, Any]) -> list[str]:
    seeds = results["seeds"]
    lines = ["| series | n | season used | window | seconds (" + ", ".join(f"seed {s}" for s in seeds)
             + ") | task a: anchor alone / model (seed 0) | warnings |", "|---|---|---|---|---|---|---|"]
    for name, entry in results["series"].items():
        runs = [entry["rnncast"][str(s)] for s in seeds]
        first = runs[0]
        warned = sum(bool(r["warning"]) for r in runs)
        lines.append(
            f"| {name} | {entry['n']} | {first['season_used']['period']} ({first['season_used']['source']}) | "
            f"{first['window']} | {', '.join(str(r['seconds']) for r in runs)} | "
            f"{first['anchor_a']:.3f} / {first['mase']['a']:.3f} | {warned} of {len(runs)} |"
        )
    if "global" in results:
        g = results["global"]
        lines += ["", f"Global model: one training over all {len(g['series'])} series in {g['seconds']} s, "
                      f"season {g['season_used']['period']} ({g['season_used']['source']}); held out as the "
                      f"protocol asks on every series: {g['held_out_differs'] or 'yes'}."]
    return lines


def write_report(results: dict[str, Any], out: Path, command: str) -> None:
    """Write the Markdown page."""
    lines = [
        "# rnncast on real series",
        "",
        f"Measured {results['date']} on a shared 2-core CPU with `{command}`: the protocol of the "
        "data folder's README, rnncast trained by `rnncast train`'s pipeline with the default "
        "recipe and scored from its exported artifact through the serving runtime; the reference "
        "models are statsforecast's, fitted on the same training parts in the same run. "
        "MASE, lower is better.",
        "",
        TARGETS,
        "",
        "## MASE per series",
        "",
        *_mase_table(results),
        "",
        "## Geometric mean of MASE ratios (rnncast / reference)",
        "",
        *_ratio_table(results),
        "",
        "## 80% interval coverage (quantiles 0.1 and 0.9 of 1,000 sampled paths)",
        "",
        *_coverage_table(results),
        "",
        "## Training",
        "",
        *_training_table(results),
        "",
    ]
    out.write_text("\n".join(lines))
