"""wrk, pinned to its own core, POSTing one JSON body; parsed into a LoadResult."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

LUA_SCRIPT = Path(__file__).parent / "wrk" / "post.lua"
_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class LoadResult:
    """One wrk run: throughput, latency percentiles (ms) and errors."""

    concurrency: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    non_2xx: int

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict for the results JSON."""
        return asdict(self)


def _latency_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk latency: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_distribution(output: str) -> dict[int, float]:
    """wrk's ``--latency`` table ("Latency Distribution": 50% 412.00us ...) in ms."""
    found = re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", output, flags=re.MULTILINE)
    return {int(pct): _latency_ms(value) for pct, value in found}


def parse(output: str, concurrency: int) -> LoadResult:
    """Read the Lua summary line; check it against the ``--latency`` table."""
    line = next((ln for ln in output.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    table = parse_distribution(output)
    p50 = raw["p50_us"] / 1000
    if 50 in table and abs(table[50] - p50) > max(0.02, 0.02 * p50):
        raise RuntimeError(f"wrk's p50 table ({table[50]} ms) disagrees with Lua ({p50} ms)")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    duration = raw["duration_us"] / 1e6
    return LoadResult(
        concurrency=concurrency,
        duration_s=round(duration, 3),
        requests=raw["requests"],
        rps=round(raw["requests"] / duration, 1),
        p50_ms=p50,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=errors,
        non_2xx=int(non_2xx.group(1)) if non_2xx else raw["status_errors"],
    )


def run_wrk(
    url: str,
    body_file: Path,
    concurrency: int,
    duration_s: float,
    cpus: str = "1",
    timeout_s: float = 5.0,
) -> LoadResult:
    """One wrk run with one thread and ``concurrency`` connections, bounded in time."""
    command = [
        "taskset", "-c", cpus, "wrk", "-t1", f"-c{concurrency}", f"-d{duration_s:g}s",
        f"--timeout={timeout_s:g}s", "--latency", "-s", str(LUA_SCRIPT), url,
    ]
    env = {**os.environ, "BENCH_BODY_FILE": str(body_file)}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration_s + timeout_s + 30,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse(done.stdout, concurrency)
