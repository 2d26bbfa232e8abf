"""``rnncast serve``: serve every model under the model directory."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve`` and its flags; each flag sets the RNNCAST_* variable it names."""
    serve = commands.add_parser(
        "serve", help="serve every model under the model directory",
        description="Serve every <name>/model.pt under the model directory as <name> over HTTP. "
                    "Every setting is an RNNCAST_* environment variable (see the README's "
                    "Configuration); the flags below override the most common ones.")
    _setting_flag(serve, "--host")
    _setting_flag(serve, "--port", type=int)
    _setting_flag(serve, "--workers", type=int)
    _setting_flag(serve, "--model-dir", type=Path)
    serve.set_defaults(run=run)


def _setting_flag(parser: argparse.ArgumentParser, flag: str, **kwargs: Any) -> None:
    """A flag for one setting, documented from app.config (its meaning and its default)."""
    from app.config import Settings

    name = flag.removeprefix("--").replace("-", "_")
    field = Settings.model_fields[name]
    parser.add_argument(flag, help=f"{field.description} [RNNCAST_{name.upper()}, default: {field.default}]",
                        **kwargs)


def run(args: argparse.Namespace) -> int:
    """Run uvicorn until SIGTERM; exit 2 on invalid settings."""
    # Settings travel as environment variables so uvicorn's worker processes see them.
    for flag, env in (("host", "HOST"), ("port", "PORT"), ("workers", "WORKERS"), ("model_dir", "MODEL_DIR")):
        value = getattr(args, flag)
        if value is not None:
            os.environ[f"RNNCAST_{env}"] = str(value)
    from pydantic import ValidationError

    from app.config import Settings, describe_invalid

    try:
        settings = Settings()
    except ValidationError as exc:
        for line in describe_invalid(exc):
            print(f"rnncast serve: {line}", file=sys.stderr)
        return 2
    import uvicorn

    from app.api.logs import configure_logging, log_config
    from app.api.protocol import PROTOCOL

    configure_logging(settings.log_level)
    # After a graceful shutdown uvicorn re-raises the signal that stopped it; end a
    # SIGTERM drain with status 0, as orchestrators expect of a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.ExitStack() as cleanup:
        if settings.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            # Workers write their samples here and any one of them aggregates a scrape;
            # a fresh directory per start, removed at exit, so no stale samples add up.
            metrics_dir = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="rnncast-metrics-"))
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=log_config(settings.log_level),
            access_log=False,
            timeout_graceful_shutdown=settings.graceful_timeout_s,
            server_header=False,
            # Nothing here reads the client address that X-Forwarded-For would rewrite;
            # uvicorn's proxy-headers layer would only add work to every request.
            proxy_headers=False,
            # httptools with the header limit, timeouts and connection cap uvicorn lacks.
            http=PROTOCOL,
        )
    return 0
