"""rnncast beside statsforecast on real series, following the data folder's protocol.

    .venv/bin/python -m bench.realdata DATA_DIR [--seeds 0 1 2] [--series NAME ...]
                                       [--no-global] [--no-references] [--out bench/REALDATA.md]
    .venv/bin/python -m bench.realdata --merge RUN.json ... [--out bench/REALDATA.md]

Each series trains through the real ``rnncast train`` pipeline (``--test-fraction
n_test/n``, ``--period m`` on seasonal series, nothing else), and is scored from the
exported artifact as the server runs it (``app.runtime.Forecaster``): walk-forward one
step ahead over the test part (task a), and the rolling mean path (tasks b and b24).
Interval coverage: the server's sampled 80% intervals (quantiles 0.1 and 0.9 of 1,000
paths) one step ahead at every test point and over the 24-step path. The global model
trains once on all series as one long-format file (``--id-column unique_id``).
Writes the table to ``--out`` and the raw figures to bench/out/realdata.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from app.runtime.forecaster import Forecaster
from app.runtime.seeding import series_keys
from app.training.pipeline import TrainOptions, train_and_export
from bench.protocol import TASKS, Case, load_cases, reference_forecasts
from bench.realdata_report import write_report

HERE = Path(__file__).resolve().parent
SAMPLES = 1000
LOW, HIGH = 0.1, 0.9


def score_artifact(case: Case, model_path: Path, series_id: str | None = None) -> dict[str, Any]:
    """MASE per task and 80% interval coverage, from the artifact as served."""
    forecaster = Forecaster.load(model_path, torch.device("cpu"), series_id or case.name)
    y32, window, start = case.y.astype(np.float32), forecaster.window, case.n_train
    walk = forecaster.walk_forward(y32)
    result: dict[str, Any] = {"window": window, "mase": {"a": case.mase("a", walk[start - window :])}}
    history = y32[None, start - window : start]
    for task in ("b", "b24"):
        result["mase"][task] = case.mase(task, forecaster.rolling(history, case.horizon(task))[0])
    windows = np.lib.stride_tricks.sliding_window_view(y32[:-1], window)[start - window :]
    keys = series_keys(0, [None] * len(windows))
    one = forecaster.sample_paths(np.ascontiguousarray(windows), 1, SAMPLES, keys)[:, :, 0]
    low, high = np.quantile(one, [LOW, HIGH], axis=1)
    result["inside_a"] = [int(v) for v in (low <= case.actual("a")) & (case.actual("a") <= high)]
    h = case.horizon("b24")
    paths = forecaster.sample_paths(history, h, SAMPLES, series_keys(0, [None]))[0]
    low, high = np.quantile(paths, [LOW, HIGH], axis=0)
    result["inside_b24"] = [int(v) for v in (low <= case.actual("b24")) & (case.actual("b24") <= high)]
    return result


def train_one(case: Case, seed: int, root: Path) -> dict[str, Any]:
    """``rnncast train`` on one series with the protocol's flags, scored from its artifact."""
    out = root / f"{case.name}-{seed}"
    options = TrainOptions(out=out, data=str(case.path), column="y", seed=seed, quiet=True,
                           test_fraction=case.n_test / len(case.y),
                           period=case.season if case.season > 1 else None)
    started = time.perf_counter()
    metrics = train_and_export(options)
    seconds = time.perf_counter() - started
    assert metrics["test_points"] == case.n_test, f"{case.name}: the CLI held out {metrics['test_points']}"
    scores = score_artifact(case, out / "model.pt")
    return {**scores, "seconds": round(seconds, 1), "season_used": metrics["season"],
            "anchor_a": metrics["mase"]["anchor"] * _scale_ratio(case, metrics), "warning": metrics["warning"]}


def _scale_ratio(case: Case, metrics: dict[str, Any]) -> float:
    """Training reports MASE with the model's season; the protocol uses the series' own."""
    used = metrics["season"]["period"]
    train = case.y[: case.n_train]
    own = np.mean(np.abs(train[case.season :] - train[: -case.season]))
    theirs = np.mean(np.abs(train[used:] - train[:-used]))
    return float(theirs / own)


def train_global(cases: list[Case], seed: int, root: Path) -> dict[str, Any]:
    """One model over every series as a long-format file, scored per series."""
    frame = pd.concat([pd.DataFrame({"unique_id": c.name, "y": c.y}) for c in cases])
    path = root / "all.csv"
    frame.to_csv(path, index=False)
    out = root / f"global-{seed}"
    options = TrainOptions(out=out, data=str(path), column="y", id_column="unique_id", seed=seed,
                           quiet=False)
    started = time.perf_counter()
    metrics = train_and_export(options)
    seconds = time.perf_counter() - started
    per_series = {c.name: score_artifact(c, out / "model.pt", c.name) for c in cases}
    held_out = {name: s["test_points"] for name, s in metrics["series"].items()}
    # --test-fraction 0.2 holds out round(0.2 n) of each series; the protocol may ask more.
    mismatched = {c.name: (held_out[c.name], c.n_test) for c in cases if held_out[c.name] != c.n_test}
    return {"seconds": round(seconds, 1), "season_used": metrics["season"], "series": per_series,
            "held_out_differs": mismatched}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its table."""
    parser = argparse.ArgumentParser(prog="python -m bench.realdata", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, nargs="?", help="folder of ds,y CSV files and their README")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--series", nargs="+", help="only these series (file stems)")
    parser.add_argument("--season", action="append", default=[], metavar="NAME=M",
                        help="season of a series the README does not give")
    parser.add_argument("--no-global", action="store_true", help="skip the global model")
    parser.add_argument("--global-only", action="store_true", help="only the global model (for --merge)")
    parser.add_argument("--no-references", action="store_true", help="skip statsforecast")
    parser.add_argument("--json", type=Path, default=HERE / "out" / "realdata.json", help="raw figures")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="no run: merge the figures of runs split by seed into one table")
    parser.add_argument("--out", type=Path, default=HERE / "REALDATA.md")
    args = parser.parse_args(argv)
    command = " ".join(["python -m bench.realdata", *(sys.argv[1:] if argv is None else argv)])
    if args.merge:
        write_report(merge([json.loads(p.read_text()) for p in args.merge]), args.out, command)
        return 0
    if args.data_dir is None:
        parser.error("name the data folder (or --merge earlier runs)")
    results = run(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    if args.global_only:  # no per-series rows to tabulate: the table comes from --merge
        print(f"wrote {args.json}; merge it with the per-seed runs: --merge ... {args.json}")
        return 0
    write_report(results, args.out, command)
    return 0


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs of the same series with different seeds (and one global run) as one."""
    merged: dict[str, Any] = {"seeds": [], "series": {}, "date": runs[0]["date"]}
    for result in runs:
        merged["seeds"] += result["seeds"]
        merged.update({k: v for k, v in result.items() if k == "global"})
        for name, entry in result["series"].items():
            target = merged["series"].setdefault(name, {**entry, "rnncast": {}})
            target["rnncast"].update(entry["rnncast"])
            target.update({k: v for k, v in entry.items() if k == "references"})
    return merged


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train and score every series (and the global model) as the flags say."""
    torch.set_num_threads(2)
    overrides = {k: int(v) for k, v in (s.split("=", 1) for s in args.season)}
    cases = load_cases(args.data_dir, overrides, args.series)
    seeds = [] if args.global_only else args.seeds
    results: dict[str, Any] = {"seeds": seeds, "series": {}, "date": time.strftime("%Y-%m-%d")}
    with tempfile.TemporaryDirectory(prefix="rnncast-realdata-") as tmp:
        root = Path(tmp)
        for case in cases if seeds else []:
            entry: dict[str, Any] = {"season": case.season, "n": len(case.y), "n_test": case.n_test,
                                     "h": {t: case.horizon(t) for t in TASKS}}
            if not args.no_references:
                refs = reference_forecasts(case)
                entry["references"] = {m: {t: case.mase(t, f[t]) for t in TASKS} for m, f in refs.items()}
            entry["rnncast"] = {str(seed): train_one(case, seed, root) for seed in seeds}
            results["series"][case.name] = entry
            print(json.dumps({case.name: {s: r["mase"] for s, r in entry["rnncast"].items()}}), flush=True)
        if not args.no_global:
            results["global"] = train_global(cases, args.seeds[0], root)
    return results


if __name__ == "__main__":
    raise SystemExit(main())
