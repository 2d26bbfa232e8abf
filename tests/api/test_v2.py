"""Open Inference Protocol (/v2): metadata, JSON and binary inference, every refusal."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.deploy.tools import project_version
from tests.factories import make_series

INFER = "/v2/models/default/infer"
HEADER = "Inference-Header-Content-Length"


def _window(client: TestClient) -> int:
    window: int = client.get("/v1/models/default").json()["window"]
    return window


def _rows(client: TestClient, n: int, seed: int = 0) -> np.ndarray:
    """n windows of real-looking data as float32, shape (n, window)."""
    window = _window(client)
    return np.stack(
        [np.asarray(make_series(window, seed=seed + i), dtype=np.float32) for i in range(n)]
    )


def _tensor(rows: np.ndarray, **overrides: Any) -> dict[str, Any]:
    tensor = {
        "name": "input__0",
        "datatype": "FP32",
        "shape": list(rows.shape),
        "data": rows.ravel().tolist(),
    }
    return tensor | overrides


def _v1(client: TestClient, rows: np.ndarray) -> list[float]:
    body = {"series": [{"values": row.tolist()} for row in rows]}
    response = client.post("/v1/forecast", json=body)
    assert response.status_code == 200, response.text
    return [f["value"] for f in response.json()["forecasts"]]


def _binary_body(
    header: dict[str, Any], raw: bytes, length: int | None = None
) -> tuple[bytes, dict[str, str]]:
    encoded = json.dumps(header).encode()
    return encoded + raw, {HEADER: str(len(encoded) if length is None else length)}


def _binary_request(rows: np.ndarray, **request: Any) -> tuple[bytes, dict[str, str]]:
    raw = rows.astype("<f4").tobytes()
    tensor = {
        "name": "input__0",
        "datatype": "FP32",
        "shape": list(rows.shape),
        "parameters": {"binary_data_size": len(raw)},
    }
    return _binary_body({"inputs": [tensor], **request}, raw)


def _split_binary(content: bytes, header_length: str) -> tuple[dict[str, Any], bytes]:
    n = int(header_length)
    header: dict[str, Any] = json.loads(content[:n])
    return header, content[n:]


# --- health and metadata ---------------------------------------------------------------


def test_health_and_model_ready(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"ready": True})
    model = client.get("/v2/models/default/ready")
    assert (model.status_code, model.json()) == (200, {"name": "default", "ready": True})


def test_server_metadata(client: TestClient) -> None:
    response = client.get("/v2")
    assert response.status_code == 200
    assert response.json() == {
        "name": "rnncast",
        "version": project_version(),
        "extensions": ["binary_tensor_data"],
    }


def test_model_metadata(client: TestClient) -> None:
    info = client.get("/v1/models/default").json()
    response = client.get("/v2/models/default")
    assert response.status_code == 200
    assert response.json() == {
        "name": "default",
        "versions": [info["version"]],
        "platform": "pytorch_torchscript",
        "inputs": [{"name": "input__0", "datatype": "FP32", "shape": [-1, info["window"]]}],
        "outputs": [{"name": "output__0", "datatype": "FP32", "shape": [-1]}],
    }
    versioned = client.get(f"/v2/models/default/versions/{info['version']}")
    assert versioned.json() == response.json()
    ready = client.get(f"/v2/models/default/versions/{info['version']}/ready")
    assert ready.json() == {"name": "default", "ready": True}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/models/nope"),
        ("GET", "/v2/models/nope/ready"),
        ("GET", "/v2/models/nope/versions/1"),
        ("POST", "/v2/models/nope/infer"),
    ],
)
def test_unknown_model_is_404(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json={"inputs": []})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "no model named 'nope' (loaded: default)"}


@pytest.mark.parametrize("suffix", ["", "/ready", "/infer"])
def test_unknown_version_is_404(client: TestClient, suffix: str) -> None:
    version = client.get("/v1/models/default").json()["version"]
    method = "POST" if suffix == "/infer" else "GET"
    response = client.request(method, f"/v2/models/default/versions/x9{suffix}", json={})
    assert response.status_code == 404
    assert response.json() == {
        "error": f"model 'default' has no version 'x9'; it serves version '{version}'"
    }


# --- inference ---------------------------------------------------------------------------


def test_json_infer_equals_v1(client: TestClient) -> None:
    rows = _rows(client, 3)
    version = client.get("/v1/models/default").json()["version"]
    response = client.post(INFER, json={"id": "req-1", "inputs": [_tensor(rows)]})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert HEADER.lower() not in response.headers
    assert response.json() == {
        "model_name": "default",
        "model_version": version,
        "id": "req-1",
        "outputs": [
            {"name": "output__0", "datatype": "FP32", "shape": [3], "data": _v1(client, rows)}
        ],
    }


def test_nested_json_data_and_versioned_path(client: TestClient) -> None:
    rows = _rows(client, 2, seed=5)
    version = client.get("/v1/models/default").json()["version"]
    tensor = _tensor(rows, data=rows.tolist())
    path = f"/v2/models/default/versions/{version}/infer"
    response = client.post(path, json={"inputs": [tensor]})
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == _v1(client, rows)
    assert "id" not in response.json()


def test_binary_infer_equals_v1(client: TestClient) -> None:
    rows = _rows(client, 4, seed=9)
    body, headers = _binary_request(rows, parameters={"binary_data_output": True}, id="b")
    response = client.post(INFER, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    header, raw = _split_binary(response.content, response.headers[HEADER])
    assert header["id"] == "b"
    assert header["outputs"] == [
        {
            "name": "output__0",
            "datatype": "FP32",
            "shape": [4],
            "parameters": {"binary_data_size": 16},
        }
    ]
    values = np.frombuffer(raw, dtype="<f4")
    np.testing.assert_array_equal(values, np.asarray(_v1(client, rows), dtype=np.float32))


def test_binary_input_json_output_when_output_says_so(client: TestClient) -> None:
    rows = _rows(client, 2, seed=3)
    body, headers = _binary_request(
        rows,
        parameters={"binary_data_output": True},
        outputs=[{"name": "output__0", "parameters": {"binary_data": False}}],
    )
    response = client.post(INFER, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["outputs"][0]["data"] == _v1(client, rows)


def test_json_input_binary_output_when_output_asks(client: TestClient) -> None:
    rows = _rows(client, 2, seed=4)
    request = {
        "inputs": [_tensor(rows)],
        "outputs": [{"name": "output__0", "parameters": {"binary_data": True}}],
    }
    response = client.post(INFER, json=request)
    assert response.status_code == 200, response.text
    header, raw = _split_binary(response.content, response.headers[HEADER])
    assert header["outputs"][0]["parameters"] == {"binary_data_size": 8}
    expected = np.asarray(_v1(client, rows), dtype=np.float32)
    np.testing.assert_array_equal(np.frombuffer(raw, dtype="<f4"), expected)


# --- refusals ----------------------------------------------------------------------------


def _error(response: Any) -> tuple[int, dict[str, Any]]:
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


def _post_json(client: TestClient, tensor: dict[str, Any], **request: Any) -> Any:
    return client.post(INFER, json={"inputs": [tensor], **request})


def test_refuses_bad_tensors(client: TestClient) -> None:
    window = _window(client)
    rows = _rows(client, 2)
    good = _tensor(rows)
    cases: list[tuple[dict[str, Any], dict[str, Any], str]] = [
        (good | {"datatype": "FP64"}, {}, "input 'input__0' has datatype 'FP64'; send FP32"),
        (good | {"name": "x"}, {}, "unknown input 'x'; this model's input is 'input__0'"),
        (
            good | {"shape": [2 * window]},
            {},
            f"input 'input__0' has shape [{2 * window}]; this model takes [batch, {window}] "
            f"(one row of the last {window} values per series)",
        ),
        (
            good | {"shape": [window, 2]},
            {},
            f"input 'input__0' has shape [{window}, 2]; this model takes [batch, {window}] "
            f"(one row of the last {window} values per series)",
        ),
        (
            good | {"shape": [3, window]},
            {},
            f"input 'input__0' has {2 * window} values; shape [3, {window}] needs {3 * window}",
        ),
        (
            good | {"data": [rows[0].tolist(), rows[1].tolist()[:-1]]},
            {},
            "input 'input__0': nested data rows must all have the same length",
        ),
        (
            good | {"shape": [1, window], "data": [rows[0].tolist()] * 2},
            {},
            f"input 'input__0' has nested data of shape [2, {window}]; "
            f"its shape says [1, {window}]",
        ),
        (
            good | {"data": [1e39] + rows.ravel().tolist()[1:]},
            {},
            "input 'input__0' holds a value beyond float32's range (|x| <= 3.403e+38)",
        ),
        (
            good | {"data": None},
            {},
            "input 'input__0' has no data and no parameters.binary_data_size",
        ),
        (
            good | {"parameters": {"binary_data_size": rows.nbytes}},
            {},
            "input 'input__0' has both data and binary_data_size; send one",
        ),
        (
            good | {"shape": [0, window], "data": []},
            {},
            "post at least one series",
        ),
        (
            good,
            {"outputs": [{"name": "y"}]},
            "unknown output 'y'; this model's output is 'output__0'",
        ),
        (
            good,
            {"outputs": [{"name": "output__0", "parameters": {"classification": 2}}]},
            "the classification extension is not supported; omit 'classification'",
        ),
        (
            good,
            {"outputs": [{"name": "output__0", "parameters": {"binary_data": "yes"}}]},
            "outputs[0].parameters.binary_data must be true or false, not 'yes'",
        ),
        (
            good,
            {"parameters": {"binary_data_output": 1}},
            "request.parameters.binary_data_output must be true or false, not 1",
        ),
    ]
    for tensor, request, message in cases:
        response = _post_json(client, tensor, **request)
        assert _error(response) == (400, {"error": message}), (tensor.get("shape"), request)


def test_refuses_bad_json_and_schema(client: TestClient) -> None:
    window = _window(client)
    cases: list[tuple[bytes, str]] = [
        (
            b"{",
            "the inference header is not valid JSON: body: Invalid JSON: EOF while parsing "
            "an object at line 1 column 1",
        ),
        (b"{}", "invalid inference request: inputs: Field required"),
        (b"[]", "invalid inference request: body: Input should be an object"),
        (
            b'{"inputs": [], "extra": 1}',
            "invalid inference request: extra: Extra inputs are not permitted",
        ),
        (
            json.dumps(
                {"inputs": [{"name": "input__0", "datatype": "FP32", "shape": [1, window],
                             "data": ["1.5"] * window}]}
            ).encode(),
            "invalid inference request: " + "; ".join(
                f"inputs[0].data[{i}]: Input should be a valid number" for i in range(5)
            ),
        ),
        (
            b'{"inputs": [{"name": "input__0", "datatype": "FP32", "shape": [1, -1], "data": []}]}',
            "invalid inference request: inputs[0].shape[1]: Input should be greater than or "
            "equal to 0",
        ),
        (
            b'{"inputs": [{"name": "input__0", "datatype": "FP32", "shape": [1, 2], '
            b'"data": [NaN, 1]}]}',
            "invalid inference request: inputs[0].data[0]: Input should be a finite number",
        ),
        (
            b'{"inputs": []}',
            f"0 inputs sent; this model takes exactly one, 'input__0' "
            f"(FP32, shape [batch, {window}])",
        ),
    ]
    for body, message in cases:
        response = client.post(INFER, content=body)
        assert _error(response) == (400, {"error": message}), body[:60]


def test_refuses_two_inputs(client: TestClient) -> None:
    window = _window(client)
    tensor = _tensor(_rows(client, 1))
    response = client.post(INFER, json={"inputs": [tensor, tensor]})
    assert _error(response) == (
        400,
        {"error": f"2 inputs sent; this model takes exactly one, 'input__0' (FP32, shape "
                  f"[batch, {window}])"},
    )


def test_refuses_bad_binary_requests(client: TestClient) -> None:
    rows = _rows(client, 2)
    raw = rows.astype("<f4").tobytes()
    shape = list(rows.shape)

    def tensor(size: object) -> dict[str, Any]:
        return {"name": "input__0", "datatype": "FP32", "shape": shape,
                "parameters": {"binary_data_size": size}}

    nan = rows.copy()
    nan[1, 3] = np.nan
    good_header = json.dumps({"inputs": [tensor(len(raw))]}).encode()
    cases: list[tuple[bytes, dict[str, str], str]] = [
        (
            *_binary_body({"inputs": [tensor(len(raw) - 4)]}, raw[:-4]),
            f"input 'input__0' has binary_data_size {len(raw) - 4}; shape {shape} of FP32 "
            f"needs {len(raw)} bytes",
        ),
        (
            *_binary_body({"inputs": [tensor(len(raw))]}, raw[:-4]),
            f"{len(raw) - 4} bytes follow the JSON header; the inputs' binary_data_size adds "
            f"up to {len(raw)}",
        ),
        (
            *_binary_body({"inputs": [tensor(len(raw))]}, raw + b"\0\0\0\0"),
            f"{len(raw) + 4} bytes follow the JSON header; the inputs' binary_data_size adds "
            f"up to {len(raw)}",
        ),
        (
            *_binary_body({"inputs": [tensor(True)]}, raw),
            f"input 'input__0' has binary_data_size True; shape {shape} of FP32 needs "
            f"{len(raw)} bytes",
        ),
        (
            *_binary_body({"inputs": [tensor(len(raw))]}, nan.astype("<f4").tobytes()),
            "input 'input__0' holds NaN or infinity; send finite values",
        ),
        (
            *_binary_body({"inputs": [_tensor(rows)]}, b"\0\0\0\0"),
            "4 bytes follow the JSON header but no input is binary",
        ),
        (
            good_header + raw,
            {HEADER: "abc"},
            f"Inference-Header-Content-Length is 'abc'; it must be the byte length of the JSON "
            f"header, between 0 and the body's {len(good_header) + len(raw)} bytes",
        ),
        (
            good_header + raw,
            {HEADER: str(len(good_header) + len(raw) + 1)},
            f"Inference-Header-Content-Length is '{len(good_header) + len(raw) + 1}'; it must be "
            f"the byte length of the JSON header, between 0 and the body's "
            f"{len(good_header) + len(raw)} bytes",
        ),
    ]
    for body, headers, message in cases:
        response = client.post(INFER, content=body, headers=headers)
        assert _error(response) == (400, {"error": message}), message
    # Binary data without the header: the body is not JSON.
    response = client.post(INFER, content=good_header + raw)
    status, error = _error(response)
    assert status == 400
    assert error["error"].startswith("the inference header is not valid JSON: body: ")


# --- settings-dependent behaviour ----------------------------------------------------------


def _settings(**overrides: Any) -> Settings:
    """Settings for an in-process app, ignoring any .env file."""
    return Settings(**{"device": "cpu", "drain_seconds": 0, "_env_file": None, **overrides})


def _wait(client: TestClient, until: str) -> None:
    for _ in range(600):
        if client.get("/v1/models/default").json()["status"] == until:
            return
        time.sleep(0.05)
    raise AssertionError(f"model never became {until}")


@pytest.fixture
def small_limits(model_dir: Path) -> Iterator[TestClient]:
    settings = _settings(model_dir=model_dir, max_series=2, api_keys=["s3cret"])
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = "Bearer s3cret"
        _wait(client, "ready")
        yield client


def test_limits_are_400(small_limits: TestClient) -> None:
    response = small_limits.post(INFER, json={"inputs": [_tensor(_rows(small_limits, 3))]})
    assert _error(response) == (400, {"error": "3 series posted; at most 2 per request"})


def test_api_key_guards_all_but_health(small_limits: TestClient) -> None:
    del small_limits.headers["Authorization"]
    assert small_limits.get("/v2/health/live").status_code == 200
    assert small_limits.get("/v2/health/ready").status_code == 200
    unauthorized = {"error": "send a valid API key as 'Authorization: Bearer <key>'"}
    for method, path in [
        ("GET", "/v2"),
        ("GET", "/v2/models/default"),
        ("GET", "/v2/models/default/ready"),
        ("POST", INFER),
    ]:
        response = small_limits.request(method, path)
        assert _error(response) == (401, unauthorized), path
        assert response.headers["www-authenticate"] == 'Bearer realm="rnncast"'
    authorized = small_limits.get("/v2", headers={"Authorization": "Bearer s3cret"})
    assert authorized.status_code == 200


def test_failed_model_is_503(model_copy: Path) -> None:
    artifact = model_copy / "default" / "model.pt"
    artifact.write_bytes(artifact.read_bytes()[:-10] + b"corrupted!")
    with TestClient(create_app(_settings(model_dir=model_copy))) as client:
        _wait(client, "failed")
        reason = client.get("/v1/models/default").json()["reason"]
        ready = client.get("/v2/health/ready")
        assert _error(ready) == (
            503, {"error": f"not ready: model 'default' is failed: {reason}"}
        )
        assert ready.headers["retry-after"] == "1"
        assert client.get("/v2/health/live").status_code == 200
        expected = (503, {"error": f"model 'default' is failed: {reason}"})
        assert _error(client.get("/v2/models/default/ready")) == expected
        assert _error(client.get("/v2/models/default")) == expected
        assert _error(client.post(INFER, json={"inputs": []})) == expected
