"""``rnncast train``, ``inspect`` and ``predict`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def rnncast(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("csv", "args", "message"),
    [
        ("y\n1\n2\n", ["--column", "x"], "no column 'x'"),
        ("y\n1\nfoo\n", ["--column", "y"], "non-numeric value 'foo' at row 3"),
        ("y\n1\n\n3\n", ["--column", "y"], "gap"),
        ("y\n" + "1\n" * 20, ["--column", "y"], "a window of 100 needs at least 101"),
        ("y\n1\n", [], "--column is required"),
    ],
)
def test_bad_csv_stops_with_one_sentence(tmp_path: Path, csv: str, args: list[str], message: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(csv)
    result = rnncast("train", "--data", str(path), *args, "--out", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_inspect_verifies_the_checksum(tiny_artifact: Path, tmp_path: Path) -> None:
    ok = rnncast("inspect", str(tiny_artifact))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["window"] == 100
    assert "checksum: ok" in ok.stderr

    copy = tmp_path / "model.pt"
    copy.write_bytes(tiny_artifact.read_bytes() + b"x")
    (tmp_path / "model.pt.sha256").write_text(tiny_artifact.with_name("model.pt.sha256").read_text())
    bad = rnncast("inspect", str(copy))
    assert bad.returncode == 1
    assert "checksum: MISMATCH" in bad.stderr


def test_predict_offline_from_values_and_csv(tiny_artifact: Path, tmp_path: Path) -> None:
    values = [round(1 + 0.5 * (i % 7) / 7, 3) for i in range(120)]
    by_values = rnncast("predict", str(tiny_artifact), "--values", ",".join(map(str, values)), "--horizon", "4")
    assert by_values.returncode == 0, by_values.stderr
    out = json.loads(by_values.stdout)
    assert len(out["rolling"]) == 4 and out["next"] == out["rolling"][0]

    csv = tmp_path / "v.csv"
    csv.write_text("t,v\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    by_csv = rnncast("predict", str(tiny_artifact), "--csv", str(csv), "--column", "v", "--horizon", "4")
    assert json.loads(by_csv.stdout) == out

    short = rnncast("predict", str(tiny_artifact), "--values", "1,2,3")
    assert short.returncode == 2 and "needs at least 100" in short.stderr
