"""rnncast's Python client: pandas DataFrames in and out, over HTTP (httpx).

``Client`` (threads) and ``AsyncClient`` (asyncio) do the same: split a frame into
requests that fit the server's advertised limits, send them with at most
``max_concurrency`` in flight, retry 503 answers after their ``Retry-After``,
halve a request the server finds too big, and join the answers in the frame's
series order. Errors are :class:`~app.client.errors.ProblemError` subclasses
carrying the server's problem details.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd

from app.client.errors import OverloadedError, problem_error
from app.client.frames import PARQUET, Chunk, Part, ServerLimits, by_series, from_parquet, join, plan, to_parquet

DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Backtest:
    """A backtest's answer: forecasts beside actuals, scores per series and overall."""

    forecasts: pd.DataFrame
    metrics: pd.DataFrame
    overall: dict[str, float | None]


@dataclass(frozen=True)
class _Call:
    """One operation on a frame: its route, query options and model rows per series."""

    path: str
    params: dict[str, Any]
    cost_per_series: int


def _step_cost(params: dict[str, Any], fixed_columns: int) -> int:
    """Budget rows per forecast step (the documented unit): the mean path, the simulated
    paths or calibration windows of intervals, and each value returned in a row."""
    levels, quantiles = len(params.get("level", ())), len(params.get("quantiles", ()))
    paths = 0
    if levels or quantiles:
        conformal = params.get("interval_method") == "conformal"
        paths = int(params.get("calibration_windows") or 50) if conformal else int(params.get("num_samples", 100))
    return 1 + paths + fixed_columns + quantiles + 2 * levels


def _options(**given: Any) -> dict[str, Any]:
    return {key: value for key, value in given.items() if value is not None and value != ()}


class _Base:
    """Settings and the wire decisions shared by both clients."""

    def __init__(self, *, id_col: str, time_col: str, target_col: str, max_concurrency: int,
                 max_retries: int, max_retry_wait: float) -> None:
        self.columns = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._limits: ServerLimits | None = None

    @staticmethod
    def _headers(api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _forecast_call(self, h: int, options: dict[str, Any]) -> _Call:
        params = {**self.columns, "horizon": h, **options}
        return _Call("/v1/forecast/rolling", params, h * _step_cost(params, fixed_columns=2))

    def _backtest_call(self, h: int, n_windows: int, options: dict[str, Any]) -> _Call:
        params = {**self.columns, "h": h, "n_windows": n_windows, **options}
        return _Call("/v1/forecast/backtest", params, n_windows * h * _step_cost(params, fixed_columns=4))

    def _anomaly_call(self, frame: pd.DataFrame, options: dict[str, Any]) -> _Call:
        longest = int(frame.groupby(self.columns["id_col"], sort=False).size().max()) if len(frame) else 1
        return _Call("/v1/anomalies", {**self.columns, **options}, 7 * longest)  # a model row, 6 values

    def _chunks(self, frame: pd.DataFrame, call: _Call, limits: ServerLimits) -> list[Chunk]:
        ordered, bounds = by_series(frame, self.columns["id_col"])
        return plan(ordered, bounds, limits, call.cost_per_series)

    def _decide(self, response: httpx.Response, chunk: Chunk, attempt: int) -> float | None:
        """None: the answer is usable; seconds: retry after them. Raises when the server
        refused for good; :class:`_Split` when the chunk must be halved."""
        if response.status_code == 200:
            return None
        problem = _problem_of(response)
        too_big = response.status_code == 413 or (
            response.status_code == 422 and str(problem.get("type", "")).endswith("limit-exceeded")
        )
        if too_big and chunk.series > 1:
            raise _Split()
        if response.status_code == 503 and attempt < self.max_retries:
            return min(_retry_after(response), self.max_retry_wait)
        if response.status_code == 503:
            raise OverloadedError(503, problem)
        raise problem_error(response.status_code, problem)

    @staticmethod
    def _request(call: _Call, chunk: Chunk) -> dict[str, Any]:
        return {
            "url": call.path,
            "params": call.params,
            "content": to_parquet(chunk.rows),
            "headers": {"Content-Type": PARQUET, "Accept": PARQUET},
        }

    @staticmethod
    def _backtest_of(part: Part) -> Backtest:
        metrics = part.meta.pop("metrics")
        return Backtest(part.rows, metrics["series"], metrics["overall"])

    @staticmethod
    def _frame_of(part: Part) -> pd.DataFrame:
        part.rows.attrs["rnncast"] = part.meta
        return part.rows


class _Split(Exception):
    """The server found a request too big: send its two halves instead."""


def _problem_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {"title": response.reason_phrase, "detail": response.text[:500]}


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _limits_of(body: dict[str, Any]) -> ServerLimits:
    return ServerLimits(body["max_body_bytes"], body["max_series"], body["max_compute_rows"])


def _checked(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise problem_error(response.status_code, _problem_of(response))
    return response.json()


class Client(_Base):
    """Synchronous client; concurrent requests run on a pool of ``max_concurrency`` threads.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, base_url: str = DEFAULT_URL, *, api_key: str | None = None, timeout: float = 60.0,
                 max_concurrency: int = 4, max_retries: int = 5, max_retry_wait: float = 30.0,
                 id_col: str = "unique_id", time_col: str = "ds", target_col: str = "y",
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(id_col=id_col, time_col=time_col, target_col=target_col,
                         max_concurrency=max_concurrency, max_retries=max_retries, max_retry_wait=max_retry_wait)
        self._http = httpx.Client(base_url=base_url, headers=self._headers(api_key), timeout=timeout,
                                  transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def models(self) -> list[dict[str, Any]]:
        """The served models with their status and metadata (``GET /v1/models``)."""
        return list(_checked(self._http.get("/v1/models"))["models"])

    def limits(self) -> ServerLimits:
        """The server's per-request limits, read once."""
        if self._limits is None:
            self._limits = _limits_of(_checked(self._http.get("/v1/limits")))
        return self._limits

    def forecast(self, df: pd.DataFrame, h: int, *, level: Sequence[float] = (), quantiles: Sequence[float] = (),
                 **options: Any) -> pd.DataFrame:
        """``h`` steps after each series: ``unique_id, ds, mean``, ``q-<q>`` and ``lo-<L>``/``hi-<L>``.
        ``options`` are the route's (``interval_method``, ``num_samples``, ``seed``, ``freq``,
        ``fill``, ``model``, ...); the answer's metadata is in ``df.attrs["rnncast"]``."""
        call = self._forecast_call(h, _options(level=list(level), quantiles=list(quantiles), **options))
        return self._frame_of(self._run(df, call))

    def backtest(self, df: pd.DataFrame, h: int, *, n_windows: int = 1, level: Sequence[float] = (),
                 **options: Any) -> Backtest:
        """Forecasts from ``n_windows`` cut-offs per series beside the actual values, and scores."""
        call = self._backtest_call(h, n_windows, _options(level=list(level), **options))
        return self._backtest_of(self._run(df, call))

    def detect_anomalies(self, df: pd.DataFrame, *, level: float = 99, **options: Any) -> pd.DataFrame:
        """Each point's one-step forecast, interval at ``level`` and ``anomaly`` flag
        (``newest=k`` checks only each series' last k points)."""
        return self._frame_of(self._run(df, self._anomaly_call(df, _options(level=level, **options))))

    def _run(self, frame: pd.DataFrame, call: _Call) -> Part:
        chunks = self._chunks(frame, call, self.limits())
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            answers = list(pool.map(lambda chunk: self._send(call, chunk), chunks))
        return join([part for parts in answers for part in parts])

    def _send(self, call: _Call, chunk: Chunk) -> list[Part]:
        attempt = 0
        while True:
            response = self._http.post(**self._request(call, chunk))
            try:
                wait = self._decide(response, chunk, attempt)
            except _Split:
                first, second = chunk.halves()
                return [*self._send(call, first), *self._send(call, second)]
            if wait is None:
                return [from_parquet(response.content)]
            attempt += 1
            time.sleep(wait)


class AsyncClient(_Base):
    """Asynchronous client; at most ``max_concurrency`` requests in flight.

    Use as an async context manager, or await :meth:`aclose`.
    """

    def __init__(self, base_url: str = DEFAULT_URL, *, api_key: str | None = None, timeout: float = 60.0,
                 max_concurrency: int = 4, max_retries: int = 5, max_retry_wait: float = 30.0,
                 id_col: str = "unique_id", time_col: str = "ds", target_col: str = "y",
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(id_col=id_col, time_col=time_col, target_col=target_col,
                         max_concurrency=max_concurrency, max_retries=max_retries, max_retry_wait=max_retry_wait)
        self._http = httpx.AsyncClient(base_url=base_url, headers=self._headers(api_key), timeout=timeout,
                                       transport=transport)
        self._slots = asyncio.Semaphore(max_concurrency)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def models(self) -> list[dict[str, Any]]:
        """The served models with their status and metadata (``GET /v1/models``)."""
        return list(_checked(await self._http.get("/v1/models"))["models"])

    async def limits(self) -> ServerLimits:
        """The server's per-request limits, read once."""
        if self._limits is None:
            self._limits = _limits_of(_checked(await self._http.get("/v1/limits")))
        return self._limits

    async def forecast(self, df: pd.DataFrame, h: int, *, level: Sequence[float] = (),
                       quantiles: Sequence[float] = (), **options: Any) -> pd.DataFrame:
        """As :meth:`Client.forecast`."""
        call = self._forecast_call(h, _options(level=list(level), quantiles=list(quantiles), **options))
        return self._frame_of(await self._run(df, call))

    async def backtest(self, df: pd.DataFrame, h: int, *, n_windows: int = 1, level: Sequence[float] = (),
                       **options: Any) -> Backtest:
        """As :meth:`Client.backtest`."""
        call = self._backtest_call(h, n_windows, _options(level=list(level), **options))
        return self._backtest_of(await self._run(df, call))

    async def detect_anomalies(self, df: pd.DataFrame, *, level: float = 99, **options: Any) -> pd.DataFrame:
        """As :meth:`Client.detect_anomalies`."""
        return self._frame_of(await self._run(df, self._anomaly_call(df, _options(level=level, **options))))

    async def _run(self, frame: pd.DataFrame, call: _Call) -> Part:
        chunks = self._chunks(frame, call, await self.limits())
        answers = await asyncio.gather(*(self._send(call, chunk) for chunk in chunks))
        return join([part for parts in answers for part in parts])

    async def _send(self, call: _Call, chunk: Chunk) -> list[Part]:
        attempt = 0
        while True:
            async with self._slots:
                response = await self._http.post(**self._request(call, chunk))
            try:
                wait = self._decide(response, chunk, attempt)
            except _Split:
                first, second = chunk.halves()
                halves = await asyncio.gather(self._send(call, first), self._send(call, second))
                return [*halves[0], *halves[1]]
            if wait is None:
                return [from_parquet(response.content)]
            attempt += 1
            await asyncio.sleep(wait)
