"""The model-file format shared by training and serving.

An artifact is one TorchScript file, ``model.pt``, whose ``forward(x)`` maps raw
values shaped ``(batch, window)`` to raw-scale next values, with a JSON extra file
``metadata.json`` inside it and the file's sha256 recorded beside it in
``model.pt.sha256``. This module owns those names and is the only code that
reads or writes them. It imports torch and the standard library only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

FORMAT_VERSION = 1
MODEL_FILE = "model.pt"
CHECKSUM_FILE = MODEL_FILE + ".sha256"
METADATA_ENTRY = "metadata.json"

Layout = Literal["features", "sequence"]
NormKind = Literal["none", "standard", "last_value", "window"]
CalibrationUnit = Literal["raw", "window_scale"]


class ArtifactError(Exception):
    """An artifact is missing, corrupt, tampered with or of an unknown format."""


@dataclass(frozen=True)
class Normalization:
    """How the scripted module scales its input; stored for humans and tools.

    ``standard``: z = (x - shift) / scale with training constants.
    ``last_value``: z = (x - x[-1]) / scale, each window relative to its own last value,
    so a trending series stays inside the range the network saw in training.
    ``window``: each window by its own anchor forecast and mean absolute (seasonal)
    difference, after logarithms when the model works in log space; no constants.
    """

    kind: NormKind = "none"
    shift: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class Calibration:
    """One-step residuals (actual - predicted) on data the network did not train on.

    ``unit`` says what a residual is measured in: ``raw``, the series' own units; or
    ``window_scale``, units of the module's exported ``noise_scale(x)`` (each window's
    own scale), so that one model's intervals fit series of any level.
    """

    source: str
    count: int
    residuals: list[float]
    quantiles: dict[str, float]
    unit: CalibrationUnit = "raw"


@dataclass(frozen=True)
class ArtifactMetadata:
    """What an artifact says about itself (the embedded ``metadata.json``)."""

    name: str
    version: str
    window: int
    layout: Layout
    hidden_size: int
    normalization: Normalization
    calibration: Calibration
    training_data: dict[str, Any]
    training: dict[str, Any]
    metrics: dict[str, Any]
    torch_version: str
    created_at: str
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    period: int = 1  # the season the model uses (1 = none)

    def to_json(self) -> str:
        """Serialise to the JSON stored inside the model file."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str) -> ArtifactMetadata:
        """Parse and check metadata; ``source`` names the file in error messages."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArtifactError(f"{source}: metadata.json is not valid JSON ({exc})") from exc
        if not isinstance(raw, dict):
            raise ArtifactError(f"{source}: metadata.json must hold a JSON object")
        version = raw.get("format_version")
        if version != FORMAT_VERSION:
            raise ArtifactError(
                f"{source}: format_version is {version!r}, this rnncast reads {FORMAT_VERSION}; "
                "re-export the model with a matching rnncast"
            )
        try:
            window = raw["window"]
            if not isinstance(window, int) or window < 1:
                raise ArtifactError(f"{source}: metadata field 'window' must be a positive int")
            if raw["layout"] not in ("features", "sequence"):
                raise ArtifactError(f"{source}: metadata field 'layout' is {raw['layout']!r}")
            return cls(
                **{
                    **raw,
                    "normalization": Normalization(**raw["normalization"]),
                    "calibration": Calibration(**raw["calibration"]),
                }
            )
        except KeyError as exc:
            raise ArtifactError(f"{source}: metadata is missing field {exc.args[0]!r}") from exc
        except TypeError as exc:
            raise ArtifactError(f"{source}: metadata has an unexpected shape ({exc})") from exc


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_artifact(module: torch.jit.ScriptModule, metadata: ArtifactMetadata, out_dir: Path) -> Path:
    """Write ``model.pt`` with embedded metadata and its checksum into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / MODEL_FILE
    torch.jit.save(module, str(path), _extra_files={METADATA_ENTRY: metadata.to_json()})
    (out_dir / CHECKSUM_FILE).write_text(f"{sha256_of(path)}  {MODEL_FILE}\n")
    return path


def verify_checksum(path: Path) -> str:
    """Return the file's sha256 if it matches the recorded one, else raise ArtifactError."""
    if not path.is_file():
        raise ArtifactError(f"{path}: no such model file")
    recorded_path = path.with_name(path.name + ".sha256")
    if not recorded_path.is_file():
        raise ArtifactError(f"{path}: checksum file {recorded_path.name} is missing")
    recorded = recorded_path.read_text().split()
    actual = sha256_of(path)
    if not recorded or recorded[0].lower() != actual:
        raise ArtifactError(
            f"{path}: sha256 {actual} does not match {recorded_path.name}; "
            "the file was changed after export"
        )
    return actual


def _load(path: Path, map_location: str | torch.device) -> tuple[torch.jit.ScriptModule, ArtifactMetadata]:
    files = {METADATA_ENTRY: ""}
    try:
        module = torch.jit.load(  # type: ignore[no-untyped-call]
            str(path), map_location=map_location, _extra_files=files
        )
    except (RuntimeError, ValueError, OSError) as exc:
        raise ArtifactError(f"{path}: not a loadable TorchScript file ({exc})") from exc
    if not files[METADATA_ENTRY]:
        raise ArtifactError(f"{path}: has no embedded {METADATA_ENTRY}")
    return module, ArtifactMetadata.from_json(files[METADATA_ENTRY], str(path))


def read_metadata(path: Path) -> ArtifactMetadata:
    """Read the embedded metadata without verifying the checksum (for inspection)."""
    return _load(path, "cpu")[1]


@dataclass(frozen=True)
class LoadedArtifact:
    """A verified artifact: the scripted module on its device, its metadata and sha256."""

    module: torch.jit.ScriptModule
    metadata: ArtifactMetadata
    sha256: str
    path: Path


def load_artifact(path: Path, map_location: str | torch.device = "cpu") -> LoadedArtifact:
    """Verify the checksum and format, then load the module onto ``map_location``."""
    sha = verify_checksum(path)
    module, metadata = _load(path, map_location)
    if metadata.calibration.unit == "window_scale" and not hasattr(module, "noise_scale"):
        raise ArtifactError(
            f"{path}: calibration residuals are in window_scale units, but the module exports "
            "no noise_scale(x) method to scale them by"
        )
    module.eval()
    return LoadedArtifact(module=module, metadata=metadata, sha256=sha, path=path)
