"""deploy/prometheus.yml, deploy/compose.yaml and the /metrics exposition, checked with
Prometheus's own tools: promtool on the config and on real scrapes, and a real
Prometheus on loopback scraping a real server.

promtool and prometheus come from Debian's ``prometheus`` package
(scripts/install-tools.sh); without them those tests skip.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.deploy.dockerfile import parse_dockerfile, seconds
from tests.deploy.prometheus_server import JOB, PROMETHEUS_YML, query, run_prometheus, shipped_config, tool
from tests.deploy.tools import REPO, drain_budget, project_version, settings_env_names
from tests.factories import make_series
from tests.server import ServerProcess, run_server

COMPOSE = REPO / "deploy" / "compose.yaml"
FORECAST = {"route": "/v1/forecast", "method": "POST", "status": "200"}
# Families a scrape must hold once a forecast has been served (app/api/metrics.py).
FAMILIES = (
    "rnncast_requests_total", "rnncast_request_duration_seconds_bucket",
    "rnncast_requests_in_flight", "rnncast_inference_seconds_bucket", "rnncast_batch_size_bucket",
    "rnncast_queue_wait_seconds_bucket", "rnncast_series_forecast_total",
    "rnncast_points_forecast_total", "rnncast_model_info", "rnncast_model_reloads_total", "rnncast_ready",
)


def _forecast(server: ServerProcess, count: int) -> None:
    for seed in range(count):
        body = {"series": [{"id": f"s{seed}", "values": make_series(120, seed=seed)}]}
        response = httpx.post(f"{server.url}/v1/forecast", json=body, timeout=30)
        assert response.status_code == 200, response.text


def _counter(exposition: str, name: str, labels: dict[str, str]) -> float:
    """One sample's value from a text exposition (0 when absent)."""
    for line in exposition.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and dict(re.findall(r'(\w+)="([^"]*)"', match.group(1))) == labels:
            return float(match.group(2))
    return 0.0


def test_promtool_accepts_the_shipped_config() -> None:
    result = subprocess.run([tool("promtool"), "check", "config", str(PROMETHEUS_YML)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def _check_metrics(server: ServerProcess) -> str:
    promtool = tool("promtool")
    _forecast(server, 2)
    scrape = httpx.get(f"{server.url}/metrics", timeout=10)
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    for family in FAMILIES:
        assert re.search(rf"^{family}[{{ ]", scrape.text, re.MULTILINE), f"{family} missing"
    result = subprocess.run([promtool, "check", "metrics"], input=scrape.text,
                            capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    return scrape.text


def test_promtool_accepts_a_live_scrape(live_server: ServerProcess) -> None:
    text = _check_metrics(live_server)
    assert _counter(text, "rnncast_requests_total", FORECAST) >= 2


@pytest.mark.slow
def test_promtool_accepts_a_multiprocess_scrape(model_dir: Path, tmp_path: Path) -> None:
    """Two workers write to PROMETHEUS_MULTIPROC_DIR; any worker's scrape adds both up."""
    tool("promtool")
    with run_server(model_dir, tmp_path, args=["--workers", "2"]) as server:
        text = _check_metrics(server)
        assert _counter(text, "rnncast_requests_total", FORECAST) == 2


@pytest.mark.slow
def test_a_multiprocess_scrape_survives_a_worker_file_not_yet_sized(model_dir: Path, tmp_path: Path) -> None:
    """A worker's sample file exists empty for a moment after it is created (for good if
    the worker is killed then); that used to fail every scrape with a 500."""
    with run_server(model_dir, tmp_path, env={"TMPDIR": str(tmp_path)}, args=["--workers", "2"]) as server:
        (metrics_dir,) = tmp_path.glob("rnncast-metrics-*")
        (metrics_dir / "histogram_4194000.db").touch()
        _forecast(server, 2)
        for _ in range(4):  # a scrape may land on either worker
            scrape = httpx.get(f"{server.url}/metrics", timeout=10)
            assert scrape.status_code == 200, scrape.text
            assert _counter(scrape.text, "rnncast_requests_total", FORECAST) == 2


@pytest.fixture
def prometheus(live_server: ServerProcess, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus on a loopback port scraping the live server; yields its URL."""
    with run_prometheus(shipped_config(f"127.0.0.1:{live_server.port}"), tmp_path) as url:
        yield url


def _served_count(server: ServerProcess) -> float:
    """The forecast counter as the server itself exposes it now."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return _counter(text, "rnncast_requests_total", FORECAST)


def test_prometheus_scrapes_the_request_counter(
    live_server: ServerProcess, prometheus: str
) -> None:
    """Forecasts sent to the server show up in Prometheus with the exact count."""
    before = _served_count(live_server)
    _forecast(live_server, 5)
    expected = _served_count(live_server)
    assert expected == before + 5
    selector = ",".join(f'{k}="{v}"' for k, v in {"job": JOB, **FORECAST}.items())
    expr = f"rnncast_requests_total{{{selector}}}"
    deadline, seen = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        result = query(prometheus, expr)
        seen = [(r["metric"], float(r["value"][1])) for r in result]
        if len(seen) == 1 and seen[0][1] == expected:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"Prometheus never showed {expr} == {expected} within 60 s (last: {seen})")
    (metric, _), = seen
    assert metric["service"] == "rnncast", "the shipped config's target labels are applied"
    assert metric["instance"] == f"127.0.0.1:{live_server.port}"
    (up,) = query(prometheus, f'up{{job="{JOB}"}}')
    assert up["value"][1] == "1"


def test_compose_wires_prometheus_to_the_service() -> None:
    """The file's cross-references; the container tier (tests/container) brings it up."""
    compose = yaml.safe_load(COMPOSE.read_text())
    server, prom = compose["services"]["rnncast"], compose["services"]["prometheus"]
    build = COMPOSE.parent / server["build"]["context"]
    assert (build / server["build"]["dockerfile"]).resolve() == (REPO / "Dockerfile")
    final = parse_dockerfile(REPO / "Dockerfile")[-1]
    assert final.last("HEALTHCHECK") is not None, "depends_on: service_healthy needs one"
    assert prom["depends_on"]["rnncast"]["condition"] == "service_healthy"
    env = {**final.env(), **{k: str(v) for k, v in server.get("environment", {}).items()}}
    assert {k for k in env if k.startswith("RNNCAST_")} <= settings_env_names()
    assert seconds(server["stop_grace_period"]) > drain_budget(env)
    for service in (server, prom):
        assert all(str(p).startswith("127.0.0.1:") for p in service["ports"]), "loopback only"
    (mount,) = [v for v in prom["volumes"] if v.split(":")[1] == "/etc/prometheus/prometheus.yml"]
    assert (COMPOSE.parent / mount.split(":")[0]).resolve() == PROMETHEUS_YML
    assert f"--config.file={mount.split(':')[1]}" in prom["command"]
    assert re.fullmatch(r"\$\{PROMETHEUS_IMAGE:-prom/prometheus:v\d+\.\d+\.\d+\}", prom["image"]), "pinned"
    assert server["image"] == f"rnncast:{project_version()}"
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == JOB]
    (static,) = job["static_configs"]
    assert static["targets"] == [f"rnncast:{env['RNNCAST_PORT']}"]
    assert job["metrics_path"] == "/metrics"
    assert server["read_only"] is True and "/tmp" in server["tmpfs"]
