"""Fixture chain: settings -> tiny artifacts -> app -> client, and a live server."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.factories import train_artifact
from tests.server import ServerProcess, run_server

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory with one small plain-preset model named ``default``
    (window 100, trained on 4,000 synthetic points), independent of models/."""
    root = tmp_path_factory.mktemp("models")
    train_artifact(root / "default", epochs=8)
    return root


@pytest.fixture(scope="session")
def tiny_artifact(model_dir: Path) -> Path:
    """The path of that small model's model.pt."""
    return model_dir / "default" / "model.pt"


@pytest.fixture
def model_copy(model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the model directory that a test may damage."""
    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    return copy


@pytest.fixture
def settings(model_dir: Path) -> Settings:
    """Settings for in-process apps, pointed at the small model."""
    return Settings(model_dir=model_dir, device="cpu", drain_seconds=0, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """An in-process client whose lifespan has loaded the models."""
    with TestClient(create_app(settings)) as test_client:
        for _ in range(600):
            if test_client.get("/health/ready").status_code == 200:
                break
            time.sleep(0.05)
        yield test_client


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[ServerProcess]:
    """A real ``rnncast serve`` on 127.0.0.1, shared by a test module."""
    with run_server(model_dir, tmp_path_factory.mktemp("server")) as server:
        yield server
