"""Model listing, reload, readiness gate and API keys, in process."""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.factories import make_series
from tests.scrape import sample


def make_client(model_dir: Path, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(model_dir=model_dir, device="cpu", _env_file=None, **settings)))  # type: ignore[arg-type]


def scraped(client: TestClient, name: str, **labels: str) -> float | None:
    return sample(client.get("/metrics").text, name, **labels)


def ready_within(client: TestClient, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while client.get("/health/ready").status_code != 200:
        assert time.monotonic() < deadline, client.get("/health/ready").json()
        time.sleep(0.05)


def test_models_describe_device_sha_and_metadata(client: TestClient) -> None:
    listing = client.get("/v1/models").json()["models"]
    assert [m["name"] for m in listing] == ["default"]
    one = client.get("/v1/models/default").json()
    assert one == listing[0]
    assert one["ready"] and one["status"] == "ready" and one["device"] == "cpu"
    assert len(one["sha256"]) == 64 and one["window"] == 100
    assert one["metadata"]["layout"] == "features"
    assert client.get("/v1/models/nope").status_code == 404


@pytest.mark.parametrize("exists", [True, False], ids=["empty", "missing"])
def test_no_models_is_not_ready_and_logged_with_the_reason(
    tmp_path: Path, exists: bool, caplog: pytest.LogCaptureFixture
) -> None:
    model_dir = tmp_path if exists else tmp_path / "no-such-dir"
    reason = ("no models found in the model directory (expected <name>/model.pt)" if exists
              else "the model directory does not exist")
    with caplog.at_level(logging.ERROR), make_client(model_dir) as c:
        r = c.get("/health/ready")
        assert r.status_code == 503
        assert r.json() == {"status": "not ready", "reasons": [reason]}
        assert c.get("/health/live").status_code == 200
    logged = [(r.getMessage(), getattr(r, "reason", None), getattr(r, "model_dir", None)) for r in caplog.records]
    assert logged == [("no models to serve", reason, str(model_dir))]


def test_tampered_model_is_not_ready_and_named(model_copy: Path) -> None:
    path = model_copy / "default" / "model.pt"
    path.write_bytes(path.read_bytes() + b"tampered")
    with make_client(model_copy) as c:
        deadline = time.monotonic() + 30
        while "loading" in str(c.get("/health/ready").json()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        r = c.get("/health/ready")
        assert r.status_code == 503
        (reason,) = r.json()["reasons"]
        assert reason.startswith("model 'default' is failed: ") and "does not match model.pt.sha256" in reason
        model = c.get("/v1/models/default").json()
        assert model["status"] == "failed" and not model["ready"]
        f = c.post("/v1/forecast", json={"series": [{"values": make_series(100)}]})
        assert f.status_code == 503 and f.json()["type"] == "urn:rnncast:problem:model-not-ready"
        assert scraped(c, "rnncast_ready") == 0


def test_failed_reload_keeps_the_previous_model_serving(model_copy: Path) -> None:
    values = {"series": [{"values": make_series(100)}]}
    with make_client(model_copy) as c:
        ready_within(c)
        before = c.post("/v1/forecast", json=values).json()
        failures = scraped(c, "rnncast_model_reloads_total", model="default", result="failure")
        assert failures is not None, "present from the first load, so increase() sees the first failure"
        path = model_copy / "default" / "model.pt"
        path.write_bytes(b"garbage")
        r = c.post("/v1/models/default/reload")
        assert r.status_code == 409
        garbage = hashlib.sha256(b"garbage").hexdigest()
        assert r.json()["detail"] == (
            f"reloading 'default' failed: default/model.pt: sha256 {garbage} does not match model.pt.sha256; "
            "the file was changed after export; the previous version keeps serving"
        )
        assert c.post("/v1/forecast", json=values).json() == before
        assert c.get("/health/ready").status_code == 200
        assert scraped(c, "rnncast_model_reloads_total", model="default", result="failure") == failures + 1
        assert scraped(c, "rnncast_ready") == 1


def test_reload_picks_up_a_new_model(model_copy: Path, tmp_path: Path) -> None:
    from tests.factories import train_artifact

    with make_client(model_copy) as c:
        ready_within(c)
        old_sha = c.get("/v1/models/default").json()["sha256"]
        new = train_artifact(tmp_path / "new", epochs=2, seed=9)
        for name in ("model.pt", "model.pt.sha256"):
            shutil.copy(new.parent / name, model_copy / "default" / name)
        successes = scraped(c, "rnncast_model_reloads_total", model="default", result="success")
        assert successes is not None
        r = c.post("/v1/models/default/reload")
        assert r.status_code == 200 and r.json()["sha256"] != old_sha
        assert scraped(c, "rnncast_model_reloads_total", model="default", result="success") == successes + 1


def test_api_keys_guard_forecasts_and_models_not_health(model_dir: Path) -> None:
    values = {"series": [{"values": make_series(100)}]}
    with make_client(model_dir, api_keys=["k1", "k2"]) as c:
        ready_within(c)
        for path in ("/health/live", "/health/ready", "/metrics"):
            assert c.get(path).status_code == 200
        r = c.post("/v1/forecast", json=values)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["detail"] == "send a valid API key as 'Authorization: Bearer <key>'"
        assert c.get("/v1/models", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert c.get("/v1/models", headers={"Authorization": "Basic k1"}).status_code == 401
        assert c.post("/v1/forecast", json=values, headers={"Authorization": "Bearer k2"}).status_code == 200
        assert c.get("/v1/models", headers={"Authorization": "bearer k1"}).status_code == 200


def test_openapi_documents_bodies_with_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    content = spec["paths"]["/v1/forecast"]["post"]["requestBody"]["content"]
    assert content["application/json"]["schema"] == {"oneOf": [
        {"$ref": "#/components/schemas/ForecastRequest"}, {"$ref": "#/components/schemas/ForecastRowsRequest"}]}
    assert set(content) == {"application/json", "text/csv", "application/vnd.apache.parquet"}
    schemas = spec["components"]["schemas"]
    assert schemas["ForecastRequest"]["examples"] and schemas["RollingRequest"]["examples"]
    assert "SeriesIn" in schemas and "TimedSeriesIn" in schemas
    assert schemas["SeriesIn"]["properties"]["values"]["examples"]


def test_changed_files_are_hot_reloaded(model_copy: Path, tmp_path: Path) -> None:
    from tests.factories import train_artifact

    with make_client(model_copy, reload_interval_s=0.1) as c:
        ready_within(c)
        old_sha = c.get("/v1/models/default").json()["sha256"]
        # A damaged file is ignored: the old model keeps serving.
        target = model_copy / "default" / "model.pt"
        target.write_bytes(b"half-written")
        time.sleep(0.5)
        assert c.get("/v1/models/default").json()["sha256"] == old_sha
        assert c.get("/health/ready").status_code == 200
        new = train_artifact(tmp_path / "new", epochs=2, seed=5)
        for name in ("model.pt.sha256", "model.pt"):
            shutil.copy(new.parent / name, model_copy / "default" / name)
        deadline = time.monotonic() + 20
        while c.get("/v1/models/default").json()["sha256"] == old_sha:
            assert time.monotonic() < deadline, "the new file was never loaded"
            time.sleep(0.05)


def test_models_are_named_by_their_directory_and_chosen_by_the_model_field(model_dir: Path, tmp_path: Path) -> None:
    """Two models, neither called `default`: a request must name one; each answer says
    which model made it. The served name is the directory's, whatever metadata.name says."""
    for name in ("sales", "stock"):
        shutil.copytree(model_dir / "default", tmp_path / name)
    with make_client(tmp_path) as c:
        ready_within(c)
        sales = c.get("/v1/models/sales").json()
        assert sales["metadata"]["name"] == "default"
        body = {"series": [{"values": make_series(sales["window"])}]}
        r = c.post("/v1/forecast", json={**body, "model": "stock"})
        assert r.status_code == 200 and r.json()["model"]["name"] == "stock"
        r = c.post("/v1/forecast", json=body)
        detail = "the request names no model and none is called 'default'; set \"model\" to one of: sales, stock"
        assert (r.status_code, r.json()["detail"], r.json()["errors"][0]["field"]) == (404, detail, "model")
    shutil.rmtree(tmp_path / "stock")
    with make_client(tmp_path) as c:
        ready_within(c)
        assert c.post("/v1/forecast", json=body).json()["model"]["name"] == "sales", "the only model"
