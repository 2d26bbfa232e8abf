"""``rnncast inspect``: a screenful by default, everything with --json, exit 1 on a bad file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.artifact import read_metadata, sha256_of
from app.cli import main


def _inspect(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["inspect", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_summary_fits_a_screen_and_starts_with_the_verdict(
    tiny_artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _inspect(capsys, str(tiny_artifact))
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) <= 15 and max(map(len, lines)) < 200
    assert lines[:2] == [f"file         {tiny_artifact}", f"checksum     ok (sha256 {sha256_of(tiny_artifact)})"]
    window = read_metadata(tiny_artifact).window
    assert f"input        the last {window} values" in out
    assert f"rnncast inspect {tiny_artifact} --json" in out


def test_json_holds_the_verdict_and_all_metadata(tiny_artifact: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _inspect(capsys, str(tiny_artifact), "--json")
    report = json.loads(out)
    assert status == 0 and (report["checksum"], report["error"]) == ("ok", None)
    metadata = read_metadata(tiny_artifact)
    assert report["metadata"]["calibration"]["residuals"] == metadata.calibration.residuals
    assert report["metadata"]["window"] == metadata.window


def test_a_tampered_file_fails_with_the_reason(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "sales" / "model.pt"
    copy.parent.mkdir()
    copy.write_bytes(tiny_artifact.read_bytes() + b"x")
    shutil.copy(tiny_artifact.with_name("model.pt.sha256"), copy.with_name("model.pt.sha256"))
    status, out, _ = _inspect(capsys, str(copy))
    assert status == 1
    assert f"checksum     MISMATCH: {copy}: sha256 {sha256_of(copy)} does not match model.pt.sha256" in out
    # Trained as "default" but lying in sales/: the summary says which name the server uses.
    assert "name         default (`rnncast serve` serves it as 'sales', its directory's name), version 1" in out
    status, out, _ = _inspect(capsys, str(copy), "--json")
    assert status == 1 and json.loads(out)["checksum"] == "mismatch"


def test_an_unreadable_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model.pt").write_bytes(b"not torchscript")
    status, out, err = _inspect(capsys, str(tmp_path / "model.pt"))
    assert (status, out) == (1, "")
    assert err.startswith(f"rnncast inspect: {tmp_path / 'model.pt'}: not a loadable TorchScript file")
    assert len(err.strip().splitlines()) == 1
