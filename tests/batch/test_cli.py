"""``rnncast batch`` end to end, in this process: chunked and parallel output equal to
the engine on the whole input, resuming, and every refusal with its exit status."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from app.batch import chunks
from app.batch.engine import BatchForecaster, BatchSpec
from app.cli import batch as batch_command
from app.cli import main
from app.runtime.intervals import IntervalSpec
from tests.batch.rows import rows

SORT = [("unique_id", "ascending"), ("ds", "ascending")]
OPTIONS = ["--horizon", "5", "--level", "80,95", "--quantiles", "0.1,0.9", "--num-samples", "20", "--seed", "3"]


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of two Parquet files of whole series: 6 in the first, 5 in the second."""
    root = tmp_path_factory.mktemp("input")
    table = rows(11)
    first = pc.is_in(table["unique_id"], pa.array([f"store-{s}" for s in range(6)]))
    pq.write_table(table.filter(first), root / "a.parquet")
    pq.write_table(table.filter(pc.invert(first)), root / "b.parquet")
    return root


def expected(model: Path) -> pa.Table:
    spec = BatchSpec(model, 5, intervals=IntervalSpec("paths", (80.0, 95.0), (0.1, 0.9), 20), seed=3)
    return BatchForecaster(spec)(rows(11)).sort_by(SORT)


def batch(model: Path, source: Path, out: Path, *extra: str) -> int:
    return main(["batch", "--model", str(model), "--input", str(source), "--output", str(out), *OPTIONS,
                 "--no-progress", *extra])


def read_parts(out: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("*.parquet"))).sort_by(SORT)


def test_two_workers_and_small_chunks_give_the_engines_answer(parts: Path, tiny_artifact: Path,
                                                              tmp_path: Path) -> None:
    assert batch(tiny_artifact.parent, parts, tmp_path / "out", "--chunk-series", "4", "--workers", "2") == 0
    names = sorted(p.name for p in (tmp_path / "out").glob("*.parquet"))
    assert names == ["a-00000.parquet", "a-00001.parquet", "b-00000.parquet", "b-00001.parquet"]
    assert read_parts(tmp_path / "out").equals(expected(tiny_artifact))


def test_a_rerun_redoes_only_the_missing_parts(parts: Path, tiny_artifact: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert batch(tiny_artifact, parts, out, "--chunk-series", "4", "--workers", "1") == 0
    kept = (out / "a-00000.parquet").stat().st_mtime_ns
    (out / "b-00001.parquet").unlink()
    (out / ".a-00001.parquet.tmp").write_bytes(b"a part cut short")  # never renamed: not finished
    (out / "a-00001.parquet").rename(out / ".a-00001.parquet.tmp")
    capsys.readouterr()
    assert batch(tiny_artifact, parts, out, "--chunk-series", "4", "--workers", "1") == 0
    assert "3 series forecast into 2 parts (2 parts already done)" in capsys.readouterr().err
    assert (out / "a-00000.parquet").stat().st_mtime_ns == kept
    assert read_parts(out).equals(expected(tiny_artifact))


def test_a_rerun_with_other_options_is_refused(parts: Path, tiny_artifact: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert batch(tiny_artifact, parts, tmp_path / "out", "--workers", "1") == 0
    assert batch(tiny_artifact, parts, tmp_path / "out", "--workers", "1", "--seed", "4") == 2
    assert "holds parts of a job with other options, model or inputs" in capsys.readouterr().err


def test_csv_in_and_one_csv_file_out(tiny_artifact: Path, tmp_path: Path) -> None:
    source, out = tmp_path / "rows.csv", tmp_path / "forecasts.csv"
    table = rows(11)
    pa_csv.write_csv(table.set_column(1, "ds", pc.strftime(table["ds"], "%Y-%m-%d")), source)
    assert batch(tiny_artifact, source, out, "--chunk-series", "3", "--workers", "1") == 0
    assert not (tmp_path / "forecasts.csv.parts").exists()
    want = expected(tiny_artifact)
    want = want.set_column(1, "ds", pc.strftime(want["ds"], "%Y-%m-%d"))  # dates as the server's CSV writes them
    types = pa_csv.ConvertOptions(column_types=dict(zip(want.column_names, want.schema.types, strict=True)))
    assert pa_csv.read_csv(out, convert_options=types).sort_by(SORT).equals(want)


def test_series_cut_by_batches_are_joined_again(monkeypatch: pytest.MonkeyPatch, parts: Path) -> None:
    monkeypatch.setattr(chunks, "BATCH_ROWS", 7)  # every series spans many reading batches
    got = list(chunks.chunks(chunks.input_files(parts), chunks.Columns(), 4))
    assert [(c.name, c.series) for c in got] == [("a-00000", 4), ("a-00001", 2), ("b-00000", 4), ("b-00001", 1)]
    assert pa.concat_tables(c.rows for c in got).equals(pa.concat_tables(
        [pq.read_table(parts / "a.parquet"), pq.read_table(parts / "b.parquet")]))


def test_rows_of_a_series_apart_are_refused(tiny_artifact: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    table = rows(3)
    shuffled = pa.concat_tables([table.slice(0, 10), table.slice(200), table.slice(10, 190)])
    pq.write_table(shuffled, tmp_path / "rows.parquet")
    assert batch(tiny_artifact, tmp_path / "rows.parquet", tmp_path / "out", "--workers", "1") == 2
    assert "the rows of series 'store-0' are not together" in capsys.readouterr().err


def test_a_tampered_model_is_refused_before_the_input_is_read(model_copy: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    with (model_copy / "default" / "model.pt").open("ab") as model:
        model.write(b"\0")
    assert batch(model_copy / "default", tmp_path / "no-such-input", tmp_path / "out") == 3
    err = capsys.readouterr().err
    assert "model refused" in err and "does not match" in err and "no-such-input" not in err
    assert batch(model_copy / "default", tmp_path, tmp_path / "out", "--sha256", "00") == 3


def test_bad_options_and_inputs_exit_2(parts: Path, tiny_artifact: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        batch(tiny_artifact, parts, tmp_path / "out", "--level", "120")
    assert stop.value.code == 2 and "120 is not between 0 and 100" in capsys.readouterr().err
    assert batch(tiny_artifact, tmp_path / "missing", tmp_path / "out") == 2
    assert "missing: no such file or directory" in capsys.readouterr().err
    shutil.copy(parts / "a.parquet", tmp_path / "x.parquet")
    (tmp_path / "y.csv").write_text("unique_id,ds,y\n")
    assert batch(tiny_artifact, tmp_path, tmp_path / "out2") == 2
    assert "holds both .parquet and .csv files" in capsys.readouterr().err
    assert batch(tiny_artifact, parts, tmp_path / "out3", "--id-col", "store") == 2
    assert "no column 'store'" in capsys.readouterr().err


def test_without_tqdm_progress_is_a_plain_line(monkeypatch: pytest.MonkeyPatch, parts: Path, tiny_artifact: Path,
                                               tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if the train extra were not installed
    monkeypatch.setattr(batch_command, "PLAIN_EVERY_S", 0.0)
    argv = ["batch", "--model", str(tiny_artifact), "--input", str(parts), "--output", str(tmp_path / "out"),
            "--horizon", "2", "--workers", "1"]
    assert main(argv) == 0
    lines = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"rnncast batch: 6 series, [\d.,]+ series/s", lines[0])
    assert lines[-1].startswith("rnncast batch: 11 series forecast into 2 parts")


def test_sorted_ids_are_checked_without_keeping_them() -> None:
    taken = chunks._Taken()
    assert all(taken.take(f"s{i:05d}", lambda: pytest.fail("sorted ids need no recall")) for i in range(1000))
    assert taken.all is None


def test_unsorted_input_is_checked_against_every_id_before(tmp_path: Path) -> None:
    table = rows(4)
    by_id = {name: table.filter(pc.equal(table["unique_id"], name)) for name in ("store-0", "store-1", "store-2")}
    # z-a order across two files: the first id out of order recalls the ids before it
    pq.write_table(pa.concat_tables([by_id["store-2"], by_id["store-0"]]), tmp_path / "a.parquet")
    pq.write_table(by_id["store-1"], tmp_path / "b.parquet")
    got = list(chunks.chunks(chunks.input_files(tmp_path), chunks.Columns(), 10))
    assert [c.series for c in got] == [2, 1]
    pq.write_table(pa.concat_tables([by_id["store-1"], by_id["store-2"]]), tmp_path / "b.parquet")
    with pytest.raises(chunks.InvalidSeriesError, match="series 'store-2' are not together"):
        list(chunks.chunks(chunks.input_files(tmp_path), chunks.Columns(), 10))


def test_regroup_is_refused_locally(parts: Path, tiny_artifact: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert batch(tiny_artifact, parts, tmp_path / "out", "--regroup") == 2
    assert "--regroup is for --engine ray or spark" in capsys.readouterr().err
