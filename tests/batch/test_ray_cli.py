"""``rnncast batch --engine ray`` end to end, in its own process with its own local
Ray (``--address local``, 2 workers): the engine's numbers to the bit; and the
refusals that ``--engine ray`` and ``--engine spark`` make before either starts, and
a bad series found by their workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from app.batch.engine import BatchForecaster, BatchSpec
from app.cli import main
from app.runtime.intervals import IntervalSpec
from tests.batch.rows import rows
from tests.deploy.tools import clean_environ

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(600)]

SORT = [("unique_id", "ascending"), ("ds", "ascending")]
OPTIONS = ["--horizon", "5", "--level", "80,95", "--num-samples", "20", "--seed", "3"]


@pytest.mark.parametrize("grouping", [[], ["--regroup"]], ids=["file-by-file", "regroup"])
def test_rnncast_batch_on_ray_gives_the_engines_numbers(grouping: list[str], tiny_artifact: Path,
                                                        tmp_path: Path) -> None:
    table = rows(40, length=100)
    pq.write_table(table, tmp_path / "rows.parquet")
    command = [sys.executable, "-m", "app.cli", "batch", "--engine", "ray", "--address", "local", "--workers", "2",
               "--model", str(tiny_artifact), "--input", str(tmp_path / "rows.parquet"),
               "--output", str(tmp_path / "out"), *OPTIONS, *grouping]
    result = subprocess.run(command, env=clean_environ(), capture_output=True, text=True, timeout=540, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "forecast on ray in" in result.stderr
    spec = BatchSpec(tiny_artifact, 5, intervals=IntervalSpec("paths", (80.0, 95.0), (), 20), seed=3)
    assert pq.read_table(tmp_path / "out").sort_by(SORT).equals(BatchForecaster(spec)(table).sort_by(SORT))


@pytest.mark.parametrize("engine", ["ray", "spark"])
def test_cluster_engines_refuse_before_starting(engine: str, tiny_artifact: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    pq.write_table(rows(2), tmp_path / "rows.parquet")
    (tmp_path / "out").mkdir()
    common = ["batch", "--engine", engine, "--input", str(tmp_path / "rows.parquet"), *OPTIONS]
    assert main([*common, "--model", str(tiny_artifact), "--sha256", "0" * 64, "--output", str(tmp_path / "new")]) == 3
    assert "model refused" in capsys.readouterr().err
    assert main([*common, "--model", str(tiny_artifact), "--output", str(tmp_path / "out")]) == 2
    assert f"exists; --engine {engine} writes a new directory" in capsys.readouterr().err


@pytest.mark.parametrize("engine", ["ray", "spark"])
def test_a_bad_series_on_a_cluster_engine_exits_2_naming_it(engine: str, tiny_artifact: Path, tmp_path: Path) -> None:
    table = rows(3, length=100)
    short = table.filter(pc.equal(table["unique_id"], "store-1")).slice(0, 5)
    pq.write_table(pa.concat_tables([table.filter(pc.not_equal(table["unique_id"], "store-1")), short]),
                   tmp_path / "rows.parquet")
    where = ["--address", "local"] if engine == "ray" else ["--master", "local[2]"]
    command = [sys.executable, "-m", "app.cli", "batch", "--engine", engine, *where, "--workers", "2",
               "--model", str(tiny_artifact), "--input", str(tmp_path / "rows.parquet"),
               "--output", str(tmp_path / "out"), *OPTIONS]
    result = subprocess.run(command, env=clean_environ(), capture_output=True, text=True, timeout=540, check=False)
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("rnncast batch: series 'store-1' has 5 values"), result.stderr[-3000:]
