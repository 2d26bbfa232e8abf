"""``rnncast score``: a real server's forecast log joined with actuals, scores checked
against the same formulas computed here with numpy; rotated logs, several model
versions, and every unusable input refused with a sentence and exit status 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from tests.api.test_forecast_log import logging_client, naive_mae
from tests.api.test_models_health import ready_within
from tests.factories import make_series

HORIZON = 5
ARRIVED = 3  # actuals arrived for the first 3 of the 5 forecast days


def run_score(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["score", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_scores_a_real_log_against_actuals(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, actuals_csv = tmp_path / "forecasts.jsonl", tmp_path / "actuals.csv"
    posted = {f"b{i}": make_series(100 + 10 * i, seed=i) for i in range(3)}
    request = {"series": [{"id": k, "values": v, "start": "2026-01-01T00:00:00Z", "freq": "D"} for k, v in posted.items()],
               "horizon": HORIZON, "quantiles": [0.1, 0.5, 0.9], "num_samples": 100, "seed": 2}
    with logging_client(model_dir, log) as client:
        ready_within(client)
        answers = client.post("/v1/forecast/rolling", json=request).json()["forecasts"]
        client.post("/v1/forecast", json={"series": [{"id": "no-times", "values": make_series(100)}]})
    rows, errors, scaled, inside = ["unique_id,ds,y", "b0,2025-12-31,1.0", "other,2026-04-11,2.0"], [], [], []
    for answer in answers:
        actual = make_series(ARRIVED, seed=99)
        for k in range(ARRIVED):
            rows.append(f"{answer['id']},{answer['timestamps'][k][:10]},{actual[k]}")  # a date: midnight UTC
            error = abs(actual[k] - answer["mean"][k])
            errors.append(error)
            scaled.append(error / naive_mae(posted[answer["id"]]))
            inside.append(answer["quantiles"]["0.1"][k] <= actual[k] <= answer["quantiles"]["0.9"][k])
    actuals_csv.write_text("\n".join(rows) + "\n")

    status, out, err = run_score(capsys, "--log", str(log), "--actuals", str(actuals_csv), "--json")
    assert (status, err) == (0, "")
    report = json.loads(out)
    (model,) = report["models"]
    assert (model["model"], model["version"], model["points"], model["mase_points"]) == ("default", "1", 9, 9)
    assert model["mae"] == pytest.approx(np.mean(errors), rel=1e-6)
    assert model["mase"] == pytest.approx(np.mean(scaled), rel=1e-5)
    assert model["coverage"] == {"0.8": pytest.approx(np.mean(inside))}
    assert (report["lines"], report["lines_without_series_or_times"], report["lines_unreadable"]) == (4, 1, 0)
    assert (report["points_scored"], report["points_waiting"]) == (9, 3 * (HORIZON - ARRIVED))


def line(version: str, series: str, day: int, forecast: float, history_step: float = 1.0,
         quantiles: dict[str, list[float]] | None = None) -> str:
    """A log line as the server writes it (fields documented in app.api.forecast_log)."""
    return json.dumps({
        "ts": "2026-03-01T00:00:00.000+00:00", "request_id": "r", "trace_id": None, "kind": "rolling",
        "model": {"name": "m", "version": version, "sha256": version * 64},
        "series_id": series, "last_timestamp": f"2026-03-{day - 1:02d}T00:00:00", "last_value": 0.0,
        "naive_mae": history_step, "forecast": [forecast], "timestamps": [f"2026-03-{day:02d}T00:00:00"],
        "quantiles": quantiles,
    })


def test_rotated_files_and_versions_are_scored_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "f.jsonl"
    (tmp_path / "f.jsonl.2").write_text(line("1", "a", 2, 1.0) + "\n")
    (tmp_path / "f.jsonl.1").write_text(line("1", "a", 3, 2.0, quantiles={"0.25": [1.0], "0.75": [3.0]}) + "\n")
    (tmp_path / "f.jsonl.lock").write_text("")
    log.write_text(line("2", "a", 4, 5.0, history_step=0.0) + "\n" + line("2", "a", 5, 9.0)[:40])
    actuals = tmp_path / "actuals.csv"
    actuals.write_text("id,time,value\na,2026-03-02,1.5\na,2026-03-03,3.5\na,2026-03-04,4.0\n")
    status, out, _ = run_score(capsys, "--log", str(log), "--actuals", str(actuals), "--id-column", "id",
                               "--time-column", "time", "--value-column", "value", "--json")
    assert status == 0
    report = json.loads(out)
    one, two = report["models"]
    assert (one["version"], one["points"], one["mae"], one["mase"]) == ("1", 2, 1.0, 1.0)
    assert one["coverage"] == {"0.5": 0.0}
    assert (two["version"], two["points"], two["mae"], two["mase"], two["mase_points"]) == ("2", 1, 1.0, None, 0)
    assert [Path(f).name for f in report["files"]] == ["f.jsonl.2", "f.jsonl.1", "f.jsonl"]
    assert report["lines_unreadable"] == 1, "a half-written last line is counted, not fatal"

    status, out, _ = run_score(capsys, "--log", str(log), "--actuals", str(actuals), "--id-column", "id",
                               "--time-column", "time", "--value-column", "value")
    header, first, second, summary = out.splitlines()
    assert header.split()[:6] == ["model", "version", "sha256", "points", "MAE", "MASE"]
    assert first.split() == ["m", "1", "111111111111", "2", "1", "1", "50%:", "0%"]
    assert second.split() == ["m", "2", "222222222222", "1", "1", "-", "-"]
    assert summary.startswith("3 forecast points scored from 4 lines in 3 files")


@pytest.mark.parametrize(("actuals", "message"), [
    ("unique_id,ds\na,2026-03-02\n", r"actuals.csv: no column 'y' \(columns: unique_id, ds\)"),
    ("unique_id,ds,y\na,2026-03-02,1\na,2026-03-02T00:00:00Z,2\n", r"1 repeated \(series, time\) pairs, e.g. 'a' at 2026-03-02"),
    ("unique_id,ds,y\na,March 2nd,1\n", r"actuals.csv column 'ds': row 1 holds 'March 2nd', not an ISO 8601 time"),
    ("unique_id,ds,y\na,2026-03-02,1\na,2026-03-03,n/a\n", r"actuals.csv: row 2 has no number in column 'y'"),
])
def test_unusable_actuals_are_refused_with_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], actuals: str, message: str
) -> None:
    log = tmp_path / "f.jsonl"
    log.write_text(line("1", "a", 2, 1.0) + "\n")
    (tmp_path / "actuals.csv").write_text(actuals)
    status, out, err = run_score(capsys, "--log", str(log), "--actuals", str(tmp_path / "actuals.csv"))
    assert (status, out) == (2, "")
    assert err.startswith("rnncast score: ") and err.count("\n") == 1
    assert re.search(message, err), err


def test_a_missing_log_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "actuals.csv").write_text("unique_id,ds,y\n")
    status, _, err = run_score(capsys, "--log", str(tmp_path / "nope.jsonl"), "--actuals", str(tmp_path / "actuals.csv"))
    assert (status, err) == (2, f"rnncast score: {tmp_path / 'nope.jsonl'}: no such forecast log\n")
