"""What a newcomer meets first: help, version, and a missing extra named with its fix."""

from __future__ import annotations

import argparse
import sys

import pytest

from app.cli import _parser, main
from tests.deploy.tools import project_version


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_version_is_the_packages(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out == f"rnncast {project_version()}\n"


def test_help_is_plain_text_and_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys)
    for markup in ("``", ":func:", ":class:"):
        assert markup not in text
    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert f"\n    {name} " in text


def test_every_option_says_what_it_does_and_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    commands: dict[str, argparse.ArgumentParser] = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, parser in commands.items():
        for action in parser._actions:
            assert action.help, f"rnncast {name} {action.option_strings or action.dest} has no help"
    assert "--seed SEED" in (train := _help(capsys, "train")) and "(default: 0)" in train
    assert "[RNNCAST_PORT, default: 8000]" in _help(capsys, "serve")


def test_a_missing_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    """As in an environment set up by `make serve` (no `train` extra): importing tqdm
    fails the way it does when tqdm is not installed."""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.delitem(sys.modules, "app.training.pipeline", raising=False)
    assert main(["train", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnncast train needs the 'train' extra (tqdm is not installed): ")
    assert "pip install -c constraints.txt -e '.[train]'" in err
    assert len(err.strip().splitlines()) == 1


def test_other_missing_modules_are_not_blamed_on_an_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "app.training.pipeline", None)
    with pytest.raises(ModuleNotFoundError):
        main(["train", "--out", "unused", "--quiet"])
