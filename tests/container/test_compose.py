"""deploy/compose.yaml brought up with podman-compose: Prometheus, reaching the service by
its compose name, scrapes it, and the request count the service served reads back.

Grafana stays down: Debian does not package it and no image registry is reachable here
(tests/deploy/test_grafana.py checks its dashboard and provisioning from the files)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml

from tests.container.engine import image_under_test, podman, unique_name
from tests.deploy.prometheus_server import query
from tests.deploy.test_prometheus import COMPOSE
from tests.factories import make_series
from tests.server import free_port, wait_until

pytestmark = pytest.mark.container

FORECASTS = 5
QUERY = 'sum(rnncast_requests_total{job="rnncast",route="/v1/forecast",method="POST",status="200"})'


def _compose(project: str, env: dict[str, str], *args: str, timeout: float) -> None:
    command = ["podman-compose", "--project-name", project, "--file", str(COMPOSE), *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture
def stack() -> Iterator[tuple[str, str]]:
    """The compose project up on free loopback ports; the API's and Prometheus' URLs.
    The rnncast image is the one under test (tagged as compose.yaml names it)."""
    named = yaml.safe_load(COMPOSE.read_text())["services"]["rnncast"]["image"]
    image_ids = {podman("image", "inspect", "--format", "{{.Id}}", image).stdout for image in (named, image_under_test())}
    assert len(image_ids) == 1, f"compose.yaml's {named} is not the image under test"
    project = unique_name("compose")
    api, prometheus = free_port(), free_port()
    env = {**os.environ, "API_PORT": str(api), "PROMETHEUS_PORT": str(prometheus)}
    try:
        _compose(project, env, "up", "--detach", "rnncast", "prometheus", timeout=300)
        yield f"http://127.0.0.1:{api}", f"http://127.0.0.1:{prometheus}"
    finally:
        _compose(project, env, "down", "--volumes", "--timeout", "30", timeout=120)
        podman("network", "rm", "--force", f"{project}_default", check=False)


def test_prometheus_in_compose_reads_back_the_request_count(stack: tuple[str, str]) -> None:
    api, prometheus = stack
    wait_until(f"{api}/health/ready", timeout=180)
    window = httpx.get(f"{api}/v1/models/default", timeout=10).json()["window"]
    for seed in range(FORECASTS):
        body = {"series": [{"values": make_series(window, seed=seed)}]}
        assert httpx.post(f"{api}/v1/forecast", json=body, timeout=30).status_code == 200
    wait_until(f"{prometheus}/-/ready", timeout=120)
    deadline = time.monotonic() + 90  # the shipped config scrapes every 15 s
    seen: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        seen = query(prometheus, QUERY)
        if seen and seen[0]["value"][1] == str(FORECASTS):  # type: ignore[index]
            break
        time.sleep(1)
    else:
        pytest.fail(f"Prometheus never read {FORECASTS} forecasts back (last: {seen})")
    (target,) = query(prometheus, 'up{job="rnncast"}')
    assert target["metric"]["instance"] == "rnncast:8000", "scraped by its compose service name"
    assert target["value"][1] == "1"
