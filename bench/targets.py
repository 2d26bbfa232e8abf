"""The servers under test, as ServerSpecs: same body, same model file, same core.

- ``ceiling``: bare FastAPI that parses the body with pydantic and answers a constant.
- ``raw-asgi``: uvicorn + a raw ASGI callable that parses nothing (context only).
- ``rnncast``: ``rnncast serve`` as shipped, RNNCAST_NUM_THREADS=1.
- ``torchserve``: TorchServe 0.12 with bench/servers/torchserve_handler.py, batch 64 / 2 ms.
- ``litserve``: LitServe 0.2.19 with bench/servers/litserve_app.py, batch 64 / 2 ms.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path

from bench.paths import Paths, free_port
from bench.procs import ServerSpec

TS_BATCH_SIZE = 64
TS_MAX_DELAY_MS = 2
LS_BATCH_SIZE = 64
LS_TIMEOUT_MS = 2.0


def series_values(window: int) -> list[float]:
    """A deterministic, smooth series of ``window`` values (the benchmark's payload)."""
    return [round(1.0 + 0.5 * math.sin(i / 3.0), 4) for i in range(window)]


def body_for(window: int) -> bytes:
    """``{"series": [{"values": [window floats]}]}``."""
    return json.dumps({"series": [{"values": series_values(window)}]}).encode()


@cache
def expected_value(model_path: Path, window: int) -> float:
    """The forecast of :func:`series_values` computed in-process with plain torch.jit.load."""
    import torch

    module = torch.jit.load(str(model_path), map_location="cpu").eval()
    with torch.inference_mode():
        x = torch.tensor([series_values(window)], dtype=torch.float32)
        return float(module(x).reshape(-1)[0])


def forecast_check(expected: float | None) -> Callable[[bytes], bool]:
    """A checker: the body holds one forecast equal to ``expected`` (any, when None)."""

    def check(body: bytes) -> bool:
        try:
            forecasts = json.loads(body)["forecasts"]
            value = float(forecasts[0]["value"])
        except (ValueError, KeyError, IndexError, TypeError):
            return False
        if len(forecasts) != 1:
            return False
        return expected is None or abs(value - expected) <= 1e-4 * max(1.0, abs(expected))

    return check


def _uvicorn(paths: Paths, name: str, app: str, window: int) -> ServerSpec:
    port = free_port()
    return ServerSpec(
        name=name,
        command=[
            str(paths.rnncast_python), "-m", "uvicorn", app, "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--log-level", "warning",
        ],
        port=port, health_path="/health/ready", forecast_path="/v1/forecast",
        body=body_for(window), check=forecast_check(None), cwd=paths.repo,
    )


def ceiling(paths: Paths, window: int = 32) -> ServerSpec:
    """The bare FastAPI ceiling for a body of ``window`` values."""
    return _uvicorn(paths, f"ceiling-w{window}", "bench.servers.ceiling:app", window)


def raw_asgi(paths: Paths, window: int = 32) -> ServerSpec:
    """Raw uvicorn ASGI, no parsing (context)."""
    return _uvicorn(paths, f"raw-asgi-w{window}", "bench.servers.raw_asgi:app", window)


def rnncast(
    paths: Paths,
    *,
    model_dir: Path,
    model_path: Path,
    window: int,
    name: str = "rnncast",
    workers: int = 1,
    cpus: str = "0",
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
) -> ServerSpec:
    """``rnncast serve`` on ``model_dir`` (``command`` replaces the launcher for experiments)."""
    port = free_port()
    rnncast_bin = paths.rnncast_python.parent / "rnncast"
    return ServerSpec(
        name=name,
        command=[*(command or [str(rnncast_bin), "serve"]), "--workers", str(workers)],
        port=port, health_path="/health/ready", forecast_path="/v1/forecast",
        body=body_for(window), check=forecast_check(expected_value(model_path, window)),
        env={
            "RNNCAST_MODEL_DIR": str(model_dir),
            "RNNCAST_HOST": "127.0.0.1",
            "RNNCAST_PORT": str(port),
            "RNNCAST_NUM_THREADS": "1",
            "RNNCAST_DRAIN_SECONDS": "0",
            **(env or {}),
        },
        cwd=paths.repo, cpus=cpus,
    )


def _torchserve_config(port: int, store: Path) -> str:
    models = {
        "rnn": {
            "1": {
                "defaultVersion": True, "marName": "rnn.mar", "minWorkers": 1, "maxWorkers": 1,
                "batchSize": TS_BATCH_SIZE, "maxBatchDelay": TS_MAX_DELAY_MS,
                "responseTimeout": 120,
            }
        }
    }
    return "\n".join([
        f"inference_address=http://127.0.0.1:{port}",
        f"management_address=http://127.0.0.1:{free_port()}",
        f"metrics_address=http://127.0.0.1:{free_port()}",
        f"model_store={store}",
        "load_models=rnn.mar",
        "default_workers_per_model=1",
        # System metrics spawn a psutil collector every minute: noise, not inference work.
        "disable_system_metrics=true",
        f"models={json.dumps(models)}",
        "",
    ])


def build_torchserve_archive(paths: Paths, model_path: Path) -> Path:
    """``torch-model-archiver`` the model file and handler into bench/out/torchserve/store."""
    store = paths.out / "torchserve" / "store"
    store.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(paths.torchserve_venv / "bin" / "torch-model-archiver"),
            "--model-name", "rnn", "--version", "1", "--serialized-file", str(model_path),
            "--handler", str(paths.repo / "bench" / "servers" / "torchserve_handler.py"),
            "--export-path", str(store), "--force",
        ],
        check=True, capture_output=True, timeout=300,
    )
    return store


def torchserve(paths: Paths, model_path: Path, window: int = 32) -> ServerSpec:
    """TorchServe in its own venv, token auth off, no config snapshots."""
    port = free_port()
    home = paths.out / "torchserve"
    store = build_torchserve_archive(paths, model_path)
    config = home / "config.properties"
    config.write_text(_torchserve_config(port, store))
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return ServerSpec(
        name="torchserve",
        command=[
            str(paths.torchserve_venv / "bin" / "torchserve"), "--start", "--foreground",
            "--ts-config", str(config), "--model-store", str(store),
            "--disable-token-auth", "--ncs",
        ],
        port=port, health_path="/ping", forecast_path="/predictions/rnn",
        body=body_for(window), check=forecast_check(expected_value(model_path, window)),
        env={
            "BENCH_NUM_THREADS": "1",
            "LOG_LOCATION": str(home / "logs"),
            "METRICS_LOCATION": str(home / "logs"),
            # Its pid file lives in the temp dir: keep ours apart from any other TorchServe.
            "TMPDIR": str(tmp),
            "TEMP": str(tmp),
        },
        cwd=home, ready_timeout_s=180.0,
    )


def litserve(paths: Paths, model_path: Path, window: int = 32) -> ServerSpec:
    """LitServe in its own venv: one API server process, one inference worker."""
    port = free_port()
    home = paths.out / "litserve"
    home.mkdir(parents=True, exist_ok=True)
    return ServerSpec(
        name="litserve",
        command=[
            str(paths.litserve_venv / "bin" / "python"),
            str(paths.repo / "bench" / "servers" / "litserve_app.py"),
            "--model", str(model_path), "--port", str(port),
            "--max-batch", str(LS_BATCH_SIZE), "--timeout-ms", str(LS_TIMEOUT_MS),
        ],
        port=port, health_path="/health", forecast_path="/v1/forecast",
        body=body_for(window), check=forecast_check(expected_value(model_path, window)),
        env={"BENCH_NUM_THREADS": "1"}, cwd=home, ready_timeout_s=180.0,
    )
