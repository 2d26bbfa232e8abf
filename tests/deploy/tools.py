"""What the deployment tests share: the repository root, external tools, settings names."""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from pathlib import Path

from app.config import Settings

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
INSTALL_HINT = "run scripts/install-tools.sh (installs Debian's prometheus package)"


def find_tool(name: str) -> str | None:
    """``name`` from this virtual environment's bin directory, else from PATH."""
    return shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)


def settings_env_names() -> set[str]:
    """Every ``RNNCAST_*`` variable the server reads (one per Settings field)."""
    return {f"RNNCAST_{name.upper()}" for name in Settings.model_fields}


def settings_from_env(env: dict[str, str]) -> Settings:
    """Settings from exactly these ``RNNCAST_*`` values (not this process's environment
    or a .env file), validated as the server validates them."""
    values = {
        k.removeprefix("RNNCAST_").lower(): v for k, v in env.items() if k.startswith("RNNCAST_")
    }
    return Settings.model_validate(values)


def drain_budget(env: dict[str, str]) -> float:
    """Seconds a server with these settings may take after SIGTERM: drain + graceful timeout."""
    settings = settings_from_env(env)
    return settings.drain_seconds + settings.graceful_timeout_s


def project_version() -> str:
    """The package version from pyproject.toml (the image tag the manifests use)."""
    with (REPO / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def clean_environ() -> dict[str, str]:
    """This process's environment without any setting that would leak into a server."""
    return {
        k: v for k, v in os.environ.items()
        if not k.startswith(("RNNCAST_", "HADOLINT_")) and k != "PROMETHEUS_MULTIPROC_DIR"
    }
