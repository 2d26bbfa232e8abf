"""The official Triton HTTP client against a real ``rnncast serve`` on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient  # type: ignore[import-untyped]
from tritonclient.utils import InferenceServerException  # type: ignore[import-untyped]

from tests.factories import make_series
from tests.server import ServerProcess


@pytest.fixture(scope="module")
def triton(live_server: ServerProcess) -> Iterator[httpclient.InferenceServerClient]:
    client = httpclient.InferenceServerClient(url=f"127.0.0.1:{live_server.port}")
    yield client
    client.close()


@pytest.fixture(scope="module")
def windows(live_server: ServerProcess) -> np.ndarray:
    """Five real-looking windows, float32, shape (5, window)."""
    window = httpx.get(f"{live_server.url}/v1/models/default").json()["window"]
    return np.stack(
        [np.asarray(make_series(window, seed=40 + i), dtype=np.float32) for i in range(5)]
    )


@pytest.fixture(scope="module")
def v1_forecasts(live_server: ServerProcess, windows: np.ndarray) -> np.ndarray:
    body = {"series": [{"values": row.tolist()} for row in windows]}
    response = httpx.post(f"{live_server.url}/v1/forecast", json=body)
    assert response.status_code == 200, response.text
    return np.asarray([f["value"] for f in response.json()["forecasts"]], dtype=np.float32)


def test_health(triton: httpclient.InferenceServerClient) -> None:
    assert triton.is_server_live()
    assert triton.is_server_ready()
    assert triton.is_model_ready("default")
    assert not triton.is_model_ready("nope")


def test_metadata(triton: httpclient.InferenceServerClient, windows: np.ndarray) -> None:
    server = triton.get_server_metadata()
    assert server["name"] == "rnncast"
    assert "binary_tensor_data" in server["extensions"]
    model = triton.get_model_metadata("default")
    assert model["platform"] == "pytorch_torchscript"
    assert model["inputs"] == [
        {"name": "input__0", "datatype": "FP32", "shape": [-1, windows.shape[1]]}
    ]
    assert model["outputs"] == [{"name": "output__0", "datatype": "FP32", "shape": [-1]}]
    version = model["versions"][0]
    assert triton.get_model_metadata("default", model_version=version) == model
    assert triton.is_model_ready("default", model_version=version)


def test_infer_with_defaults_is_binary(
    triton: httpclient.InferenceServerClient, windows: np.ndarray, v1_forecasts: np.ndarray
) -> None:
    tensor = httpclient.InferInput("input__0", list(windows.shape), "FP32")
    tensor.set_data_from_numpy(windows)  # binary by default
    result = triton.infer("default", [tensor], request_id="e2e-1")
    response = result.get_response()
    assert response["id"] == "e2e-1"
    assert response["outputs"][0]["parameters"] == {"binary_data_size": 4 * len(windows)}
    out = result.as_numpy("output__0")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, v1_forecasts)


@pytest.mark.parametrize("binary_in", [False, True])
@pytest.mark.parametrize("binary_out", [False, True])
def test_infer_json_and_binary_mixes(
    triton: httpclient.InferenceServerClient,
    windows: np.ndarray,
    v1_forecasts: np.ndarray,
    binary_in: bool,
    binary_out: bool,
) -> None:
    tensor = httpclient.InferInput("input__0", list(windows.shape), "FP32")
    tensor.set_data_from_numpy(windows, binary_data=binary_in)
    output = httpclient.InferRequestedOutput("output__0", binary_data=binary_out)
    result = triton.infer("default", [tensor], outputs=[output])
    has_data = "data" in result.get_output("output__0")
    assert has_data is not binary_out
    np.testing.assert_array_equal(result.as_numpy("output__0"), v1_forecasts)


def test_protocol_errors_reach_the_client(
    triton: httpclient.InferenceServerClient, windows: np.ndarray
) -> None:
    tensor = httpclient.InferInput("input__0", list(windows.shape), "FP32")
    tensor.set_data_from_numpy(windows)
    with pytest.raises(InferenceServerException) as unknown:
        triton.infer("nope", [tensor])
    assert unknown.value.status() == "404"
    assert unknown.value.message() == "no model named 'nope' (loaded: default)"

    short = httpclient.InferInput("input__0", [1, 3], "FP32")
    short.set_data_from_numpy(np.ones((1, 3), dtype=np.float32))
    with pytest.raises(InferenceServerException) as bad_shape:
        triton.infer("default", [short])
    assert bad_shape.value.status() == "400"
    assert "this model takes [batch, " in bad_shape.value.message()

    with pytest.raises(InferenceServerException) as metadata:
        triton.get_model_metadata("nope")
    assert metadata.value.status() == "404"
