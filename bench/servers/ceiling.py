"""The ceiling: a bare FastAPI endpoint that parses the benchmark body with pydantic and
returns a constant. Every rate in bench/RESULTS.md is a ratio to this server's, measured
in the same run.

    uvicorn bench.servers.ceiling:app --host 127.0.0.1 --port 8000
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="ceiling", openapi_url=None, docs_url=None, redoc_url=None)

ANSWER = {"model": {"name": "ceiling", "version": "1"}, "forecasts": [{"id": None, "value": 0.0}]}


class Series(BaseModel):
    """One posted series."""

    values: list[float]


class Body(BaseModel):
    """The same wire shape as rnncast's POST /v1/forecast."""

    series: list[Series]


@app.get("/health/ready")
async def ready() -> dict[str, str]:
    """Always ready: there is nothing to load."""
    return {"status": "ready"}


@app.post("/v1/forecast")
async def forecast(body: Body) -> dict[str, object]:
    """Parse and validate the body, then answer a constant."""
    return ANSWER
