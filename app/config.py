"""Service settings, read from ``RNNCAST_*`` environment variables (or ``.env``)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


class Settings(BaseSettings):
    """Every knob of the server; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(
        env_prefix="RNNCAST_", env_file=".env", extra="ignore", use_attribute_docstrings=True
    )

    host: str = "127.0.0.1"
    """Address to listen on (use 0.0.0.0 in a container)."""
    port: int = Field(default=8000, ge=1, le=65535)
    """TCP port to listen on."""
    workers: int = Field(default=1, ge=1, le=64)
    """Worker processes; each loads every model. Metrics are aggregated across them."""
    model_dir: Path = Path("models")
    """Directory scanned for models: each <name>/model.pt below it is served as <name>."""
    device: str = "auto"
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    num_threads: int = Field(default=1, ge=0, le=256)
    """Torch intra-op threads per worker; 0 = the cores this process may use / workers.
    1 measures best under load on 1 and 2 CPUs per worker (bench/HOSTILE.md)."""
    max_batch_size: int = Field(default=256, ge=1, le=65536)
    """Most series rows gathered into one forward pass by the dynamic batcher."""
    max_wait_ms: float = Field(default=0.0, ge=0.0, le=1000.0)
    """Extra time the batcher waits to fill a batch; 0 = greedy (dispatch when idle)."""
    batch_on: Literal["auto", "loop", "thread"] = "auto"
    """Where one-step batches run on CPU: `loop` (no thread hand-offs), `thread` (the
    loop reads requests meanwhile), `auto` = `loop` when a worker has one CPU."""
    queue_timeout_s: float = Field(default=30.0, gt=0.0)
    """A one-step request still queued for the model after this long is answered 503."""
    request_timeout_s: float = Field(default=60.0, gt=0.0)
    """Deadline of every request from its first byte: reading its body, waiting and
    computing; past it the answer is 504 and its work stops."""
    max_heavy_jobs: int = Field(default=4, ge=1)
    """Long jobs (rolling forecasts) running or waiting at once per worker; 503 beyond."""
    max_queue_rows: int = Field(default=100_000, ge=1)
    """Rows allowed to wait for the model at once; beyond it requests get 503 at once."""
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    """Largest accepted request body in bytes (413 above it)."""
    max_series: int = Field(default=10_000, ge=1)
    """Most series in one request."""
    max_values_per_series: int = Field(default=100_000, ge=1)
    """Most values in one series."""
    max_horizon: int = Field(default=10_000, ge=1)
    """Largest rolling-forecast horizon."""
    max_num_samples: int = Field(default=1_000, ge=1)
    """Most simulated paths per series for prediction intervals."""
    max_compute_rows: int = Field(default=5_000_000, ge=1)
    """Budget per request: model rows evaluated and values returned (series x horizon x
    (1 + paths + quantile levels) + timestamps + walk-forward points)."""
    max_response_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    """Largest answer a request may ask for, estimated before compute (422 above it)."""
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    """Largest request line plus headers in bytes; larger is answered 431 and closed."""
    header_timeout_s: float = Field(default=10.0, gt=0.0)
    """A connection must send a request's complete headers within this long of opening
    or of its previous answer; otherwise it is closed (408)."""
    max_connections: int = Field(default=512, ge=1)
    """Open connections per worker; one more is answered 503 and closed at once."""
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma-separated keys for "Authorization: Bearer"; empty = no authentication."""
    trusted_keys: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    """Comma-separated PEM public keys: only models signed by one of them are loaded."""
    trusted_certificates: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    """Comma-separated PEM CA certificates: only models signed with a certificate that
    chains to one of them are loaded."""
    drain_seconds: float = Field(default=5.0, ge=0.0)
    """After SIGTERM, seconds to keep serving while readiness reports 503, before closing."""
    graceful_timeout_s: int = Field(default=20, ge=1)
    """After draining, how long in-flight requests may take before the process exits
    anyway; those still running then are answered 503."""
    reload_interval_s: float = Field(default=0.0, ge=0.0)
    """Poll model files this often and hot-reload changed ones; 0 = never."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Log level of the JSON logs on standard error."""
    forecast_log: str | None = None
    """Write one JSON line per forecast to this file (rotated by size) or to ``stdout``; unset = off."""
    forecast_log_sample_rate: float = Field(default=1.0, gt=0.0, le=1.0)
    """Share of forecasts the forecast log keeps, each drawn independently (1 = every one)."""
    forecast_log_max_bytes: int = Field(default=100 * 1024 * 1024, ge=4096)
    """Size at which the forecast log file is rotated to ``<file>.1``, ``<file>.2``, ..."""
    forecast_log_backups: int = Field(default=5, ge=1, le=1000)
    """Rotated forecast log files kept beside the current one."""
    forecast_log_buffer_bytes: int = Field(default=8 * 1024 * 1024, ge=4096)
    """Memory the forecasts waiting to be logged may hold (8 bytes a number); beyond it they are dropped and counted."""

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if not _DEVICE.match(value):
            raise ValueError("must be auto, cpu, cuda or cuda:N")
        return value

    @field_validator("forecast_log")
    @classmethod
    def _blank_is_off(cls, value: str | None) -> str | None:
        return value if value is None or value.strip() else None

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return []
            keys = [key.strip() for key in value.split(",")]
            if not all(keys):
                raise ValueError(
                    "RNNCAST_API_KEYS holds an empty key (check its commas); leave it empty "
                    "to turn authentication off"
                )
            return keys
        return value

    @field_validator("api_keys")
    @classmethod
    def _check_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if not key.isprintable() or any(c.isspace() for c in key):
                raise ValueError("RNNCAST_API_KEYS keys must be printable and hold no spaces")
        return value

    @field_validator("trusted_keys", "trusted_certificates", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(part.strip()) for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_keys", "trusted_certificates")
    @classmethod
    def _check_files(cls, value: list[Path]) -> list[Path]:
        missing = [str(path) for path in value if not path.is_file()]
        if missing:
            raise ValueError(f"no such file: {', '.join(missing)}")
        return value


def describe_invalid(exc: ValidationError) -> list[str]:
    """One line per bad setting, naming its environment variable and the value given."""
    lines = []
    for error in exc.errors():
        variable = "RNNCAST_" + "_".join(str(part) for part in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{variable}={error['input']!r} is invalid: {message}")
    return lines


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
