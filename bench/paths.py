"""Where the benchmark finds its tools and writes its outputs (all under bench/out/)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
OUT = BENCH / "out"


@dataclass(frozen=True)
class Paths:
    """Every path the harness uses; build one with :func:`default_paths`."""

    repo: Path
    out: Path
    rnncast_python: Path  # the project's own venv (rnncast installed editable)
    torchserve_venv: Path
    litserve_venv: Path
    bench_models: Path  # holds bench32/model.pt: the RNNCAST_MODEL_DIR of the bench model
    default_models: Path  # the shipped models/ (holds default/model.pt)
    logs: Path
    results_json: Path
    results_md: Path
    chart: Path

    @property
    def bench_model(self) -> Path:
        """The window-32 / hidden-128 artifact every server loads."""
        return self.bench_models / "bench32" / "model.pt"

    @property
    def default_model(self) -> Path:
        """The shipped default artifact (window 100, features layout)."""
        return self.default_models / "default" / "model.pt"


def default_paths() -> Paths:
    """The layout ``bench/run.sh`` sets up."""
    venvs = OUT / "venvs"
    return Paths(
        repo=REPO,
        out=OUT,
        rnncast_python=REPO / ".venv" / "bin" / "python",
        torchserve_venv=venvs / "torchserve",
        litserve_venv=venvs / "litserve",
        bench_models=OUT / "models",
        default_models=REPO / "models",
        logs=OUT / "logs",
        results_json=OUT / "results.json",
        results_md=BENCH / "RESULTS.md",
        chart=BENCH / "throughput.png",
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
