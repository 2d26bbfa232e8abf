"""What the README shows works as written: the quick start pasted whole, the data-frame
examples against the shipped model, every `make` target and `rnncast` command it names,
and every setting with its real default."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pandas as pd

from app.cli import COMMANDS
from app.config import Settings
from tests.deploy.tools import REPO, clean_environ
from tests.server import free_port, run_server

README = (REPO / "README.md").read_text()


def test_every_setting_is_documented_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(RNNCAST_[A-Z_]+)` \| `([^`]*)` \|", README, flags=re.M))
    for name, field in Settings.model_fields.items():
        variable = f"RNNCAST_{name.upper()}"
        assert variable in rows, f"{variable} is missing from the README's configuration table"
        default = "" if field.default_factory is not None else str(field.default)
        assert rows[variable] == default, f"{variable}: README says {rows[variable]!r}, code says {default!r}"
    assert len(rows) == len(Settings.model_fields)


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "serve"], ["make", "test"]]
    ci = (REPO / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if line.startswith("make ")]
    assert commands[0] == "make test", "CI runs the README's test command first (then the tiers)"


def _quick_start() -> str:
    section = README.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_quick_start_works_when_pasted_whole(tmp_path: Path) -> None:
    """Two substitutions only: a free port instead of 8000 (through RNNCAST_PORT, as
    `make serve` reads it) and the log file's place; make is told the environment it
    would set up is there already (`make test` made it)."""
    assert shutil.which("curl"), "the quick start needs curl"
    port, log = free_port(), tmp_path / "serve.log"
    script = _quick_start().replace("localhost:8000", f"localhost:{port}").replace("serve.log", str(log))
    env = {**clean_environ(), "RNNCAST_PORT": str(port), "MAKEFLAGS": "-o .venv/.serve"}
    shell = subprocess.Popen(["bash", "-c", script], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = shell.communicate(timeout=120)
    finally:
        os.killpg(shell.pid, signal.SIGTERM)  # make and the server it started
    answer = json.loads(out)
    assert answer["model"] == {"name": "default", "version": answer["model"]["version"]}
    assert [f["id"] for f in answer["forecasts"]] == ["a"] and 0 < answer["forecasts"][0]["value"] < 3
    assert err == ""
    assert '"msg":"Application startup complete."' in log.read_text()


def test_every_command_the_readme_shows_exists() -> None:
    """`make X` in the README names a Makefile target, `rnncast X` a command."""
    targets = set(re.findall(r"^([a-z][\w-]*):", (REPO / "Makefile").read_text(), re.M))
    assert set(re.findall(r"\bmake ([a-z][\w-]*)", README)) <= targets
    commands = {module.__name__.rsplit(".", 1)[1] for module in COMMANDS}
    assert set(re.findall(r"(?:bin/|`)rnncast ([a-z]+)", README)) <= commands


def _blocks(section: str, language: str) -> list[str]:
    return [block.split("```", 1)[0] for block in section.split(f"```{language}\n")[1:]]


def test_frame_examples_run_against_the_shipped_model(tmp_path: Path) -> None:
    """The data-frame section's client lines and every curl of it, run as written against
    `rnncast serve` of models/ (the shipped model) on a free port, from a folder that
    sees the repository's docs/ and .venv/. One change: `curl -sf -w '\\n'`, so that a
    refusal (4xx) stops the script instead of printing a problem, and each answer ends
    its line."""
    section = README.split("\n### Data frames: rows in, rows out\n", 1)[1].split("\n#### ", 1)[0]
    for name in ("docs", ".venv"):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / "server").mkdir()
    with run_server(REPO / "models", tmp_path / "server") as server:
        [client_lines] = _blocks(section, "python")
        client_lines = client_lines.replace("http://127.0.0.1:8000", server.url)
        shown = "print(forecasts.groupby('unique_id').size().to_dict(), forecasts.columns.tolist())"
        python = subprocess.run([".venv/bin/python", "-c", client_lines + shown], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert python.returncode == 0, python.stderr
        assert python.stdout.strip() == ("{'a': 24, 'b': 24} ['unique_id', 'ds', 'mean', 'lo-80', 'hi-80', "
                                         "'lo-95', 'hi-95']")
        commands = "\n".join(_blocks(section, "sh")).replace("curl -s ", "curl -sf -w '\\n' ")
        script = "set -euo pipefail\n" + commands.replace("localhost:8000", f"127.0.0.1:{server.port}")
        shell = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert shell.returncode == 0, shell.stderr
    round_trip = pd.read_csv(tmp_path / "forecasts.csv")
    assert len(round_trip) == 48 and (round_trip["lo-95"] < round_trip["mean"]).all()
    assert pd.read_parquet(tmp_path / "forecasts.parquet").groupby("unique_id").size().to_dict() == {"a": 24, "b": 24}
    answers = [json.loads(line) for line in shell.stdout.splitlines() if line.startswith("{")]
    rows_json, csv_json, backtest, limits = answers
    assert rows_json == csv_json and rows_json["filled"] == [
        {"unique_id": "b", "missing_timestamps": 1, "missing_values": 1, "dropped_leading": 0}]
    assert backtest["metrics"]["overall"]["points"] == 28 and limits["max_series"] > 0
    assert '"unique_id","ds","y","mean","lo-95","hi-95","anomaly"' in shell.stdout.splitlines()
