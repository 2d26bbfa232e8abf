"""v1 forecast routes in process: answers, and every error with its exact body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.factories import make_series

WINDOW = 100


def problem(status: int, slug: str, title: str, detail: str, instance: str, errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": f"urn:rnncast:problem:{slug}", "title": title, "status": status,
                            "detail": detail, "instance": instance}
    if errors is not None:
        body["errors"] = errors
    return body


def test_one_step_equals_the_raw_file(client: TestClient, tiny_artifact: Path) -> None:
    series = [make_series(WINDOW + i, seed=i) for i in range(6)]
    r = client.post("/v1/forecast", json={"series": [{"id": f"s{i}", "values": v} for i, v in enumerate(series)]})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["model"] == {"name": "default", "version": "1"}
    assert [f["id"] for f in body["forecasts"]] == [f"s{i}" for i in range(6)]
    raw = torch.jit.load(str(tiny_artifact))
    with torch.inference_mode():
        expected = raw(torch.tensor([v[-WINDOW:] for v in series], dtype=torch.float32)).numpy()
    got = np.array([f["value"] for f in body["forecasts"]], dtype=np.float32)
    # The server pads batches to 8 rows (batch invariance); torch on 6 rows may pick
    # another GEMM kernel (which one depends on the CPU): equal to float32 rounding.
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6)


def test_rolling_with_intervals_timestamps_and_walk_forward(client: TestClient) -> None:
    request = {
        "series": [{"id": "a", "values": make_series(WINDOW + 30), "start": "2026-01-01T00:00:00Z", "freq": "D"},
                   {"values": make_series(WINDOW, seed=4)}],
        "horizon": 5, "quantiles": [0.1, 0.5, 0.9], "num_samples": 200, "seed": 3, "walk_forward": True,
    }
    r = client.post("/v1/forecast/rolling", json=request)
    assert r.status_code == 200, r.text
    first, second = r.json()["forecasts"]
    assert first["id"] == "a" and second["id"] is None
    assert len(first["mean"]) == 5 and set(first["quantiles"]) == {"0.1", "0.5", "0.9"}
    low, mid, high = (np.array(first["quantiles"][q]) for q in ("0.1", "0.5", "0.9"))
    assert (low < mid).all() and (mid < high).all()
    assert first["timestamps"][0] == "2026-05-11T00:00:00+00:00"  # value 130 of a daily series
    assert second["timestamps"] is None
    wf = first["walk_forward"]
    assert wf["first_index"] == WINDOW and len(wf["predictions"]) == 30
    assert wf["mae"] > 0 and wf["rmse"] >= wf["mae"]
    assert second["walk_forward"]["predictions"] == []
    again = client.post("/v1/forecast/rolling", json=request).json()
    assert again["forecasts"] == r.json()["forecasts"]  # seeded: same numbers


def test_rolling_mean_step_one_is_the_one_step_forecast(client: TestClient) -> None:
    values = make_series(WINDOW + 7, seed=8)
    one = client.post("/v1/forecast", json={"series": [{"values": values}]}).json()
    rolling = client.post("/v1/forecast/rolling", json={"series": [{"values": values}], "horizon": 3}).json()
    assert rolling["forecasts"][0]["mean"][0] == pytest.approx(one["forecasts"][0]["value"], abs=1e-6)
    assert rolling["forecasts"][0]["quantiles"] is None


GOOD = make_series(WINDOW)


@pytest.mark.parametrize(
    ("path", "body", "status", "expected"),
    [
        ("/v1/forecast", {"series": [{"values": [1.0, 2.0]}]}, 422, problem(
            422, "invalid-series", "Invalid series", "series[0] has 2 values; this model needs at least 100",
            "/v1/forecast", [{"field": "series[0].values", "message": "series[0] has 2 values; this model needs at least 100", "type": "invalid-series", "limit": 100}])),
        ("/v1/forecast", {"series": []}, 422, problem(
            422, "validation", "Request validation failed", "series: List should have at least 1 item after validation, not 0",
            "/v1/forecast", [{"field": "series", "message": "List should have at least 1 item after validation, not 0", "type": "too_short", "limit": 1}])),
        ("/v1/forecast", {"series": [{"values": ["x"]}]}, 422, problem(
            422, "validation", "Request validation failed", "series[0].values[0]: Input should be a valid number",
            "/v1/forecast", [{"field": "series[0].values[0]", "message": "Input should be a valid number", "type": "float_type", "limit": None}])),
        ("/v1/forecast", {"series": [{"values": GOOD}], "extra": 1}, 422, problem(
            422, "validation", "Request validation failed", "extra: Extra inputs are not permitted",
            "/v1/forecast", [{"field": "extra", "message": "Extra inputs are not permitted", "type": "extra_forbidden", "limit": None}])),
        ("/v1/forecast", {"series": [{"values": GOOD}], "model": "nope"}, 404, problem(
            404, "model-not-found", "Model not found", "no model named 'nope' (loaded: default)",
            "/v1/forecast", [{"field": "model", "message": "no model named 'nope' (loaded: default)", "type": "model-not-found", "limit": None}])),
        ("/v1/forecast", {"series": [{"values": [*GOOD[:-1], 1e39]}]}, 422, problem(
            422, "invalid-series", "Invalid series",
            "series[0].values holds a non-finite number or one beyond float32's range (|x| <= 3.403e+38)",
            "/v1/forecast", [{"field": "series[0].values", "message": "series[0].values holds a non-finite number or one beyond float32's range (|x| <= 3.403e+38)", "type": "invalid-series", "limit": None}])),
        ("/v1/forecast", {"series": [{"values": GOOD}, {"values": [*GOOD[:-1], -1e39]}]}, 422, problem(
            422, "invalid-series", "Invalid series",
            "series[1].values holds a non-finite number or one beyond float32's range (|x| <= 3.403e+38)",
            "/v1/forecast", [{"field": "series[1].values", "message": "series[1].values holds a non-finite number or one beyond float32's range (|x| <= 3.403e+38)", "type": "invalid-series", "limit": None}])),
        ("/v1/forecast/rolling", {"series": [{"values": GOOD}], "horizon": 0}, 422, problem(
            422, "validation", "Request validation failed", "horizon: Input should be greater than or equal to 1",
            "/v1/forecast/rolling", [{"field": "horizon", "message": "Input should be greater than or equal to 1", "type": "greater_than_equal", "limit": 1}])),
        ("/v1/forecast/rolling", {"series": [{"values": GOOD}], "horizon": 2, "quantiles": [0.5, 1.5]}, 422, problem(
            422, "validation", "Request validation failed", "quantiles[1]: Input should be less than 1",
            "/v1/forecast/rolling", [{"field": "quantiles[1]", "message": "Input should be less than 1", "type": "less_than", "limit": 1.0}])),
        ("/v1/forecast/rolling", {"series": [{"values": GOOD, "freq": "D"}], "horizon": 2}, 422, problem(
            422, "invalid-series", "Invalid series", "series[0] gives only one of start and freq; timestamps need both",
            "/v1/forecast/rolling", [{"field": "series[0].start", "message": "series[0] gives only one of start and freq; timestamps need both", "type": "invalid-series", "limit": None}])),
        ("/v1/forecast/rolling", {"series": [{"values": GOOD, "freq": "fortnight", "start": "2026-01-01"}], "horizon": 2}, 422, problem(
            422, "invalid-series", "Invalid series",
            "unknown freq 'fortnight'; use one of A, AS, D, H, M, ME, MS, Q, QE, QS, S, T, W, Y, YE, YS, h, min, s with an optional multiple such as 15min",
            "/v1/forecast/rolling", [{"field": "freq", "message": "unknown freq 'fortnight'; use one of A, AS, D, H, M, ME, MS, Q, QE, QS, S, T, W, Y, YE, YS, h, min, s with an optional multiple such as 15min", "type": "invalid-series", "limit": None}])),
    ],
    ids=["short", "no-series", "string", "extra-field", "unknown-model", "float32-overflow", "overflow-in-series-1",
         "horizon-0", "quantile-range", "freq-without-start", "bad-freq"],
)
def test_errors_are_exact_problem_details(client: TestClient, path: str, body: dict[str, Any], status: int, expected: dict[str, Any]) -> None:
    r = client.post(path, json=body)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == expected


def test_one_step_reads_only_the_window(client: TestClient) -> None:
    """Values before the last `window` do not feed a one-step forecast, so they are not
    converted (nor refused for float32's range); the rolling walk-forward reads them all."""
    plain = client.post("/v1/forecast", json={"series": [{"values": GOOD}]}).json()
    longer = client.post("/v1/forecast", json={"series": [{"values": [1e39, *GOOD]}]})
    assert longer.status_code == 200 and longer.json() == plain
    rolling = client.post("/v1/forecast/rolling", json={"series": [{"values": [1e39, *GOOD]}], "horizon": 1})
    assert rolling.status_code == 422 and rolling.json()["type"].endswith("invalid-series")


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post("/v1/forecast", content=b'{"series": [', headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["type"] == "urn:rnncast:problem:malformed-json"
    assert r.json()["detail"].startswith("the request body is not valid JSON")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_are_refused(client: TestClient, literal: str) -> None:
    body = '{"series": [{"values": [' + ",".join(map(str, GOOD[:-1])) + f", {literal}]}}]}}"
    r = client.post("/v1/forecast", content=body.encode())
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "series[0].values[99]"


def limited_client(model_dir: Path, **limits: Any) -> TestClient:
    settings = Settings(model_dir=model_dir, device="cpu", _env_file=None, **limits)  # type: ignore[call-arg]
    return TestClient(create_app(settings))


def wait_ready(client: TestClient) -> None:
    for _ in range(600):
        if client.get("/health/ready").status_code == 200:
            return
        import time

        time.sleep(0.05)
    raise AssertionError("not ready")


def test_configured_limits_name_the_limit(model_dir: Path) -> None:
    with limited_client(model_dir, max_series=2, max_horizon=10, max_num_samples=5,
                        max_compute_rows=50, max_values_per_series=150, max_body_bytes=4096) as c:
        wait_ready(c)
        three = {"series": [{"values": GOOD}] * 3}
        r = c.post("/v1/forecast", json=three)
        assert (r.status_code, r.json()["errors"][0]) == (422, {
            "field": "series", "limit": 2, "type": "limit-exceeded",
            "message": "3 series posted; at most 2 per request"})
        r = c.post("/v1/forecast", json={"series": [{"values": make_series(151)}]})
        assert r.status_code == 422 and r.json()["errors"][0]["limit"] == 150
        r = c.post("/v1/forecast/rolling", json={"series": [{"values": GOOD}], "horizon": 11})
        assert (r.status_code, r.json()["errors"][0]["field"], r.json()["errors"][0]["limit"]) == (422, "horizon", 10)
        r = c.post("/v1/forecast/rolling", json={"series": [{"values": GOOD}], "horizon": 2, "quantiles": [0.5], "num_samples": 6})
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "num_samples")
        r = c.post("/v1/forecast/rolling", json={"series": [{"values": GOOD}], "horizon": 10, "quantiles": [0.5], "num_samples": 5})
        assert r.status_code == 422
        assert r.json()["detail"] == (
            "this request needs 70 rows of compute and output (series x horizon x (1 + num_samples + quantile "
            "levels) + timestamps + walk-forward points); the budget is 50 per request (RNNCAST_MAX_COMPUTE_ROWS)")
        big = {"series": [{"values": make_series(100)}] * 2, "pad": "x" * 5000}
        r = c.post("/v1/forecast", json=big)
        assert r.status_code == 413
        assert r.json() == problem(413, "body-too-large", "Request body too large",
                                   "the request body exceeds 4096 bytes (RNNCAST_MAX_BODY_BYTES)", "/v1/forecast")


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    r = client.get("/v1/nothing")
    assert (r.status_code, r.json()["detail"]) == (404, "no route GET /v1/nothing")
    r = client.get("/v1/forecast")
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"


def test_request_id_is_returned_and_a_callers_id_kept(client: TestClient) -> None:
    generated = client.get("/health/live").headers["x-request-id"]
    assert len(generated) == 32
    assert client.get("/health/live", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert client.get("/health/live", headers={"X-Request-ID": "bad id\x01"}).headers["x-request-id"] != "bad id\x01"
