"""The batch engine gives the frame endpoint's numbers to the bit, in any split of the
series into tables, and refuses a model it cannot trust before it reads any rows."""

from __future__ import annotations

import dataclasses
import io
import shutil
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from app.artifact import ArtifactError
from app.batch.engine import MODEL_COLUMNS, BatchForecaster, BatchSpec
from app.runtime.errors import InvalidSeriesError, SignatureError
from app.runtime.intervals import IntervalSpec
from tests.batch.rows import rows
from tests.server import ServerProcess

PARQUET = "application/vnd.apache.parquet"
INTERVALS = IntervalSpec("paths", (80.0, 95.0), (0.1, 0.9), num_samples=40)


def server_answer(server: ServerProcess, table: pa.Table, query: str) -> pa.Table:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    reply = httpx.post(f"{server.url}/v1/forecast/rolling?{query}", content=sink.getvalue(),
                       headers={"Content-Type": PARQUET, "Accept": PARQUET}, timeout=120)
    assert reply.status_code == 200, reply.text
    return pq.read_table(io.BytesIO(reply.content))


def test_the_engine_equals_the_frame_endpoint_to_the_bit(live_server: ServerProcess, tiny_artifact: Path) -> None:
    table = rows(12)
    engine = BatchForecaster(BatchSpec(tiny_artifact, horizon=6, intervals=INTERVALS, seed=7))
    expected = server_answer(live_server, table, "horizon=6&level=80,95&quantiles=0.1,0.9&num_samples=40&seed=7")
    # Two tables of whole series, the second in reverse row order: the same numbers.
    first = pc.is_in(table["unique_id"], pa.array([f"store-{s}" for s in range(5)]))
    parts = [engine(table.filter(first)), engine(table.filter(pc.invert(first)).take(
        pa.array(np.arange(table.num_rows - pc.sum(first).as_py())[::-1])))]
    got = pa.concat_tables(parts).sort_by([("unique_id", "ascending"), ("ds", "ascending")])
    assert got.column_names == [*expected.column_names, *MODEL_COLUMNS]
    assert got.select(expected.column_names).equals(expected.sort_by([("unique_id", "ascending"), ("ds", "ascending")]))
    assert set(got["model_sha256"].to_pylist()) == {engine.forecaster.sha256}
    assert got.num_rows == 12 * 6 and expected["lo-95"].null_count == 0


def test_backtest_rows_are_the_offline_backtests(tiny_artifact: Path) -> None:
    table = rows(3)
    spec = BatchSpec(tiny_artifact, horizon=4, intervals=INTERVALS, backtest_windows=2)
    answer = BatchForecaster(spec)(table)
    assert answer.column_names[:5] == ["unique_id", "cutoff", "ds", "y", "mean"]
    assert answer.num_rows == 3 * 2 * 4
    alone = BatchForecaster(spec)(table.filter(pc.equal(table["unique_id"], "store-2")))
    assert alone.equals(answer.slice(2 * 2 * 4))


def test_a_series_too_short_is_named(tiny_artifact: Path) -> None:
    engine = BatchForecaster(BatchSpec(tiny_artifact, horizon=3))
    table = rows(2).slice(250)  # store-1 alone, 75 of its rows: fewer than the window (100)
    with pytest.raises(InvalidSeriesError, match="store-1"):
        engine(table)


def test_an_unexpected_sha256_or_a_missing_signature_is_refused(tiny_artifact: Path, tmp_path: Path) -> None:
    spec = BatchSpec(tiny_artifact, horizon=3)
    with pytest.raises(ArtifactError, match="is not the expected 00ff"):
        BatchForecaster(dataclasses.replace(spec, sha256="00ff"))
    key = tmp_path / "key.pub"
    key.write_text("not used: the signature is missing before any key is read")
    with pytest.raises(SignatureError, match="not signed"):
        BatchForecaster(dataclasses.replace(spec, trusted_keys=(key,)))


def test_a_tampered_model_is_refused(tiny_artifact: Path, tmp_path: Path) -> None:
    copy = tmp_path / "default"
    shutil.copytree(tiny_artifact.parent, copy)
    with (copy / "model.pt").open("ab") as model:
        model.write(b"\0")
    with pytest.raises(ArtifactError, match="does not match"):
        BatchForecaster(BatchSpec(copy / "model.pt", horizon=3))


def test_the_engines_refusal_is_found_behind_a_cluster_engines_error() -> None:
    from app.artifact import ArtifactError
    from app.batch.engine import Refusal, refusal_in
    from app.runtime.errors import InvalidSeriesError

    worker = ("An exception was thrown from the Python worker:\nTraceback (most recent call last):\n"
              "  File \"x.py\", line 1, in f\n    raise InvalidSeriesError(\n"
              "app.runtime.errors.InvalidSeriesError: series 'b' has 5 values; this model needs at least 8\n")
    assert refusal_in(RuntimeError(worker)) == Refusal("InvalidSeriesError", "series 'b' has 5 values; "
                                                                              "this model needs at least 8")
    assert refusal_in(ArtifactError("m.pt: sha256 1 is not the expected 0")) == Refusal(
        "ArtifactError", "m.pt: sha256 1 is not the expected 0")
    model, series = refusal_in(ArtifactError("x")), refusal_in(InvalidSeriesError("x"))
    assert model is not None and model.of_model and series is not None and not series.of_model
    assert refusal_in(RuntimeError("the executor ran out of memory")) is None
