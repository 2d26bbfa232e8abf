"""The forecast log, in process: one line per forecast from every forecast route, the
sampling rate, a start that stops on an unusable path, and a request that never
waits for a stalled writer."""

from __future__ import annotations

import json
import os
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from app.api.forecast_log import ForecastLog, LoggedForecast, naive_maes
from app.api.log_sinks import StreamSink
from app.config import Settings
from app.main import create_app
from app.runtime.forecaster import Forecaster
from tests.api.test_models_health import ready_within
from tests.factories import make_series

ROLLING = {
    "series": [{"id": "b", "values": make_series(110, seed=3), "start": "2026-01-01T00:00:00Z", "freq": "D"}],
    "horizon": 4, "quantiles": [0.1, 0.9], "num_samples": 50, "seed": 1,
}


def logging_client(model_dir: Path, log: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(  # type: ignore[call-arg]
        model_dir=model_dir, device="cpu", drain_seconds=0, forecast_log=str(log), _env_file=None, **settings)))


def read_lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def naive_mae(values: list[float]) -> float:
    return float(np.mean(np.abs(np.diff(values))))


def test_every_forecast_route_logs_one_line_per_series(model_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "forecasts.jsonl"
    one_step = [make_series(120, seed=1), make_series(150, seed=2)]
    rows = [make_series(100, seed=5), make_series(100, seed=6)]
    infer = {"inputs": [{"name": "input__0", "shape": [2, 100], "datatype": "FP32", "data": rows[0] + rows[1]}]}
    with logging_client(model_dir, log) as client:
        ready_within(client)
        sha = client.get("/v1/models/default").json()["sha256"]
        first = client.post("/v1/forecast", headers={"X-Request-ID": "one"},
                            json={"series": [{"id": "a", "values": one_step[0]}, {"values": one_step[1]}]})
        rolling = client.post("/v1/forecast/rolling", json=ROLLING, headers={"X-Request-ID": "two"})
        v2 = client.post("/v2/models/default/infer", json=infer, headers={"X-Request-ID": "three"})
    assert first.status_code == rolling.status_code == v2.status_code == 200
    lines = read_lines(log)  # the app has closed: everything is written
    assert [(line["request_id"], line["kind"], line["series_id"]) for line in lines] == [
        ("one", "one_step", "a"), ("one", "one_step", None), ("two", "rolling", "b"),
        ("three", "one_step", None), ("three", "one_step", None)]
    for line in lines:
        assert line["model"] == {"name": "default", "version": "1", "sha256": sha}
        assert line["trace_id"] is None, "tracing is off: the field stays empty, never invented"
    posted = [*one_step, ROLLING["series"][0]["values"], *rows]  # type: ignore[index]
    for line, values in zip(lines, posted, strict=True):
        assert line["last_value"] == pytest.approx(values[-1], rel=1e-6)
        assert line["naive_mae"] == pytest.approx(naive_mae(values), rel=1e-5)
    answered = [[f["value"]] for f in first.json()["forecasts"]] + [[v] for v in v2.json()["outputs"][0]["data"]]
    assert [line["forecast"] for line in lines if line["kind"] == "one_step"] == answered
    assert all(line["timestamps"] is None and line["last_timestamp"] is None
               for line in lines if line["kind"] == "one_step")
    (answer,) = rolling.json()["forecasts"]
    timed = lines[2]
    assert timed["forecast"] == answer["mean"] and timed["quantiles"] == answer["quantiles"]
    assert timed["timestamps"] == answer["timestamps"]
    assert timed["last_timestamp"] == "2026-04-20T00:00:00+00:00"  # value 110 of a daily series from Jan 1


def test_rows_are_logged_like_series(model_dir: Path, tmp_path: Path) -> None:
    """The long forms log one line per series, as the series form does: the same
    numbers, the forecast steps' times from ``ds`` and the last posted one; a frame
    whose ``ds`` are integer positions logs no times (nothing to join actuals on)."""
    log = tmp_path / "rows.jsonl"
    histories = {"north": make_series(120, seed=1), "south": make_series(130, seed=2)}
    rows = [{"unique_id": name, "ds": str(date(2026, 1, 1) + timedelta(days=i)), "y": v}
            for name, values in histories.items() for i, v in enumerate(values)]
    options = {"horizon": 3, "quantiles": [0.1, 0.9], "num_samples": 50, "seed": 1}
    positions = "unique_id,ds,y\n" + "".join(f"p,{i},{v}\n" for i, v in enumerate(histories["north"]))
    with logging_client(model_dir, log) as client:
        ready_within(client)
        one = client.post("/v1/forecast", json={"rows": rows}, headers={"X-Request-ID": "one"})
        rolled = client.post("/v1/forecast/rolling", json={"rows": rows, **options}, headers={"X-Request-ID": "two"})
        series = client.post("/v1/forecast/rolling", headers={"X-Request-ID": "three"}, json={
            "series": [{"id": name, "values": values} for name, values in histories.items()], **options})
        indexed = client.post("/v1/forecast", content=positions, headers={
            "Content-Type": "text/csv", "Accept": "application/json", "X-Request-ID": "four"})
    assert one.status_code == rolled.status_code == series.status_code == indexed.status_code == 200
    lines = read_lines(log)
    assert [(line["request_id"], line["kind"], line["series_id"]) for line in lines] == [
        ("one", "one_step", "north"), ("one", "one_step", "south"), ("two", "rolling", "north"),
        ("two", "rolling", "south"), ("three", "rolling", "north"), ("three", "rolling", "south"),
        ("four", "one_step", "p")]
    assert [line["forecast"] for line in lines[:2]] == [[row["mean"]] for row in one.json()["rows"]]
    assert [line["timestamps"] for line in lines[:2]] == [["2026-05-01"], ["2026-05-11"]]
    for line, by_series, values in zip(lines[2:4], lines[4:6], histories.values(), strict=True):
        assert line["forecast"] == by_series["forecast"] and line["quantiles"] == by_series["quantiles"]
        assert line["last_value"] == pytest.approx(values[-1], rel=1e-6)
        assert line["naive_mae"] == pytest.approx(by_series["naive_mae"], rel=1e-12)
        answer = [row for row in rolled.json()["rows"] if row["unique_id"] == line["series_id"]]
        assert line["timestamps"] == [row["ds"] for row in answer]
        assert line["last_timestamp"] == str(date(2026, 1, 1) + timedelta(days=len(values) - 1))
    assert lines[-1]["timestamps"] is None and lines[-1]["last_timestamp"] is None
    assert lines[-1]["forecast"] == [indexed.json()["rows"][0]["mean"]]


def test_the_sample_rate_keeps_that_share_of_forecasts(model_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "sampled.jsonl"
    series = [{"id": f"s{i}", "values": make_series(100, seed=i)} for i in range(400)]
    with logging_client(model_dir, log, forecast_log_sample_rate=0.25) as client:
        ready_within(client)
        assert client.post("/v1/forecast", json={"series": series}).status_code == 200
    kept = read_lines(log)
    assert 40 <= len(kept) <= 160, "binomial(400, 0.25): 100 expected, these bounds are 7 sd away"
    ids = [line["series_id"] for line in kept]
    assert len(set(ids)) == len(ids) and set(ids) <= {s["id"] for s in series}


def test_a_log_that_cannot_be_written_stops_the_start(model_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "no-such-directory" / "forecasts.jsonl"
    with pytest.raises(RuntimeError, match=r"^RNNCAST_FORECAST_LOG: cannot write .*no-such-directory"):
        with logging_client(model_dir, target):
            pass


def _dropped() -> float:
    return REGISTRY.get_sample_value("rnncast_forecast_log_dropped_total", {"reason": "buffer_full"}) or 0.0


def test_a_stalled_writer_never_blocks_a_request(tiny_artifact: Path) -> None:
    """The sink is a real pipe nobody reads: once the kernel's pipe buffer is full the
    writer thread blocks in write(2). Recording goes on regardless; what the bounded
    buffer cannot hold is dropped and counted, and everything else arrives whole."""
    forecaster = Forecaster.load(tiny_artifact, torch.device("cpu"), "default")
    read_end, write_end = os.pipe()
    log = ForecastLog(StreamSink(write_end), buffer_bytes=16 * 1024)
    dropped_before, total = _dropped(), 3000
    for i in range(total):  # about 1 MB of lines against 64 KiB of pipe and 16 KiB of buffer
        log.record(f"r{i}", forecaster, "one_step", [LoggedForecast(f"s{i}", [1.0, 2.0, 1.5], [1.25])])
    dropped = _dropped() - dropped_before
    assert dropped > 0
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(read_end, 65536), b"")))
    reader.start()
    log.close()
    os.close(write_end)
    reader.join(30)
    os.close(read_end)
    lines = [json.loads(line) for line in b"".join(chunks).decode().splitlines()]
    assert len(lines) + dropped == total
    assert all(line["forecast"] == [1.25] and line["naive_mae"] == 0.75 for line in lines)


def test_naive_maes_of_a_batch_equal_each_history_alone() -> None:
    rng = np.random.default_rng(0)
    histories: list[Any] = [[], [3.0], [1.0, 4.0], rng.random(100).astype(np.float32), list(rng.random(7) * 1e6),
                            [2.5] * 10, rng.random(2).tolist()]
    got = naive_maes(histories)
    assert got[:2] == [None, None]
    for history, mae in zip(histories[2:], got[2:], strict=True):
        assert mae == pytest.approx(naive_mae(np.asarray(history, dtype=np.float64).tolist()), rel=1e-12)
    assert naive_maes([]) == [] and naive_maes([[1.0]]) == [None]
