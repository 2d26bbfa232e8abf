"""What tracing costs: ``python -m bench.tracing`` writes bench/TRACING.md.

rnncast at c=64 (one-step requests, the shipped default model, one worker pinned to
core 0, wrk on core 1), in the alternating rounds of bench.loadtest (each server
started alone, warmed up, measured, stopped; the order reversed every other round),
as five variants:

- ``main``: the code of the ``main`` branch (exported with ``git archive`` under
  bench/out/), and ``main-again``, the same code a second time: the ratio of the two
  is the noise of the measurement (an A/A check);
- ``off``: this tree, no ``OTEL_*`` variables: tracing off, as it is by default;
- ``on``: every request traced and exported over OTLP/HTTP to a receiver in this
  process (it counts and discards what it gets, as a Collector would take it away);
- ``on-10%``: the same, with ``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` at 0.1.

Each ratio is taken within a round (variant / main), then the median over rounds:
of the server's CPU time per answered request (all its processes, from /proc; little
moved by other jobs on the machine) and of the requests per second.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import statistics
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from app.artifact import read_metadata
from bench import targets
from bench.loadtest import LoadPlan, ServerRun, run_rounds
from bench.paths import BENCH, Paths, default_paths
from bench.procs import ServerSpec
from bench.report import machine_description

RESULTS = BENCH / "TRACING.md"
VARIANTS = ("main", "main-again", "off", "on", "on-10%")


class Sink:
    """Export calls and bytes an OTLP/HTTP endpoint received."""

    def __init__(self) -> None:
        self.posts = 0
        self.bytes = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> None:
        with self._lock:
            self.posts += 1
            self.bytes += size


@contextmanager
def otlp_sink() -> Iterator[tuple[str, Sink]]:
    """An OTLP/HTTP endpoint on loopback that answers every export with 200."""
    sink = Sink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server looks up
            size = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(size)
            sink.take(size)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", sink
    finally:
        server.shutdown()
        server.server_close()


def export_main(paths: Paths, ref: str) -> tuple[Path, str]:
    """``ref``'s app/ under bench/out/main-tree (replaced each run), and its commit."""
    commit = subprocess.run(["git", "rev-parse", "--short", ref], cwd=paths.repo, check=True,
                            capture_output=True, text=True).stdout.strip()
    tree = paths.out / "main-tree"
    subprocess.run(["rm", "-rf", str(tree)], check=True)
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref, "app"], cwd=paths.repo, check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    return tree, commit


def makers(paths: Paths, main_tree: Path, endpoint: str) -> list[Callable[[], ServerSpec]]:
    """A fresh spec (new port) per start, for each variant."""
    traced = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    sampled = {**traced, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
    envs = {"main": {}, "main-again": {}, "off": {}, "on": traced, "on-10%": sampled}
    window = read_metadata(paths.default_model).window

    def make(variant: str) -> Callable[[], ServerSpec]:
        def spec() -> ServerSpec:
            made = targets.rnncast(paths, model_dir=paths.default_models, model_path=paths.default_model,
                                   window=window, name=variant, env=envs[variant])
            if variant.startswith("main"):  # main's package shadows this tree's: it comes first on sys.path
                made = dataclasses.replace(
                    made, command=[str(paths.rnncast_python), "-m", "app.cli", *made.command[1:]], cwd=main_tree,
                )
            return made
        return spec

    return [make(variant) for variant in VARIANTS]


def ratios(runs: list[ServerRun], variant: str, metric: Callable[[ServerRun], float]) -> list[float]:
    """Per round: the variant's ``metric`` over main's in the same round."""
    by_round = {(r.name, r.round): metric(r) for r in runs}
    rounds = sorted({n for name, n in by_round if name == variant and ("main", n) in by_round})
    return [by_round[variant, n] / by_round["main", n] for n in rounds]


def _rps(run: ServerRun) -> float:
    return run.points[0].rps


def _cpu(run: ServerRun) -> float:
    return run.cpu_us_per_request[64]


def _summary(values: list[float]) -> str:
    return f"**{statistics.median(values):.3f}** ({', '.join(f'{x:.3f}' for x in values)})"


def report(runs: list[ServerRun], sink: Sink, commit: str, args: argparse.Namespace, started: str,
           elapsed_s: float) -> str:
    """The results page."""
    m = machine_description()
    window = read_metadata(default_paths().default_model).window
    lines = [
        "# What tracing costs",
        "",
        f"- Command: `.venv/bin/python -m bench.tracing --rounds {args.rounds} --duration {args.duration:g} "
        f"--baseline {args.baseline}`, "
        f"{started}, {elapsed_s:.0f} s.",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, load average at start "
        f"{[round(x, 2) for x in m['load_average_at_start']]} (shared with other jobs: figures are noisy).",
        f"- `main` is `{args.baseline}` (commit {commit}), exported beside this tree and run from the same venv; "
        "`main-again` is the same code started again: its ratio to `main` is the noise (an A/A check).",
        "- Each variant is `rnncast serve` alone, one worker pinned to core 0, `RNNCAST_NUM_THREADS=1`, the "
        f"shipped default model; wrk `-t1 -c64` on core 1 with a one-step body of {window} values, "
        f"2 s warm-up discarded, {args.duration:g} s measured; {args.rounds} rounds, the order reversed every "
        "other round (bench.loadtest). `on`: every request traced, exported over OTLP/HTTP to a receiver on "
        "loopback; `on-10%`: `OTEL_TRACES_SAMPLER=parentbased_traceidratio`, `OTEL_TRACES_SAMPLER_ARG=0.1`.",
        "",
        "Ratios to `main` in the same round: the median, then each round's.",
        "",
        "| variant | server CPU per request ÷ main's | req/s ÷ main's | CPU µs / request | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        own = [r for r in runs if r.name == variant]
        relative = ("1", "1") if variant == "main" else (
            _summary(ratios(runs, variant, _cpu)), _summary(ratios(runs, variant, _rps)))
        lines.append(
            f"| {variant} | {relative[0]} | {relative[1]} | {statistics.median(map(_cpu, own)):.0f} | "
            f"{statistics.median(r.points[0].p50_ms for r in own):.2f} | "
            f"{statistics.median(r.points[0].p99_ms for r in own):.2f} |"
        )
    lines += [
        "",
        f"The `on` variants exported {sink.posts} OTLP requests ({sink.bytes / 1e6:.1f} MB) to the receiver.",
        "",
        "| round | variant | req/s | CPU µs / request | p50 ms | p99 ms | errors | non-2xx |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.round} | {r.name} | {r.points[0].rps:.0f} | {_cpu(r):.0f} | {r.points[0].p50_ms:.2f} | "
        f"{r.points[0].p99_ms:.2f} | {r.points[0].errors} | {r.points[0].non_2xx} |"
        for r in sorted(runs, key=lambda r: (r.round, VARIANTS.index(r.name)))
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per point")
    parser.add_argument("--baseline", default="main",
                        help="the git revision the variants are compared with (once tracing is on main: "
                        "the commit before it)")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("the benchmark needs two cores: one for the server, one for wrk")
    os.sched_setaffinity(0, {1})
    paths, started, clock = default_paths(), datetime.now().astimezone().isoformat(timespec="seconds"), time.time()
    main_tree, commit = export_main(paths, args.baseline)
    plan = LoadPlan(concurrencies=(64,), duration_s=args.duration, warmup_s=2.0)
    with otlp_sink() as (endpoint, sink):
        runs = run_rounds(makers(paths, main_tree, endpoint), plan, args.rounds, paths.out / "bodies", paths.logs)
    RESULTS.write_text(report(runs, sink, commit, args, started, time.time() - clock))
    print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
