"""The image's own command, run as an arbitrary UID on a read-only root filesystem:
probes, forecasts beside the same model served outside the container, /metrics, the
image's HEALTHCHECK, and a SIGTERM stop that drops nothing."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest

from tests.container.engine import image_under_test, podman, serving, unique_name
from tests.deploy.tools import REPO
from tests.e2e.test_server import count, metric_samples
from tests.factories import make_series
from tests.server import run_server, wait_until

pytestmark = pytest.mark.container

ROLLING = {"horizon": 24, "quantiles": [0.1, 0.9], "num_samples": 200, "seed": 7, "walk_forward": True}


@dataclass(frozen=True)
class Running:
    """A started container: its name and URL."""

    name: str
    url: str


@pytest.fixture(scope="module")
def container() -> Iterator[Running]:
    """The container once ready; how long that took from `podman run` is printed."""
    name = unique_name("serve")
    started = time.monotonic()
    with serving(image_under_test(), name) as url:
        wait_until(f"{url}/health/ready", timeout=180)
        print(f"\ncold start (podman run to ready): {time.monotonic() - started:.1f} s")
        yield Running(name, url)


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same model file served by `rnncast serve` from this checkout's environment."""
    models = tmp_path_factory.mktemp("models")
    shutil.copytree(REPO / "models" / "default", models / "default")
    with run_server(models, tmp_path_factory.mktemp("outside")) as server:
        yield server.url


def _series(url: str, count_: int) -> list[dict[str, Any]]:
    window = httpx.get(f"{url}/v1/models/default", timeout=10).json()["window"]
    return [{"id": f"s{i}", "values": make_series(window + 30, seed=i)} for i in range(count_)]


def _post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{url}{path}", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_runs_as_the_given_uid_on_a_read_only_root(container: Running) -> None:
    assert podman("exec", container.name, "id", "-u").stdout.strip() == "12345"
    assert podman("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", container.name).stdout.strip() == "true"
    assert podman("exec", container.name, "touch", "/srv/rnncast/x", check=False).returncode != 0
    assert httpx.get(f"{container.url}/health/live", timeout=10).json() == {"status": "live", "reasons": []}


def test_forecasts_equal_the_same_model_served_outside(container: Running, outside: str) -> None:
    """Another process with its own thread settings: equal to float32 rounding."""
    series = _series(outside, 6)
    urls = (container.url, outside)
    one_step = [_post(url, "/v1/forecast", {"series": series}) for url in urls]
    assert one_step[0]["model"] == one_step[1]["model"]
    inside, out = ([f["value"] for f in answer["forecasts"]] for answer in one_step)
    np.testing.assert_allclose(inside, out, rtol=1e-5, atol=1e-6)

    dated = [{**s, "start": "2026-01-01", "freq": "MS"} for s in series]
    rolling = [_post(url, "/v1/forecast/rolling", {"series": dated, **ROLLING}) for url in urls]
    for mine, theirs in zip(*(answer["forecasts"] for answer in rolling), strict=True):
        assert mine["timestamps"] == theirs["timestamps"] and len(mine["mean"]) == ROLLING["horizon"]
        np.testing.assert_allclose(mine["mean"], theirs["mean"], rtol=1e-5, atol=1e-6)
        for q in ("0.1", "0.9"):
            np.testing.assert_allclose(mine["quantiles"][q], theirs["quantiles"][q], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(mine["walk_forward"]["predictions"], theirs["walk_forward"]["predictions"],
                                   rtol=1e-5, atol=1e-6)


def test_metrics_count_the_forecasts(container: Running) -> None:
    def forecasts_counted() -> float:
        return count(metric_samples(container.url), "rnncast_requests_total", route="/v1/forecast", status="200")

    before = forecasts_counted()
    for _ in range(3):
        _post(container.url, "/v1/forecast", {"series": _series(container.url, 1)})
    assert forecasts_counted() == before + 3
    info = metric_samples(container.url)["rnncast_model_info"]
    assert [(labels["model"], labels["device"]) for labels, _ in info] == [("default", "cpu")]


def test_the_images_own_healthcheck_passes(container: Running) -> None:
    assert podman("healthcheck", "run", container.name).returncode == 0


def test_sigterm_stops_with_status_0_and_drops_nothing() -> None:
    """`podman stop` sends the image's STOPSIGNAL: readiness (and the HEALTHCHECK) turn
    unhealthy while the server drains, every request in flight or sent during the
    drain is answered 200, and the process exits 0."""
    name = unique_name("stop")
    # Admit all 15 rolling jobs: this is about draining, not the heavy lane's admission bound.
    with serving(image_under_test(), name, env={"RNNCAST_MAX_HEAVY_JOBS": "20"}) as url:
        wait_until(f"{url}/health/ready", timeout=180)
        stopper = threading.Thread(target=podman, args=("stop", "--time", "30", name), kwargs={"timeout": 60})
        statuses, healthcheck = asyncio.run(_requests_across_a_stop(Running(name, url), stopper))
        stopper.join(60)
        assert statuses == [200] * 15
        assert healthcheck != 0, "the HEALTHCHECK kept passing while the server drained"
        state = podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).stdout.split()
        assert state == ["exited", "0"]
        assert "SIGTERM: draining" in podman("logs", name).stderr


async def _requests_across_a_stop(container: Running, stopper: threading.Thread) -> tuple[list[int], int]:
    """10 requests in flight when the stop begins and 5 sent while the server drains
    (light enough for a busy 2-core machine to finish within the graceful timeout):
    their statuses, and the HEALTHCHECK's exit status during the drain."""
    body = {"series": _series(container.url, 1), "horizon": 100}
    statuses: list[int] = []
    async with httpx.AsyncClient(base_url=container.url, timeout=60) as client:
        async def one() -> None:
            statuses.append((await client.post("/v1/forecast/rolling", json=body)).status_code)

        tasks = [asyncio.create_task(one()) for _ in range(10)]
        await asyncio.sleep(0.2)
        stopper.start()
        while (await client.get("/health/ready")).status_code == 200:
            await asyncio.sleep(0.05)
        tasks += [asyncio.create_task(one()) for _ in range(5)]
        healthcheck = await asyncio.to_thread(podman, "healthcheck", "run", container.name, check=False)
        await asyncio.gather(*tasks)
    return statuses, healthcheck.returncode
