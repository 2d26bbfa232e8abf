"""``rnncast serve`` refuses bad settings before it starts, naming the variable."""

from __future__ import annotations

import pytest

from app.cli import main


@pytest.mark.parametrize(
    ("env", "argv", "message"),
    [
        ({"RNNCAST_PORT": "abc"}, [],
         "rnncast serve: RNNCAST_PORT='abc' is invalid: Input should be a valid integer, unable to parse string as an integer\n"),
        ({}, ["--port", "70000"], "rnncast serve: RNNCAST_PORT='70000' is invalid: Input should be less than or equal to 65535\n"),
        ({"RNNCAST_DEVICE": "gpu", "RNNCAST_WORKERS": "0"}, [],
         "rnncast serve: RNNCAST_WORKERS='0' is invalid: Input should be greater than or equal to 1\n"
         "rnncast serve: RNNCAST_DEVICE='gpu' is invalid: must be auto, cpu, cuda or cuda:N\n"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    env: dict[str, str], argv: list[str], message: str,
) -> None:
    # `serve` exports its flags as RNNCAST_* variables: set first here, so that the
    # monkeypatch puts back what was there before (pytest records no deletion of an
    # absent variable).
    monkeypatch.setenv("RNNCAST_PORT", "8000")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", *argv]) == 2
    assert capsys.readouterr().err == message
