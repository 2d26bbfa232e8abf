"""A real Prometheus on a loopback port, configured from the shipped deploy/prometheus.yml.

promtool and prometheus come from Debian's ``prometheus`` package
(scripts/install-tools.sh); without them the tests that need them skip.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.tools import INSTALL_HINT, REPO, find_tool
from tests.server import free_port, wait_until

PROMETHEUS_YML = REPO / "deploy" / "prometheus.yml"
JOB = "rnncast"


def tool(name: str) -> str:
    """The path of promtool or prometheus; skips the test when it is missing."""
    path = find_tool(name)
    if path is None:
        pytest.skip(f"{name} not found: {INSTALL_HINT}")
    return path


def shipped_config(target: str) -> dict[str, Any]:
    """The shipped config, scraping ``target`` and evaluating rules every second
    instead of the compose host every 15 s; rule files resolved against deploy/."""
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS_YML.parent / pattern) for pattern in config.get("rule_files", [])]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == JOB]
    (static,) = job["static_configs"]
    static["targets"] = [target]
    return config


@contextmanager
def run_prometheus(config: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    """A Prometheus with ``config`` on a free loopback port until the block ends; yields its URL."""
    binary = tool("prometheus")
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={config_path}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, text=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(f"{url}/-/ready", timeout=30, process=process)
        yield url
    except BaseException:
        print(log_path.read_text())
        raise
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def api(url: str, path: str, **params: str) -> Any:
    """The ``data`` of a successful Prometheus HTTP API answer."""
    response = httpx.get(f"{url}/api/v1/{path}", params=params, timeout=5)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    result: list[dict[str, Any]] = api(url, "query", query=expr)["result"]
    return result
