"""The Python client against a real ``rnncast serve`` on loopback: big frames split into
many requests whose joined answer equals the offline computation, retries, typed errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch

from app.client import AsyncClient, AuthenticationError, Client, InvalidRequestError, OverloadedError
from app.runtime.forecaster import Forecaster
from app.runtime.frame_forecast import RowsSpec, build_panel, forecast_ahead
from app.runtime.frames.arrow import frame_from_arrow
from app.runtime.frames.table import Table
from app.runtime.intervals import IntervalSpec
from app.runtime.service import Limits
from tests.server import ServerProcess, run_server

WINDOW = 100
KEY = "client-test-key"
# Small limits, so that a modest frame already takes many requests.
SMALL = {"RNNCAST_MAX_SERIES": "250", "RNNCAST_MAX_BODY_BYTES": str(512 * 1024), "RNNCAST_API_KEYS": KEY}


def long_frame(series: int, n: int = WINDOW + 10, seed: int = 0) -> pd.DataFrame:
    """``series`` synthetic series of ``n`` daily values, shifted phases."""
    rng = np.random.default_rng(seed)
    phase = rng.integers(0, 300, (series, 1))
    y = np.sin(0.02 * (np.arange(n)[None, :] + phase)) + 2 * rng.random((series, n))
    return pd.DataFrame({
        "unique_id": np.repeat([f"s{i}" for i in range(series)], n),
        "ds": np.tile(pd.date_range("2025-01-01", periods=n, freq="D").to_numpy(), series),
        "y": y.reshape(-1),
    })


def offline(model: Path, df: pd.DataFrame, horizon: int, spec: IntervalSpec, seed: int) -> Table:
    """The same forecasts computed in this process: frames + Forecaster, no server."""
    forecaster = Forecaster.load(model, torch.device("cpu"), "default")
    frame = frame_from_arrow(pa.Table.from_pandas(df), "unique_id", "ds", "y")
    panel = build_panel(frame, RowsSpec(), forecaster.window, Limits(max_series=10**7))
    return forecast_ahead(forecaster, panel, horizon, spec, seed)


def assert_same(answer: pd.DataFrame, expected: Table) -> None:
    assert answer["unique_id"].tolist() == expected.columns["unique_id"].tolist()
    np.testing.assert_array_equal(answer["ds"].to_numpy().view(np.int64), expected.columns["ds"])
    for name, values in expected.columns.items():
        if name not in ("unique_id", "ds"):
            np.testing.assert_array_equal(answer[name].to_numpy(), values)  # bit for bit


class Counting(httpx.HTTPTransport):
    """The real transport, counting the posts; ``fail_first`` answers the first post with
    503 + Retry-After itself (a real server answers 503 only under load, at no reliable
    moment), after which every request goes to the server."""

    def __init__(self, fail_first: bool = False) -> None:
        super().__init__()
        self.posts = 0
        self.fail_first = fail_first

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts += 1
            if self.fail_first and self.posts == 1:
                return httpx.Response(503, headers={"Retry-After": "0"}, json={"title": "Server overloaded"})
        return super().handle_request(request)


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[ServerProcess]:
    with run_server(model_dir, tmp_path_factory.mktemp("client"), env=SMALL) as server:
        yield server


def test_a_frame_split_into_many_requests_joins_to_the_offline_answer(
    small_server: ServerProcess, tiny_artifact: Path
) -> None:
    df = long_frame(1500)
    transport = Counting()
    with Client(small_server.url, api_key=KEY, transport=transport, max_concurrency=3) as client:
        answer = client.forecast(df, 3, level=[80], num_samples=20, seed=11)
    assert transport.posts >= 6  # 1500 series, at most 250 per request
    assert_same(answer, offline(tiny_artifact, df, 3, IntervalSpec(levels=(80.0,), num_samples=20), 11))
    assert answer.attrs["rnncast"]["interval_method"] == "paths"


def test_the_async_client_joins_the_same_answer(small_server: ServerProcess, tiny_artifact: Path) -> None:
    df = long_frame(600, seed=2)

    async def run() -> pd.DataFrame:
        async with AsyncClient(small_server.url, api_key=KEY, max_concurrency=2) as client:
            return await client.forecast(df, 2)

    assert_same(asyncio.run(run()), offline(tiny_artifact, df, 2, IntervalSpec(), 0))


def test_a_body_over_the_limit_is_halved_until_it_fits(small_server: ServerProcess) -> None:
    """The first rows compress far better than the rest, so the client's size estimate is
    too low: the server's 413 makes it halve those requests."""
    df = long_frame(300, n=400, seed=3)
    df.loc[: 50 * 400, "y"] = 1.0  # the client samples the first 20,000 rows
    transport = Counting()
    with Client(small_server.url, api_key=KEY, transport=transport) as client:
        answer = client.forecast(df, 1)
    assert len(answer) == 300 and transport.posts >= 3


def test_503_is_retried_after_retry_after(small_server: ServerProcess) -> None:
    transport = Counting(fail_first=True)
    with Client(small_server.url, api_key=KEY, transport=transport) as client:
        answer = client.forecast(long_frame(3), 2)
    assert len(answer) == 6 and transport.posts == 2


def test_backtest_and_anomalies_through_the_client(small_server: ServerProcess) -> None:
    df = long_frame(300, n=WINDOW + 30, seed=4)
    with Client(small_server.url, api_key=KEY) as client:
        result = client.backtest(df, 5, n_windows=2, level=[80])
        flagged = client.detect_anomalies(df, level=90, newest=4)
    assert len(result.forecasts) == 300 * 2 * 5 and len(result.metrics) == 300
    points = result.metrics["points"].to_numpy()
    assert result.overall["mae"] == pytest.approx(np.average(result.metrics["mae"], weights=points))
    assert list(flagged.columns) == ["unique_id", "ds", "y", "mean", "lo-90", "hi-90", "anomaly"]
    assert len(flagged) == 300 * 4 and flagged.attrs["rnncast"]["anomalies"] == int(flagged["anomaly"].sum())


def test_errors_carry_the_problem_details(small_server: ServerProcess) -> None:
    with Client(small_server.url, api_key=KEY) as client:
        assert client.models()[0]["name"] == "default"
        with pytest.raises(InvalidRequestError) as refused:
            client.forecast(long_frame(2, n=50), 3)
    assert refused.value.status == 422 and refused.value.type == "urn:rnncast:problem:invalid-series"
    assert refused.value.detail == "series 's0' has 50 values; this model needs at least 100"
    with Client(small_server.url) as client, pytest.raises(AuthenticationError) as unauthorized:
        client.models()
    assert unauthorized.value.status == 401


def test_a_server_that_stays_unavailable_raises_after_the_retries(model_copy: Path, tmp_path: Path) -> None:
    (model_copy / "default" / "model.pt").write_bytes(b"not a model")  # live, never ready: 503
    transport = Counting()
    with run_server(model_copy, tmp_path, ready=False) as server, Client(
        server.url, max_retries=2, max_retry_wait=0.01, transport=transport
    ) as client, pytest.raises(OverloadedError) as unavailable:
        client.forecast(long_frame(2), 2)
    assert unavailable.value.status == 503 and transport.posts == 3
    assert "model 'default' is failed" in unavailable.value.detail


@pytest.mark.slow
def test_a_hundred_thousand_series_through_the_client(tmp_path: Path, model_dir: Path, tiny_artifact: Path) -> None:
    """The issue's scale: 100,000 series (11M rows) through the default limits."""
    df = long_frame(100_000, seed=5)
    transport = Counting()
    with run_server(model_dir, tmp_path) as server, Client(server.url, transport=transport, timeout=600) as client:
        answer = client.forecast(df, 6, level=[80], num_samples=10, seed=1)
    assert transport.posts >= 10
    assert_same(answer, offline(tiny_artifact, df, 6, IntervalSpec(levels=(80.0,), num_samples=10), 1))


def test_a_series_gets_the_same_quantiles_alone_and_in_any_batch(small_server: ServerProcess) -> None:
    """Determinism over real requests: paths are seeded by (seed, id), not by the request."""
    df = long_frame(6, seed=6)
    series = [{"id": name, "values": group["y"].tolist()} for name, group in df.groupby("unique_id", sort=False)]
    options = {"horizon": 4, "quantiles": [0.1, 0.9], "level": [95], "num_samples": 40, "seed": 3}
    headers = {"Authorization": f"Bearer {KEY}"}

    def post(chosen: list[dict[str, object]]) -> dict[str, object]:
        r = httpx.post(f"{small_server.url}/v1/forecast/rolling", json={"series": chosen, **options}, headers=headers)
        return {f["id"]: (f["quantiles"], f["intervals"]) for f in r.json()["forecasts"]}

    together = post(series)
    assert post(series[::-1]) == together
    for one in series:
        assert post([one]) == {one["id"]: together[one["id"]]}
