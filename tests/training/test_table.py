"""Reading a user's file: columns, gaps, long format, Parquet, time order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.training.data import DataError
from app.training.table import load_table


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_a_column_is_read_with_its_test_split(tmp_path: Path) -> None:
    panel = load_table(_csv(tmp_path, "t,y\n" + "".join(f"{i},{i * 0.5}\n" for i in range(10))), "y")
    (data,) = panel.series
    np.testing.assert_allclose(data.values, np.arange(10) * 0.5)
    assert data.test_start == 8
    assert data.description == {"source": "file", "file": "data.csv", "column": "y", "points": 10, "test_points": 2}


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("t,y\n1,2\n", "x", "no column 'x' (columns found: t, y)"),
        ("t,y\n1,2\n2,abc\n", "y", "non-numeric value 'abc' at row 3"),
        ("t,y\n1,2\n2,inf\n", "y", "non-finite value at row 3"),
        ("", "y", "not a readable CSV or Parquet file"),
    ],
)
def test_bad_files_are_refused_in_one_sentence(tmp_path: Path, text: str, column: str, message: str) -> None:
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_table(_csv(tmp_path, text), column)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_table(tmp_path / "absent.csv", "y")


def test_gaps_are_filled_by_the_chosen_policy(tmp_path: Path) -> None:
    path = _csv(tmp_path, "y\n\n1\n2\n\n\n5\n6\n\n")
    np.testing.assert_allclose(load_table(path, "y").series[0].values, [1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(load_table(path, "y", fill="previous").series[0].values, [1, 2, 2, 2, 5, 6])
    with pytest.raises(DataError, match=r"has a gap \(empty value\) at row 5; --fill linear fills it"):
        load_table(path, "y", fill="none")


def test_a_mostly_empty_series_is_refused_naming_its_longest_gap(tmp_path: Path) -> None:
    path = _csv(tmp_path, "y\n1\n" + "\n" * 3 + "2\n" + "\n" * 6 + "3\n")
    with pytest.raises(DataError, match=r"mostly empty \(9 of 12 values missing; the longest gap is rows 7-12 \(6 values\)\)"):
        load_table(path, "y")


def test_long_format_gives_one_series_per_id_in_time_order(tmp_path: Path) -> None:
    rows = [("b", f"2020-{m:02d}-01", 10 + m) for m in range(12, 0, -1)] + [("a", f"2020-{m:02d}-01", m) for m in range(1, 13)]
    frame = pd.DataFrame(rows, columns=["unique_id", "ds", "y"])
    path = tmp_path / "long.parquet"
    frame.to_parquet(path)
    renamed = path.rename(tmp_path / "long.data")  # told apart by content, not by name
    panel = load_table(renamed, "y", id_column="unique_id", time_column="ds", test_fraction=0.25)
    assert [s.description["id"] for s in panel.series] == ["b", "a"]
    np.testing.assert_allclose(panel.series[0].values, 11 + np.arange(12))
    assert panel.series[1].test_start == 9
    assert panel.frequency == "MS"
