"""``rnncast backtest`` on a file: the server's backtest rows and scores, offline."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from app.cli import main
from tests.batch.rows import rows
from tests.server import ServerProcess

PARQUET = "application/vnd.apache.parquet"


def test_rows_and_scores_are_the_servers(live_server: ServerProcess, tiny_artifact: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    data, out = tmp_path / "rows.parquet", tmp_path / "backtest.parquet"
    pq.write_table(rows(4), data)
    status = main(["backtest", str(tiny_artifact), "--data", str(data), "--h", "5", "--n-windows", "2",
                   "--level", "80", "--num-samples", "30", "--seed", "2", "--out", str(out)])
    assert status == 0
    scores = json.loads(capsys.readouterr().out)
    reply = httpx.post(f"{live_server.url}/v1/forecast/backtest?h=5&n_windows=2&level=80&num_samples=30&seed=2",
                       content=data.read_bytes(), headers={"Content-Type": PARQUET, "Accept": "application/json"}, timeout=120)
    assert reply.status_code == 200, reply.text
    served = reply.json()
    assert scores["overall"] == served["metrics"]["overall"]
    offline = pq.read_table(out)
    assert offline.num_rows == 4 * 2 * 5
    for column in ("mean", "hi-80"):  # float32 written as the shortest text that reads back the same
        assert np.array_equal(offline[column].to_numpy(), np.array([r[column] for r in served["rows"]], np.float32))


def test_bad_data_exits_2(tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("unique_id,ds,y\na,2024-01-01,1\n")
    assert main(["backtest", str(tiny_artifact), "--data", str(data), "--h", "5"]) == 2
    assert "rnncast backtest:" in capsys.readouterr().err
