"""deploy/spark/submit.sh for real: spark-submit (PySpark's own) on local[2] runs
``rnncast batch --engine spark`` with the artifact shipped as --files, and the
forecasts are the engine's to the bit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from app.batch.engine import BatchForecaster, BatchSpec
from app.runtime.intervals import IntervalSpec
from tests.batch.rows import rows
from tests.deploy.tools import REPO, clean_environ

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(600)]

SORT = [("unique_id", "ascending"), ("ds", "ascending")]


def test_spark_submit_forecasts_with_the_engines_numbers(tiny_artifact: Path, tmp_path: Path) -> None:
    table = rows(40, length=100)
    pq.write_table(table, tmp_path / "rows.parquet")
    env = clean_environ() | {
        "SPARK_MASTER": "local[2]", "MODEL_DIR": str(tiny_artifact.parent), "PYTHON": sys.executable,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("PYSPARK_PYTHON", None)
    # The script's --horizon 24 and paths of 100 samples, overridden by the later options.
    result = subprocess.run(
        ["bash", str(REPO / "deploy" / "spark" / "submit.sh"), str(tmp_path / "rows.parquet"), str(tmp_path / "out"),
         "--horizon", "5", "--num-samples", "20", "--seed", "3"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    got = pq.read_table(tmp_path / "out").sort_by(SORT)
    spec = BatchSpec(tiny_artifact, 5, intervals=IntervalSpec("paths", (80.0, 95.0), (), 20), seed=3)
    expected = BatchForecaster(spec)(table).sort_by(SORT)
    assert got.num_rows == 40 * 5
    assert got.equals(expected.cast(got.schema))
