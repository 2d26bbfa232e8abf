"""``rnncast inspect``: print an artifact's metadata and verify its checksum."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``inspect``."""
    inspect = commands.add_parser("inspect", help="print an artifact's metadata and verify it")
    inspect.add_argument("file", type=Path)
    inspect.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Metadata on stdout, the checksum verdict on stderr; exit 1 on a bad file."""
    from app.artifact import ArtifactError, read_metadata, verify_checksum

    try:
        metadata = read_metadata(args.file)
    except ArtifactError as exc:
        print(f"rnncast inspect: {exc}", file=sys.stderr)
        return 1
    print(metadata.to_json())
    try:
        sha = verify_checksum(args.file)
    except ArtifactError as exc:
        print(f"checksum: MISMATCH - {exc}", file=sys.stderr)
        return 1
    print(f"checksum: ok ({sha})", file=sys.stderr)
    return 0
