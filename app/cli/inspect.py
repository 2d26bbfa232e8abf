"""``rnncast inspect``: verify an artifact's checksum and summarise its metadata."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.artifact import ArtifactMetadata


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``inspect``."""
    inspect = commands.add_parser(
        "inspect", help="verify an artifact's checksum and summarise its metadata",
        description="Verify FILE against its recorded sha256 and summarise what it says about "
                    "itself; exit status 1 when the checksum does not match.")
    inspect.add_argument("file", type=Path, help="the model file, e.g. models/default/model.pt")
    inspect.add_argument("--json", action="store_true",
                         help="print the checksum verdict and the full metadata (calibration residuals "
                              "included) as one JSON object")
    inspect.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The summary (or JSON) on stdout; exit 1 on an unreadable file or a checksum mismatch."""
    from app.artifact import ArtifactError, read_metadata, verify_checksum

    try:
        metadata = read_metadata(args.file)
    except ArtifactError as exc:
        print(f"rnncast inspect: {exc}", file=sys.stderr)
        return 1
    try:
        sha, error = verify_checksum(args.file), None
    except ArtifactError as exc:
        sha, error = None, str(exc)
    if args.json:
        verdict = {"file": str(args.file), "checksum": "mismatch" if error else "ok", "sha256": sha,
                   "error": error, "metadata": dataclasses.asdict(metadata)}
        print(json.dumps(verdict, indent=2))
    else:
        checksum = f"MISMATCH: {error}" if error else f"ok (sha256 {sha})"
        print("\n".join(f"{key:<12} {value}" for key, value in _summary(args.file, checksum, metadata)))
    return 1 if error else 0


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{key} {_number(value)}" for key, value in values.items() if not isinstance(value, dict))


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _summary(path: Path, checksum: str, meta: ArtifactMetadata) -> list[tuple[str, str]]:
    """A screenful: what a user checks before serving a file. ``--json`` has the rest."""
    served_as = path.resolve().parent.name
    name = meta.name if meta.name == served_as else (
        f"{meta.name} (`rnncast serve` serves it as {served_as!r}, its directory's name)")
    scaling = meta.normalization
    calibration = meta.calibration
    low, high = calibration.quantiles.get("0.1"), calibration.quantiles.get("0.9")
    baselines = meta.metrics.get("baselines", {})
    lines = [
        ("file", str(path)),
        ("checksum", checksum),
        ("name", f"{name}, version {meta.version}"),
        ("input", f"the last {meta.window} values ({meta.layout} layout), hidden size {meta.hidden_size}"),
        ("scaling", f"{scaling.kind} (shift {_number(scaling.shift)}, scale {_number(scaling.scale)})"),
        ("trained on", _pairs(meta.training_data)),
        ("test", _pairs(meta.metrics.get("test", {})) or "not recorded"),
        ("baselines", "; ".join(f"{key}: {_pairs(value)}" for key, value in baselines.items()) or "none"),
        ("intervals", f"{calibration.count} one-step residuals from the {calibration.source}"
                      + (f"; 10%/90% quantiles {_number(low)} / {_number(high)}" if low is not None else "")),
        ("created", f"{meta.created_at} with torch {meta.torch_version} (format {meta.format_version})"),
        ("more", f"rnncast inspect {path} --json"),
    ]
    return lines
