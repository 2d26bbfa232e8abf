"""The exported artifact: scripted == eager, self-contained, tamper-evident."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from app.artifact import (
    FORMAT_VERSION,
    ArtifactError,
    Normalization,
    load_artifact,
    read_metadata,
    verify_checksum,
)
from app.training.export import script_and_check
from app.training.network import ScaledForecaster, SimpleRNN

NORMS = [
    Normalization("none", 0.0, 1.0),
    Normalization("standard", 1.0, 0.6),
    Normalization("last_value", 0.0, 0.4),
]


@pytest.mark.parametrize("layout", ["features", "sequence"])
@pytest.mark.parametrize("norm", NORMS, ids=lambda n: n.kind)
def test_scripted_module_equals_eager(layout: str, norm: Normalization) -> None:
    torch.manual_seed(0)
    window = 6
    net = SimpleRNN(window if layout == "features" else 1, 16)
    model = ScaledForecaster(net, layout, norm)  # type: ignore[arg-type]
    scripted = script_and_check(model, window, seed=1)
    x = torch.randn(33, window) * 3 + 2
    with torch.inference_mode():
        eager, script = model(x), scripted(x)
    assert script.shape == (33,)
    assert float((eager - script).abs().max()) <= 1e-6


def test_artifact_works_without_importing_app(tiny_artifact: Path) -> None:
    """Plain torch in a fresh interpreter: load, read metadata, forecast raw values."""
    code = f"""
import json, sys, torch
files = {{"metadata.json": ""}}
m = torch.jit.load({str(tiny_artifact)!r}, _extra_files=files)
meta = json.loads(files["metadata.json"])
x = torch.linspace(0.0, 2.0, meta["window"]).repeat(3, 1)
y = m(x)
assert not any(name == "app" or name.startswith("app.") for name in sys.modules), "app was imported"
print(json.dumps({{"shape": list(y.shape), "value": float(y[0]), "window": meta["window"]}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    out = json.loads(result.stdout)
    assert out["shape"] == [3]
    assert out["window"] == read_metadata(tiny_artifact).window
    # Raw-scale output: near the synthetic series' range, not standardised units.
    assert 0.0 < out["value"] < 3.0


def test_metadata_describes_the_model(tiny_artifact: Path) -> None:
    meta = read_metadata(tiny_artifact)
    assert meta.format_version == FORMAT_VERSION
    assert (meta.name, meta.version, meta.window, meta.layout) == ("default", "1", 100, "features")
    assert meta.normalization.kind == "standard"
    assert meta.training_data["source"] == "synthetic"
    assert {"mae", "rmse", "mse"} <= meta.metrics["test"].keys()
    assert meta.calibration.source == "validation split" and len(meta.calibration.residuals) > 100
    assert meta.torch_version == torch.__version__ and meta.created_at
    assert meta.training["preset"]["hidden_size"] == meta.hidden_size


def test_tampered_file_is_refused(tiny_artifact: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model.pt"
    data = bytearray(tiny_artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    (tmp_path / "model.pt.sha256").write_text(tiny_artifact.with_name("model.pt.sha256").read_text())
    with pytest.raises(ArtifactError, match="does not match model.pt.sha256"):
        load_artifact(copy)


def test_missing_checksum_is_refused(tiny_artifact: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model.pt"
    copy.write_bytes(tiny_artifact.read_bytes())
    with pytest.raises(ArtifactError, match="checksum file model.pt.sha256 is missing"):
        verify_checksum(copy)


def test_unknown_format_version_is_refused(tiny_artifact: Path, tmp_path: Path) -> None:
    from app.artifact import save_artifact

    meta = read_metadata(tiny_artifact)
    module = torch.jit.load(str(tiny_artifact))
    newer = meta.__class__(**{**meta.__dict__, "format_version": FORMAT_VERSION + 1})
    path = save_artifact(module, newer, tmp_path)
    with pytest.raises(ArtifactError, match=f"format_version is {FORMAT_VERSION + 1}"):
        load_artifact(path)


def test_non_torchscript_file_is_refused(tmp_path: Path) -> None:
    from app.artifact import sha256_of

    path = tmp_path / "model.pt"
    path.write_bytes(b"not a model")
    (tmp_path / "model.pt.sha256").write_text(sha256_of(path))
    with pytest.raises(ArtifactError, match="not a loadable TorchScript file"):
        load_artifact(path)


def test_window_scale_residuals_need_the_noise_scale_method(tiny_artifact: Path, tmp_path: Path) -> None:
    import dataclasses

    from app.artifact import save_artifact

    meta = read_metadata(tiny_artifact)
    scaled = dataclasses.replace(meta, calibration=dataclasses.replace(meta.calibration, unit="window_scale"))
    path = save_artifact(torch.jit.load(str(tiny_artifact)), scaled, tmp_path)
    with pytest.raises(ArtifactError, match="exports no noise_scale"):
        load_artifact(path)
