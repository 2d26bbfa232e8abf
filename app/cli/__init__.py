"""``rnncast``: one module per command, each adding its own sub-parser.

Arguments are parsed inside :func:`main`; each command imports what it needs when it
runs, so ``rnncast serve`` never loads pandas or matplotlib, and its supervisor
process (with ``--workers N``) never loads torch.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from app.cli import inspect, predict, score, serve, sign, train

COMMANDS = (train, serve, inspect, predict, sign, score)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnncast", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rnncast`` command."""
    args = _parser().parse_args(argv)
    status: int = args.run(args)
    return status
