"""Batch forecasting benchmark: ``rnncast batch`` on 1 and 2 processes, on a local Ray
(2 workers) and on Spark ``local[2]``, against the server answering the same work
through the Python client, with memory and a check that every path gives the same
numbers to the bit.

``python -m bench.batch [--series 1000000] [--sample 10000] [--skip-million]``

1. Generates ``--series`` synthetic series (bench/batch_data.py) as Parquet parts of
   10,000 series under bench/out/batch/input/.
2. On the first ``--sample`` series: ``rnncast batch`` (horizon 24, 80/95 intervals,
   100 paths, shipped model) with 1 and 2 worker processes, with ``--engine ray``
   (``--address local``, 2 workers) and ``--engine spark`` (``--master local[2]``;
   both need the ray and spark extras), and ``rnncast serve`` (one process, its
   default settings, and with 2 torch threads) through ``app.client``: series/s and
   peak memory of every process of each run.
3. The same sample's answers compared bit for bit across all paths.
4. All ``--series`` through each of ``--million-paths`` (default: ``rnncast batch`` on
   1 and 2 processes; ``ray``, ``spark`` and ``server`` add those paths), means only
   (``--million-level``: with the 80/95 intervals): peak memory and rate on the whole input.

Writes bench/out/batch/results.json (``--results``) and prints Markdown. The machine may be shared:
compare the ratios of one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from app.client import Client
from bench.batch_data import generate
from bench.procs import session_pids, vm_hwm_kib
from tests.server import run_server

WORK = Path("bench/out/batch")
PER_PART = 10_000
HORIZON = 24
LEVELS = (80, 95)
SORT = [("unique_id", "ascending"), ("ds", "ascending")]
# A bulk job, not an interactive one: the default 60 s request deadline would cut the
# client's requests (thousands of series with 100 paths each) on a busy machine.
LONG_DEADLINE = {"RNNCAST_REQUEST_TIMEOUT_S": "3600"}


@dataclass(frozen=True)
class Run:
    """One measured run: what ran, on how many series, how long, and its memory."""

    name: str
    series: int
    seconds: float
    peak_rss_mib: float  # sum over processes of each one's peak RSS (VmHWM): over-states
    peak_pss_mib: float  # peak of the sampled sum of PSS: shared library pages counted once
    processes: int
    cpu_s: float  # CPU time (user + system) of every process of the path, the client's included

    @property
    def series_per_cpu_s(self) -> float:
        return self.series / self.cpu_s

    @property
    def series_per_s(self) -> float:
        return self.series / self.seconds


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Memory:
    """Samples the processes ``pids()`` lists: each one's peak RSS, and their summed PSS."""

    def __init__(self, pids: Callable[[], list[int]], interval_s: float = 0.5) -> None:
        self.pids, self.interval_s = pids, interval_s
        self.hwm: dict[int, int] = {}
        self.pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            pids = self.pids()
            self.pss = max(self.pss, sum(_pss_kib(pid) for pid in pids))
            for pid in pids:
                self.hwm[pid] = max(self.hwm.get(pid, 0), vm_hwm_kib(pid))

    def stop(self) -> tuple[float, float, int]:
        """(peak RSS summed, peak PSS, processes), MiB."""
        self._stop.set()
        self._thread.join()
        return sum(self.hwm.values()) / 1024, self.pss / 1024, len(self.hwm)


# The cluster engines on this machine's 2 cores: a Ray started for the run, Spark local[2].
ENGINES = {"ray": ["--engine", "ray", "--address", "local"], "spark": ["--engine", "spark", "--master", "local[2]"]}


def batch_run(name: str, source: Path, out: Path, series: int, workers: int, levels: bool,
              engine: tuple[str, ...] = ()) -> Run:
    """``rnncast batch`` (with ``engine``'s options) in a session of its own, timed and sampled."""
    command = [sys.executable, "-m", "app.cli", "batch", "--model", "models/default", "--input", str(source),
               "--output", str(out), "--horizon", str(HORIZON), "--workers", str(workers), "--no-progress",
               *engine]
    if levels:
        command += ["--level", ",".join(map(str, LEVELS))]
    started = time.perf_counter()
    process = subprocess.Popen(command, start_new_session=True)
    memory = Memory(lambda: session_pids(process.pid))
    # wait4's usage covers the process and the workers it waited for.
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    rss, pss, count = memory.stop()
    if process.returncode != 0:
        raise SystemExit(f"{name}: rnncast batch exited {process.returncode}")
    return Run(name, series, seconds, rss, pss, count, usage.ru_utime + usage.ru_stime)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_run(name: str, frame: pd.DataFrame, series: int, env: dict[str, str],
               levels: bool) -> tuple[Run, pd.DataFrame]:
    """The same forecasts from ``rnncast serve`` (one process) through ``app.client``."""
    with run_server(Path("models"), WORK, env=env) as server:
        memory = Memory(lambda: [server.process.pid])
        server_cpu, client_cpu = cpu_seconds(server.process.pid), time.process_time()
        started = time.perf_counter()
        with Client(server.url, timeout=3600, max_concurrency=2) as client:
            answer = client.forecast(frame, HORIZON, level=list(LEVELS) if levels else [])
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(server.process.pid) - server_cpu + time.process_time() - client_cpu
        rss, pss, count = memory.stop()
    return Run(name, series, seconds, rss, pss, count, cpu), answer


def read_answer(out: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("*.parquet"))).sort_by(SORT)


def _nanoseconds(times: pa.ChunkedArray) -> np.ndarray:
    """Times as integer nanoseconds (Spark keeps microseconds: the same instants)."""
    return np.asarray(times.cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy())


def same_bits(left: pa.Table, right: pa.Table) -> bool:
    """Ids, times and every float column equal bit for bit."""
    if left["unique_id"].to_pylist() != right["unique_id"].to_pylist():
        return False
    if not np.array_equal(_nanoseconds(left["ds"]), _nanoseconds(right["ds"])):
        return False
    floats = [c for c in left.column_names if c.startswith(("mean", "lo-", "hi-"))]
    if floats != [c for c in right.column_names if c.startswith(("mean", "lo-", "hi-"))]:
        return False
    return all(np.array_equal(left[c].to_numpy().astype(np.float32).view(np.uint32),
                              right[c].to_numpy().astype(np.float32).view(np.uint32)) for c in floats)


def read_frame(source: Path) -> pd.DataFrame:
    """The generated parts under ``source`` as one frame, ids as text."""
    frame = pd.concat([pd.read_parquet(p) for p in sorted(source.iterdir())], ignore_index=True)
    frame["unique_id"] = frame["unique_id"].astype(str)
    return frame


def compare(sample: Path, series: int, levels: bool) -> tuple[list[Run], dict[str, bool]]:
    """``rnncast batch`` on 1 and 2 processes and the server path on ``sample``; whether
    each path's answer equals the first one's bit for bit."""
    what = "80/95 intervals" if levels else "means only"
    runs: list[Run] = []
    answers: dict[str, pa.Table] = {}
    for workers in (1, 2):
        out = WORK / f"out-sample-{workers}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        runs.append(batch_run(f"rnncast batch, {workers} process(es), {what}", sample, out, series, workers,
                              levels))
        answers[runs[-1].name] = read_answer(out)
    for engine, options in ENGINES.items():
        out = WORK / f"out-sample-{engine}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        runs.append(batch_run(f"rnncast batch --engine {engine}, 2 workers, {what}", sample, out, series, 2,
                              levels, tuple(options)))
        answers[runs[-1].name] = read_answer(out)
    frame = read_frame(sample)
    for threads in ("1", "2"):
        run, answer = server_run(f"rnncast serve (1 process, {threads} torch thread(s)) + app.client, {what}",
                                 frame, series, {"RNNCAST_NUM_THREADS": threads, **LONG_DEADLINE}, levels)
        runs.append(run)
        answers[run.name] = pa.Table.from_pandas(answer, preserve_index=False).sort_by(SORT)
    reference = next(iter(answers.values()))
    return runs, {name: same_bits(reference, table) for name, table in answers.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=10_000, help="series of the timed and compared runs")
    parser.add_argument("--skip-million", action="store_true", help="leave out step 4")
    parser.add_argument("--million-level", action="store_true", help="step 4 with 80/95 intervals")
    parser.add_argument("--million-paths", default="1,2",
                        help="step 4's paths: 1 and 2 (processes), ray, spark, server")
    parser.add_argument("--results", default="results.json", help="file under bench/out/batch/ for the figures")
    parser.add_argument("--skip-sample", action="store_true", help="leave out steps 2 and 3")
    args = parser.parse_args()
    # Made the same way as the million (10,000 series: exactly its first part).
    sample = WORK / f"sample-{args.sample}"
    counted = sum(pq.ParquetFile(p).metadata.num_rows for p in generate(sample, args.sample, PER_PART))
    runs: list[Run] = []
    identical: dict[str, bool] = {}
    means_identical: dict[str, bool] = {}
    if not args.skip_sample:
        runs, identical = compare(sample, args.sample, levels=True)
        means_runs, means_identical = compare(sample, args.sample, levels=False)
        runs += means_runs
    generated = float("nan")
    if not args.skip_million:
        started = time.perf_counter()
        source = WORK / f"input-{args.series}"
        generate(source, args.series, PER_PART)
        generated = time.perf_counter() - started
        what = "80/95 intervals" if args.million_level else "means only"
        for path in args.million_paths.split(","):
            out = WORK / f"out-million-{path}"
            subprocess.run(["rm", "-rf", str(out)], check=True)
            if path == "server":
                runs.append(server_run(f"rnncast serve (1 process, 1 torch thread) + app.client, all "
                                       f"{args.series:,} series, {what}", read_frame(source), args.series,
                                       {"RNNCAST_NUM_THREADS": "1", **LONG_DEADLINE}, args.million_level)[0])
                continue
            if path in ENGINES:
                name, workers, engine = f"rnncast batch --engine {path}, 2 workers", 2, tuple(ENGINES[path])
            else:
                name, workers, engine = f"rnncast batch, {path} process(es)", int(path), ()
            runs.append(batch_run(f"{name}, all {args.series:,} series, {what}", source, out,
                                  args.series, workers, args.million_level, engine))
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": " ".join(sys.argv),
               "cores": len(os.sched_getaffinity(0)), "sample_rows": counted, "generate_s": generated,
               "runs": [asdict(r) | {"series_per_s": r.series_per_s, "series_per_cpu_s": r.series_per_cpu_s}
                        for r in runs],
               "identical": {"80/95 intervals": identical, "means only": means_identical}}
    (WORK / args.results).write_text(json.dumps(results, indent=2))
    print("| path | series | seconds | series/s | CPU s | series/CPU s | peak RSS, summed (MiB) | peak PSS (MiB) "
          "| processes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r.name} | {r.series:,} | {r.seconds:.1f} | {r.series_per_s:,.1f} | {r.cpu_s:,.1f} | "
              f"{r.series_per_cpu_s:,.1f} | {r.peak_rss_mib:,.0f} | {r.peak_pss_mib:,.0f} | {r.processes} |")
    print(f"\nBit-identical to the first path's answer: {results['identical']}")


if __name__ == "__main__":
    main()
