"""The ``rnncast`` command: one module per command, each adding its own sub-parser.

Arguments are parsed inside :func:`main`; each command imports what it needs when it
runs, so ``rnncast serve`` never loads pandas or matplotlib, and its supervisor
process (with ``--workers N``) never loads torch. A command whose optional
dependencies are missing stops with the install command, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from app.cli import backtest, batch, inspect, predict, score, serve, sign, train
from app.version import DISTRIBUTION, package_version

COMMANDS = (train, serve, inspect, predict, sign, score, backtest, batch)
# Where a source checkout would hold this package (`app/cli/` two levels down).
CHECKOUT = Path(__file__).resolve().parents[2]
DESCRIPTION = ("Train small recurrent forecasters, export them as TorchScript files and serve "
               "forecasts over HTTP. `rnncast COMMAND --help` lists a command's options.")


class _HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default, when it has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if action.default in (None, [], argparse.SUPPRESS) or action.default is False or "%(default)" in help_text:
            return help_text
        return f"{help_text} (default: %(default)s)".lstrip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnncast", description=DESCRIPTION, formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    for sub in commands.choices.values():
        sub.formatter_class = _HelpFormatter
    return parser


def _extra_providing(module: str) -> str | None:
    """The package extra that lists the distribution named like ``module``, if any."""
    wanted = module.split(".")[0].lower().replace("-", "_")
    for requirement in metadata.requires(DISTRIBUTION) or []:
        match = re.match(r"^\s*([A-Za-z0-9._-]+).*extra\s*==\s*['\"]([\w-]+)['\"]", requirement)
        if match and re.sub(r"[-.]+", "_", match.group(1)).lower() == wanted:
            return match.group(2)
    return None


def _install_command(extra: str) -> str:
    """How to install ``extra`` into this environment: with the checkout's pins when
    rnncast runs from a source checkout (``make`` installs it editable), else from PyPI."""
    python = Path(sys.executable)
    if python.is_relative_to(Path.cwd()):
        python = python.relative_to(Path.cwd())
    if not (CHECKOUT / "constraints.txt").is_file():
        return f"{python} -m pip install '{DISTRIBUTION}[{extra}]'"
    command = f"{python} -m pip install -c constraints.txt -e '.[{extra}]'"
    return command if CHECKOUT == Path.cwd() else f"cd {CHECKOUT} && {command}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rnncast`` command."""
    args = _parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except BrokenPipeError:
        # The reader of our output left (`rnncast inspect ... --json | head`): not our error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except ModuleNotFoundError as exc:
        extra = _extra_providing(exc.name or "")
        if extra is None:
            raise
        print(f"rnncast {args.command} needs the '{extra}' extra ({exc.name} is not installed): "
              f"{_install_command(extra)}", file=sys.stderr)
        return 2
    return status
