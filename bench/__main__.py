"""``python -m bench``: run the whole benchmark and write bench/RESULTS.md + bench/throughput.png.

Phases (each can be skipped): load (every server x concurrency, in rounds), ablations
(rnncast variants), workers (--workers 2), rolling (long requests), hotpath (in-process
costs). Results accumulate in bench/out/results.json; ``python -m bench report``
rewrites RESULTS.md and the chart from it. ``bench/run.sh`` sets everything up first.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from app.artifact import read_metadata
from bench import report, rolling, targets, workers
from bench.loadtest import LoadPlan, run_rounds
from bench.paths import Paths, default_paths
from bench.procs import ServerSpec

Maker = Callable[[], ServerSpec]
PHASES = ("load", "ablations", "workers", "rolling", "hotpath")


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _rnncast_bench(paths: Paths, **kwargs: Any) -> ServerSpec:
    return targets.rnncast(
        paths, model_dir=paths.bench_models, model_path=paths.bench_model, window=32, **kwargs
    )


def main_servers(paths: Paths, comparators: bool) -> list[Maker]:
    """The servers of the load phase (fresh spec, hence fresh port, per start)."""
    window = read_metadata(paths.default_model).window  # the shipped model's own window
    makers: list[Maker] = [
        lambda: targets.ceiling(paths, 32),
        lambda: targets.raw_asgi(paths, 32),
        lambda: _rnncast_bench(paths),
        lambda: targets.ceiling(paths, window),
        lambda: targets.rnncast(
            paths, model_dir=paths.default_models, model_path=paths.default_model,
            window=window, name=f"rnncast-default-w{window}",
        ),
    ]
    if comparators:
        makers += [
            lambda: targets.torchserve(paths, paths.bench_model),
            lambda: targets.litserve(paths, paths.bench_model),
        ]
    return makers


def ablation_servers(paths: Paths) -> list[Maker]:
    """rnncast with one setting changed: where batches run, the request log, a batching timer."""

    def variant(name: str, env: dict[str, str]) -> Maker:
        return lambda: _rnncast_bench(paths, name=name, env=env)

    return [
        lambda: targets.ceiling(paths, 32),
        variant("rnncast-shipped", {}),
        variant("rnncast-batches-on-thread", {"RNNCAST_BATCH_ON": "thread"}),
        variant("rnncast-no-request-log", {"RNNCAST_LOG_LEVEL": "warning"}),
        variant("rnncast-timer-2ms", {"RNNCAST_MAX_WAIT_MS": "2"}),
    ]


def _git(paths: Paths, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=paths.repo, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _revision(paths: Paths) -> str:
    """The commit measured, and whether app/ had uncommitted changes."""
    head = _git(paths, "rev-parse", "--short", "HEAD") or "unknown"
    dirty = _git(paths, "status", "--porcelain", "--", "app")
    return head + (" + uncommitted changes in app/" if dirty else "")


def _app_content(paths: Paths) -> str:
    """What app/ holds (its committed tree and any uncommitted diff): commits elsewhere
    during a run do not change what was measured."""
    return _git(paths, "rev-parse", "HEAD:app") + _git(paths, "diff", "HEAD", "--", "app")


def phase_workers(paths: Paths, plan: LoadPlan) -> dict[str, Any]:
    """Correctness and scaling of ``--workers 2``."""
    correctness = workers.check_correctness(
        _rnncast_bench(paths, name="rnncast-workers2-check", workers=2), paths.logs
    )
    _log(f"workers=2 correctness: {correctness}")
    scaling = workers.measure_scaling(
        lambda n, cpus: _rnncast_bench(
            paths, name=f"rnncast-workers{n}-cpus{cpus.replace(',', '')}", workers=n, cpus=cpus
        ),
        paths.out / "bodies", paths.logs, concurrency=max(plan.concurrencies),
        duration_s=plan.duration_s, warmup_s=plan.warmup_s,
    )
    for row in scaling:
        _log(f"workers={row['workers']} cpus={row['server_cpus']}: {row['rps']:.0f} req/s")
    return {"correctness": correctness, "scaling": scaling}


def phase_hotpath(paths: Paths) -> dict[str, Any]:
    """In-process costs, pinned to the server core."""
    done = subprocess.run(
        ["taskset", "-c", "0", str(paths.rnncast_python), "-m", "bench.hotpath",
         str(paths.bench_model)],
        capture_output=True, text=True, check=True, timeout=900, cwd=paths.repo,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="run", choices=["run", "report"])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the load phase")
    parser.add_argument("--ablation-rounds", type=int, default=1, help="rounds of the variants")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk point")
    parser.add_argument("--warmup", type=float, default=2.0, help="discarded wrk seconds first")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated wrk -c values")
    parser.add_argument("--skip", default="", help=f"comma-separated phases to skip: {PHASES}")
    parser.add_argument("--no-comparators", action="store_true", help="no TorchServe/LitServe")
    parser.add_argument("--rolling-series", type=int, default=1000)
    parser.add_argument("--rolling-horizon", type=int, default=1000)
    parser.add_argument("--walk-points", type=int, default=10_000)
    parser.add_argument("--merge", action="store_true",
                        help="keep the skipped phases' results from bench/out/results.json")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 round, 3 s points, small rolling sizes")
    return parser


def _run(args: argparse.Namespace, paths: Paths) -> dict[str, Any]:
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 3.0, 1.0
        args.rolling_series, args.rolling_horizon, args.walk_points = 100, 100, 2000
    skip = {s for s in args.skip.split(",") if s}
    plan = LoadPlan(
        concurrencies=tuple(int(c) for c in args.concurrency.split(",")),
        duration_s=args.duration, warmup_s=args.warmup,
    )
    started = time.time()
    app_at_start = _app_content(paths)
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    previous: dict[str, Any] = {}
    if args.merge and paths.results_json.is_file():
        previous = json.loads(paths.results_json.read_text())
    results: dict[str, Any] = {
        **{k: v for k, v in previous.items() if k in PHASES or k == "load_plan"},
        "phase_dates": {
            p: (now if p not in skip else previous.get("phase_dates", {}).get(p, previous.get("date")))
            for p in PHASES if p not in skip or p in previous
        },
        "date": now,
        "command": " ".join(["bench/run.sh", *sys.argv[1:]]),
        "machine": report.machine_description(),
        "revision": _revision(paths),
        "plan": vars(plan) | {"rounds": args.rounds, "ablation_rounds": args.ablation_rounds},
    }

    def save() -> None:
        paths.results_json.parent.mkdir(parents=True, exist_ok=True)
        paths.results_json.write_text(json.dumps(results, indent=1, default=str))

    bodies = paths.out / "bodies"
    if "load" not in skip:
        results["load_plan"] = results["plan"]
        runs = run_rounds(main_servers(paths, not args.no_comparators), plan, args.rounds,
                          bodies, paths.logs)
        results["load"] = [r.to_dict() for r in runs]
        save()
    if "ablations" not in skip:
        runs = run_rounds(ablation_servers(paths), plan, args.ablation_rounds, bodies, paths.logs)
        results["ablations"] = [r.to_dict() for r in runs]
        save()
    if "workers" not in skip:
        results["workers"] = phase_workers(paths, plan)
        save()
    if "rolling" not in skip:
        work = rolling.LongWork(series=args.rolling_series, horizon=args.rolling_horizon,
                                points=args.walk_points)
        results["rolling"] = rolling.run(
            # Bulk compute measured against its raw cost, not an interactive request: the
            # default deadline would cut it short on a slow or shared machine.
            _rnncast_bench(paths, name="rnncast-rolling", env={"RNNCAST_REQUEST_TIMEOUT_S": "1800"}),
            paths.bench_model,
            paths.rnncast_python, work, paths.out / "rolling", paths.logs,
        )
        _log(f"rolling: {results['rolling']}")
        save()
    if "hotpath" not in skip:
        results["hotpath"] = phase_hotpath(paths)
        save()
    results["elapsed_s"] = round(time.time() - started, 1)
    if _app_content(paths) != app_at_start:
        results["revision"] += f" (app/ changed during the run; at the end: {_revision(paths)})"
    save()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; SIGTERM unwinds normally so every server started is stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = _parser().parse_args(argv)
    paths = default_paths()
    if args.command == "report":
        results = json.loads(paths.results_json.read_text())
    else:
        if len(os.sched_getaffinity(0)) < 2:
            sys.exit("the benchmark needs two cores: one for the server, one for wrk")
        os.sched_setaffinity(0, {1})  # the harness keeps off the server's core
        results = _run(args, paths)
    report.write(results, paths.results_md, paths.chart)
    _log(f"wrote {paths.results_md} and {paths.chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
