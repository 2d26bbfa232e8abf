"""``rnncast train`` and ``predict`` as a user runs them (in process: ``main`` is the
console script's entry point, and capsys reads what the user would see)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main


def rnncast(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    ("csv", "args", "message"),
    [
        ("y\n1\n2\n", ["--column", "x"], "no column 'x'"),
        ("y\n1\nfoo\n", ["--column", "y"], "non-numeric value 'foo' at row 3"),
        ("y\n1\nn/a\n3\n", ["--column", "y"], "non-numeric value 'n/a' at row 3"),
        ("y\n1\n\n3\n", ["--column", "y", "--fill", "none"], "gap (empty value) at row 3"),
        ("y\n" + "1\n" * 20, ["--column", "y"], "the series has 20 rows;"),
        ("y\n" + "1\n" * 20, ["--column", "y", "--preset", "plain"], "a window of 100 needs at least 101"),
        ("y\n1\n", [], "--column is required"),
    ],
)
def test_bad_csv_stops_with_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], csv: str, args: list[str], message: str
) -> None:
    path = tmp_path / "data.csv"
    path.write_text(csv)
    status, _, err = rnncast(capsys, "train", "--data", str(path), *args, "--out", str(tmp_path / "out"), "--quiet")
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_predict_offline_from_values_and_csv(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = [round(1 + 0.5 * (i % 7) / 7, 3) for i in range(120)]
    status, by_values, err = rnncast(
        capsys, "predict", str(tiny_artifact), "--values", ",".join(map(str, values)), "--horizon", "4")
    assert status == 0, err
    out = json.loads(by_values)
    assert len(out["rolling"]) == 4 and out["next"] == out["rolling"][0]

    csv = tmp_path / "v.csv"
    csv.write_text("t,v\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    _, by_csv, _ = rnncast(capsys, "predict", str(tiny_artifact), "--csv", str(csv), "--column", "v", "--horizon", "4")
    assert json.loads(by_csv) == out

    status, _, err = rnncast(capsys, "predict", str(tiny_artifact), "--values", "1,2,3")
    assert status == 2 and "needs at least 100" in err

    csv.write_text("t,v\n0,1.5\n1,n/a\n")
    status, _, err = rnncast(capsys, "predict", str(tiny_artifact), "--csv", str(csv), "--column", "v")
    assert (status, err) == (2, f"rnncast predict: {csv}: column 'v' has a non-number 'n/a' at row 3\n")
