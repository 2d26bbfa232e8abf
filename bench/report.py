"""Turn bench/out/results.json into bench/RESULTS.md and bench/throughput.png."""

from __future__ import annotations

import math
import os
import platform
import re
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import targets as servers

SUBJECT = "rnncast"  # the server the targets are about (window-32 bench model)
Row = dict[str, Any]


def machine_description() -> dict[str, Any]:
    """CPU, cores, memory, kernel, load: enough to judge whether numbers are comparable."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kib = 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def window_of(name: str) -> int:
    """Servers named ``...-wN`` take an N-value body; all others the 32-value one."""
    suffix = re.search(r"-w(\d+)$", name)
    return int(suffix.group(1)) if suffix else 32


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(runs: list[Row]) -> dict[str, Row]:
    """Per server: medians over rounds of each point and of its ratios to the ceiling
    of the same round and body; worst (max) ready time and peak RSS over rounds."""
    by_round = {(r["name"], r["round"]): r for r in runs}
    out: dict[str, Row] = {}
    for name in dict.fromkeys(r["name"] for r in runs):
        mine = [r for r in runs if r["name"] == name]
        ceiling_name = f"ceiling-w{window_of(name)}"
        points: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        ready_ratio, rss_ratio = [], []
        for run in mine:
            ceiling = by_round.get((ceiling_name, run["round"]))
            ceil_points = {p["concurrency"]: p for p in ceiling["points"]} if ceiling else {}
            for p in run["points"]:
                acc = points[p["concurrency"]]
                for key in ("rps", "p50_ms", "p99_ms", "errors", "non_2xx"):
                    acc[key].append(p[key])
                c = ceil_points.get(p["concurrency"])
                if c:
                    acc["rps_ratio"].append(p["rps"] / c["rps"])
                    acc["p50_ratio"].append(p["p50_ms"] / c["p50_ms"])
                    acc["p99_ratio"].append(p["p99_ms"] / c["p99_ms"])
            if ceiling:
                ready_ratio.append(run["ready_s"] / ceiling["ready_s"])
                rss_ratio.append(run["peak_rss_mib"] / ceiling["peak_rss_mib"])
        out[name] = {
            "rounds": len(mine),
            "ready_s": max(r["ready_s"] for r in mine),
            "ready_ratio": _median(ready_ratio),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in mine),
            "rss_ratio": _median(rss_ratio),
            "processes": max(r["processes"] for r in mine),
            "points": {
                c: {k: (sum(v) if k in ("errors", "non_2xx") else _median(v)) for k, v in acc.items()}
                for c, acc in sorted(points.items())
            },
        }
    return out


def _same_round_ratio(runs: list[Row], a: str, b: str, concurrency: int) -> float:
    """Median over rounds of rps(a) / rps(b) at ``concurrency``."""
    rps = {(r["name"], r["round"]): {p["concurrency"]: p["rps"] for p in r["points"]} for r in runs}
    ratios = [
        rps[(a, rnd)][concurrency] / rps[(b, rnd)][concurrency]
        for (name, rnd) in rps
        if name == a and (b, rnd) in rps and concurrency in rps[(b, rnd)]
    ]
    return _median(ratios)


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"  # NaN check


def load_table(summary: dict[str, Row]) -> list[str]:
    """One row per server and concurrency: absolute values and ratios to the ceiling."""
    lines = [
        "| server | c | req/s | × ceiling | p50 ms | × ceiling | p99 ms | × ceiling | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in summary.items():
        for c, p in s["points"].items():
            lines.append(
                f"| {name} | {c} | {p['rps']:.0f} | {_fmt(p.get('rps_ratio', float('nan')))} "
                f"| {p['p50_ms']:.2f} | {_fmt(p.get('p50_ratio', float('nan')))} "
                f"| {p['p99_ms']:.2f} | {_fmt(p.get('p99_ratio', float('nan')))} "
                f"| {int(p['errors'] + p['non_2xx'])} |"
            )
    return lines


def batching_table(runs: list[Row]) -> list[str]:
    """rnncast's own /metrics during each point: how full the batches were (median over
    rounds). Compute is wall time on the model thread (it shares the core)."""
    acc: dict[tuple[str, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        for c, stats in (run.get("batching") or {}).items():
            for key, value in stats.items():
                acc[(run["name"], int(c))][key].append(value)
    if not acc:
        return []
    lines = [
        "| server | c | rows per forward | compute ms per forward | queue ms per forward "
        "| compute ms per request |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for (name, c), values in acc.items():
        m = {k: _median(v) for k, v in values.items()}
        lines.append(f"| {name} | {c} | {m['rows_per_batch']:.1f} | {m['compute_ms_per_batch']:.3f} "
                     f"| {m['queue_ms_per_batch']:.3f} | {m['compute_ms_per_request']:.3f} |")
    return lines


def startup_table(summary: dict[str, Row]) -> list[str]:
    """Worst ready time and peak RSS over rounds, with ratios to the ceiling."""
    lines = [
        "| server | ready s (worst) | × ceiling | peak RSS MiB (worst) | × ceiling | processes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['ready_s']:.2f} | {_fmt(s['ready_ratio'])} | {s['peak_rss_mib']:.0f} "
            f"| {_fmt(s['rss_ratio'])} | {s['processes']} |"
        )
    return lines


def target_rows(results: dict[str, Any], summary: dict[str, Row]) -> list[tuple[str, str, bool | None]]:
    """(target, what was measured, holds?) for the issue's targets."""
    rows: list[tuple[str, str, bool | None]] = []
    s = summary.get(SUBJECT)
    if s is None:
        return [("rnncast was not measured", "", None)]
    pts = s["points"]

    def ratio(c: int) -> float:
        return float(pts.get(c, {}).get("rps_ratio", float("nan")))

    for c, floor in ((64, 1.0), (16, 0.9), (1, 0.5)):
        measured = f"{_fmt(ratio(c))}×"
        if c == 1 and (bound := _forward_bound(results["load"], summary)):
            measured += bound
        rows.append((f"c={c}: ≥ {floor}× ceiling req/s", measured, ratio(c) >= floor))
    if "torchserve" in summary:
        vs_ts = _same_round_ratio(results["load"], SUBJECT, "torchserve", 64)
        rows.append(("c=64: ≥ 1.15× TorchServe (batch 64 / 2 ms) req/s", f"{_fmt(vs_ts)}×",
                     vs_ts >= 1.15))
    p50 = float(pts.get(1, {}).get("p50_ms", float("nan")))
    rows.append(("c=1: p50 < 1.2 ms", f"{_fmt(p50)} ms", p50 < 1.2))
    rows.append(("peak RSS < 300 MiB", f"{s['peak_rss_mib']:.0f} MiB", s["peak_rss_mib"] < 300))
    rows.append(("ready ≤ 3 s after process start", f"{s['ready_s']:.2f} s", s["ready_s"] <= 3.0))
    roll = results.get("rolling")
    if roll:
        for key, label in (("rolling", "rolling h=1000 × 1000 series"),
                           ("walk_forward", "walk-forward over 10,000 points")):
            r = roll[key]
            rows.append((f"{label}: end-to-end ≤ 1.5× raw compute",
                         f"{_fmt(r['ratio'])}× ({r['http_s']:.2f} s vs {r['raw_s']:.2f} s)",
                         r["ratio"] <= 1.5))
    check = results.get("workers", {}).get("correctness")
    if check:
        rows.append(("--workers 2: correct answers, metrics aggregated",
                     f"{check['wrong_answers']} wrong of {check['requests']}; counter deltas "
                     f"{sorted(set(check['counter_deltas']))}; {check['workers_that_served']} "
                     "workers served", bool(check["ok"])))
    return rows


def _forward_bound(runs: list[Row], summary: dict[str, Row]) -> str | None:
    """At c=1 every request waits for its own forward pass: the ratio rnncast could reach
    if everything but the forward (as its /metrics timed it) cost nothing."""
    forward_ms = _median([float(stats["compute_ms_per_request"])
                          for r in runs if r["name"] == SUBJECT
                          for c, stats in (r.get("batching") or {}).items() if int(c) == 1])
    ceiling = summary.get("ceiling-w32", {}).get("points", {}).get(1)
    if math.isnan(forward_ms) or not ceiling:
        return None
    ceiling_ms = 1000 / ceiling["rps"]
    return (f" (the forward pass alone takes {forward_ms:.2f} ms a request, the ceiling's whole "
            f"request {ceiling_ms:.2f} ms: ≤ {ceiling_ms / forward_ms:.2f}× if the rest were free)")


def _rolling_lines(roll: dict[str, Any]) -> list[str]:
    w = roll["work"]
    lines = [
        f"Rolling: {w['series']} series × horizon {w['horizon']}; walk-forward: one "
        f"{w['points']}-point series (horizon 1). Raw compute runs in a pinned process before "
        f"and after the HTTP side (best of {w['rolling_repeats']} rolling / "
        f"{2 * w['walk_repeats']} walk-forward runs); HTTP = best of {w['rolling_repeats']} / "
        f"{w['walk_repeats']} POSTs (the first POST shown too).",
        "",
        "| request | raw compute s | HTTP end-to-end s | first HTTP s | ratio | max abs diff |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key in ("rolling", "walk_forward"):
        r = roll[key]
        lines.append(f"| {key} | {r['raw_s']:.3f} | {r['http_s']:.3f} | {r['http_first_s']:.3f} "
                     f"| {r['ratio']:.2f} | {r['max_abs_diff']:.2g} |")
    return lines


def _workers_lines(data: dict[str, Any]) -> list[str]:
    c = data["correctness"]
    lines = [
        f"Correctness: {c['requests']} forecasts on fresh connections, {c['wrong_answers']} wrong; "
        f"`rnncast_requests_total` (POST /v1/forecast, 200) grew by {c['counter_deltas']} in "
        f"{len(c['counter_deltas'])} scrapes (must all be {c['requests']}); CPU seconds per "
        f"child process {c['worker_cpu_s']} → **{'OK' if c['ok'] else 'FAILED'}**.",
        "",
        "| workers | server cores | req/s | p50 ms | p99 ms | peak RSS MiB (all processes) | ready s |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in data["scaling"]:
        lines.append(f"| {r['workers']} | {r['server_cpus']} | {r['rps']:.0f} | {r['p50_ms']:.2f} "
                     f"| {r['p99_ms']:.2f} | {r['peak_rss_mib']:.0f} | {r['ready_s']:.2f} |")
    return lines


def _hotpath_lines(hot: dict[str, dict[str, float]]) -> list[str]:
    lines = ["| group | measurement | µs per call |", "|---|---|---:|"]
    for group, values in hot.items():
        for name, us in values.items():
            lines.append(f"| {group} | {name} | {us:.1f} |")
    return lines


def chart(summary: dict[str, Row], path: Path, title: str) -> None:
    """Throughput and p99 against concurrency, one line per server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for name, s in summary.items():
        cs = list(s["points"])
        style = "-" if window_of(name) == 32 else ":"
        left.plot(cs, [s["points"][c]["rps"] for c in cs], style, marker="o", label=name)
        right.plot(cs, [s["points"][c]["p99_ms"] for c in cs], style, marker="o", label=name)
    ticks = sorted({c for s in summary.values() for c in s["points"]})
    for axis, ylabel in ((left, "requests/s (log)"), (right, "p99 latency, ms (log)")):
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xticks(ticks, [str(c) for c in ticks])
        axis.set_xlabel("concurrent connections (wrk -c)")
        axis.set_ylabel(ylabel)
        axis.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _header(results: dict[str, Any]) -> list[str]:
    m, plan = results["machine"], results.get("load_plan", results["plan"])
    return [
        "# rnncast benchmark results",
        "",
        "Reproduce (on a fresh machine; sets up wrk, TorchServe and LitServe venvs, the model):",
        "",
        "```sh",
        "bench/run.sh            # full run, ~20 min; bench/run.sh --quick for a smoke test",
        "```",
        "",
        f"- This run: `{results['command']}`, {results['date']}, {results.get('elapsed_s', '?')} s.",
        *_phase_dates(results),
        f"- rnncast measured at revision `{results.get('revision', 'unknown')}`.",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}; load average at start {m['load_average_at_start']}. **Shared and "
        "noisy**: other jobs ran on both cores during this run, so treat single figures as "
        "preliminary and compare ratios within a round.",
        f"- Each server alone, pinned with `taskset -c 0`; wrk 4.1 (`-t1`) pinned to core 1 on "
        f"127.0.0.1; per point {plan['warmup_s']:g} s warm-up (discarded) + "
        f"{plan['duration_s']:g} s measured, at c = {', '.join(map(str, plan['concurrencies']))}; "
        f"{plan['rounds']} round(s) of the load phase, server order reversed in alternate "
        "rounds.",
        "- Ratios (×) are to the bare-FastAPI ceiling (`bench/servers/ceiling.py`: pydantic parses "
        "the same body, answers a constant) **of the same round**, then the median over rounds. "
        "Servers marked `-wN` use an N-value body against an N-value ceiling.",
        "",
    ]


def _section(title: str, lines: list[str]) -> list[str]:
    return ["## " + title, "", *lines, ""] if lines else []


def _phase_dates(results: dict[str, Any]) -> list[str]:
    """A line naming each phase's date when --merge mixed runs of different dates."""
    dates = results.get("phase_dates") or {}
    if len(set(dates.values())) <= 1:
        return []
    return ["- Phases merged from several runs: "
            + ", ".join(f"{phase} {date}" for phase, date in dates.items()) + "."]


def _methods() -> list[str]:
    return [
        "## How things are counted",
        "",
        "- **Model**: `bench/export_model.py` exports window 32, hidden 128, layout `sequence` "
        "(32 RNN steps of one feature) through `app.training` + `app.artifact`; every server "
        "loads that same `bench/out/models/bench32/model.pt` (TorchServe from its .mar copy). "
        "`rnncast-default-wN` serves the shipped `models/default/model.pt` (window N: the "
        "anchored ensemble of the default recipe). Every server's first answer is checked against the "
        "value `torch.jit.load` computes in-process (1e-4).",
        "- **rnncast**: `rnncast serve` as shipped (greedy batching, max batch 256; on one core "
        "`RNNCAST_BATCH_ON=auto` runs batches on the event loop), `RNNCAST_NUM_THREADS=1`.",
        f"- **TorchServe 0.12.0**: `bench/servers/torchserve_handler.py`, one worker, batchSize "
        f"{servers.TS_BATCH_SIZE}, maxBatchDelay {servers.TS_MAX_DELAY_MS} ms, "
        "`--disable-token-auth --ncs`, system metrics off, Java 17 defaults.",
        f"- **LitServe 0.2.19**: `bench/servers/litserve_app.py`, one API server process, one "
        f"inference worker, max_batch_size {servers.LS_BATCH_SIZE}, batch_timeout "
        f"{servers.LS_TIMEOUT_MS:g} ms.",
        "- **Peak RSS**: every process in the server's session (found by session id, sampled "
        "every 0.25 s), each process's own `VmHWM` from `/proc/<pid>/status`, summed. For "
        "TorchServe that is the `torchserve` launcher + Java frontend + Python worker; for "
        "LitServe the main process + API server + inference worker + multiprocessing helpers. "
        "A sum of per-process peaks can only over-state the simultaneous peak.",
        "- **Ready**: from just before `Popen` until the health endpoint answers 200 *and* a "
        "forecast POST returns the correct value (polled every 20 ms).",
        "- **Latency**: wrk's own percentiles (Lua `done()` hook, cross-checked against "
        "`--latency`); closed-loop, so at c > 1 p50 ≈ c / throughput.",
        "",
    ]


def write(results: dict[str, Any], md_path: Path, chart_path: Path) -> None:
    """Write RESULTS.md (and the PNG when the load phase ran)."""
    lines = _header(results)
    summary = summarize(results["load"]) if results.get("load") else {}
    if summary:
        lines += ["## Targets (rnncast, window-32 model, one worker on one core)", "",
                  "| target | measured | holds |", "|---|---|---|"]
        for target, measured, holds in target_rows(results, summary):
            mark = "n/a" if holds is None else ("yes" if holds else "**no**")
            lines.append(f"| {target} | {measured} | {mark} |")
        lines += ["", "## Throughput and latency", "", *load_table(summary), "",
                  f"![throughput and p99 against concurrency]({chart_path.name})", "",
                  *_section("Batching inside rnncast (its own /metrics)", batching_table(results["load"])),
                  "## Start-up and memory", "", *startup_table(summary), ""]
        when = (results.get("phase_dates") or {}).get("load") or results["date"]
        chart(summary, chart_path, f"one server process on one core, wrk on the other; {when} "
              "(shared 2-core machine)")
    if results.get("ablations"):
        rounds = results["plan"].get("ablation_rounds", 1)
        lines += [f"## rnncast variants ({rounds} round(s); one setting changed each)", "",
                  "`rnncast-shipped` runs the defaults (on one core: batches on the event loop); "
                  "`batches-on-thread` sets `RNNCAST_BATCH_ON=thread`, `no-request-log` "
                  "`RNNCAST_LOG_LEVEL=warning`, `timer-2ms` `RNNCAST_MAX_WAIT_MS=2`.", "",
                  *load_table(summarize(results["ablations"])), ""]
    if results.get("rolling"):
        lines += ["## Long requests: end-to-end vs raw compute", "", *_rolling_lines(results["rolling"]), ""]
    if results.get("workers"):
        lines += ["## `rnncast serve --workers 2` (informative)", "", *_workers_lines(results["workers"]), ""]
    if results.get("hotpath"):
        lines += ["## In-process costs of the hot path (`bench/hotpath.py`, core 0)", "",
                  *_hotpath_lines(results["hotpath"]), ""]
    lines += _methods()
    md_path.write_text("\n".join(lines))
