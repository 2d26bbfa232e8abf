"""Open Inference Protocol bodies <-> a ``(batch, window)`` float32 array and forecasts.

Handles plain JSON tensors (flat or nested ``data``) and Triton's binary tensor data
extension: the JSON header is the first ``Inference-Header-Content-Length`` bytes of
the body, and each input with ``parameters.binary_data_size`` takes that many raw
little-endian bytes from what follows, in input order. Every refusal is a 400 that
says what to send instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

import numpy as np
import orjson
from pydantic import ValidationError
from starlette.responses import Response

from app.api.errors import ApiError, field_path
from app.api.v2_schemas import DATA_TAGS, InferenceRequest, Parameters, RequestInput
from app.runtime.forecaster import Array

INPUT_NAME = "input__0"
OUTPUT_NAME = "output__0"
DATATYPE = "FP32"
HEADER_LENGTH = "Inference-Header-Content-Length"
FLOAT32_MAX = float(np.finfo(np.float32).max)
_WIRE_FP32 = np.dtype("<f4")


@dataclass(frozen=True)
class DecodedRequest:
    """What an inference request asks: the windows to forecast and how to answer."""

    windows: Array  # (batch, window)
    request_id: str | None
    binary_output: bool


def bad_request(detail: str) -> ApiError:
    """A 400 in the protocol's ``{"error": ...}`` shape (under ``/v2``)."""
    return ApiError(400, "bad-request", "Bad request", detail)


def _split(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the binary data after it."""
    if header_length is None:
        return body, b""
    try:
        length = int(header_length)
    except ValueError:
        length = -1
    if not 0 <= length <= len(body):
        raise bad_request(
            f"{HEADER_LENGTH} is {header_length!r}; it must be the byte length of the JSON "
            f"header, between 0 and the body's {len(body)} bytes"
        )
    return body[:length], body[length:]


def _describe(exc: ValidationError) -> str:
    """'inputs[0].shape: Input should be a valid list; ...' without union tags."""
    parts = []
    for error in exc.errors(include_url=False)[:5]:
        loc = [part for part in error["loc"] if part not in DATA_TAGS]
        parts.append(f"{field_path(loc)}: {error['msg']}")
    return "; ".join(parts)


def parse(header: bytes) -> InferenceRequest:
    """The JSON header as an InferenceRequest, or a 400 naming what is wrong."""
    try:
        return InferenceRequest.model_validate_json(header)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise bad_request(f"the inference header is not valid JSON: {_describe(exc)}") from None
        raise bad_request(f"invalid inference request: {_describe(exc)}") from None


def _bool_parameter(parameters: Parameters | None, key: str, where: str) -> bool | None:
    value = (parameters or {}).get(key)
    if value is not None and not isinstance(value, bool):
        raise bad_request(f"{where}.parameters.{key} must be true or false, not {value!r}")
    return value


def _check_input(tensor: RequestInput, window: int) -> None:
    if tensor.name != INPUT_NAME:
        raise bad_request(f"unknown input {tensor.name!r}; this model's input is {INPUT_NAME!r}")
    if tensor.datatype != DATATYPE:
        raise bad_request(f"input {INPUT_NAME!r} has datatype {tensor.datatype!r}; send {DATATYPE}")
    if len(tensor.shape) != 2 or tensor.shape[1] != window:
        raise bad_request(
            f"input {INPUT_NAME!r} has shape {tensor.shape}; this model takes "
            f"[batch, {window}] (one row of the last {window} values per series)"
        )


def _json_values(tensor: RequestInput, count: int) -> Array:
    data: Sequence[Any] = tensor.data or []
    try:
        array = np.asarray(data, dtype=np.float64)
    except ValueError:
        raise bad_request(
            f"input {INPUT_NAME!r}: nested data rows must all have the same length"
        ) from None
    if array.ndim == 2 and list(array.shape) != tensor.shape:
        raise bad_request(
            f"input {INPUT_NAME!r} has nested data of shape {list(array.shape)}; "
            f"its shape says {tensor.shape}"
        )
    values = array.reshape(-1)
    if values.size != count:
        raise bad_request(
            f"input {INPUT_NAME!r} has {values.size} values; shape {tensor.shape} needs {count}"
        )
    if np.abs(values).max(initial=0.0) > FLOAT32_MAX:
        raise bad_request(
            f"input {INPUT_NAME!r} holds a value beyond float32's range (|x| <= {FLOAT32_MAX:.3e})"
        )
    return values.astype(np.float32)


def _binary_values(tensor: RequestInput, size: object, binary: bytes) -> Array:
    count = prod(tensor.shape)
    if not isinstance(size, int) or isinstance(size, bool) or size != count * _WIRE_FP32.itemsize:
        raise bad_request(
            f"input {INPUT_NAME!r} has binary_data_size {size!r}; shape {tensor.shape} of "
            f"{DATATYPE} needs {count * _WIRE_FP32.itemsize} bytes"
        )
    if len(binary) != size:
        raise bad_request(
            f"{len(binary)} bytes follow the JSON header; the inputs' binary_data_size "
            f"adds up to {size}"
        )
    values = np.frombuffer(binary, dtype=_WIRE_FP32).astype(np.float32)
    if not np.isfinite(values).all():
        raise bad_request(f"input {INPUT_NAME!r} holds NaN or infinity; send finite values")
    return values


def decode(body: bytes, header_length: str | None, window: int) -> DecodedRequest:
    """A whole inference request body (JSON, or JSON + binary tensor data)."""
    header, binary = _split(body, header_length)
    request = parse(header)
    if len(request.inputs) != 1:
        raise bad_request(
            f"{len(request.inputs)} inputs sent; this model takes exactly one, "
            f"{INPUT_NAME!r} ({DATATYPE}, shape [batch, {window}])"
        )
    tensor = request.inputs[0]
    _check_input(tensor, window)
    size = (tensor.parameters or {}).get("binary_data_size")
    if size is not None and tensor.data is not None:
        raise bad_request(f"input {INPUT_NAME!r} has both data and binary_data_size; send one")
    if size is None:
        if tensor.data is None:
            raise bad_request(
                f"input {INPUT_NAME!r} has no data and no parameters.binary_data_size"
            )
        if binary:
            raise bad_request(f"{len(binary)} bytes follow the JSON header but no input is binary")
        values = _json_values(tensor, prod(tensor.shape))
    else:
        values = _binary_values(tensor, size, binary)
    return DecodedRequest(values.reshape(tensor.shape), request.id, _wants_binary(request))


def _wants_binary(request: InferenceRequest) -> bool:
    default = _bool_parameter(request.parameters, "binary_data_output", "request") or False
    if not request.outputs:
        return default
    binary = default
    for i, output in enumerate(request.outputs):
        if output.name != OUTPUT_NAME:
            raise bad_request(
                f"unknown output {output.name!r}; this model's output is {OUTPUT_NAME!r}"
            )
        if "classification" in (output.parameters or {}):
            raise bad_request(
                "the classification extension is not supported; omit 'classification'"
            )
        flag = _bool_parameter(output.parameters, "binary_data", f"outputs[{i}]")
        binary = default if flag is None else flag
    return binary


def encode(model_name: str, version: str, request: DecodedRequest, predictions: Array) -> Response:
    """The inference response: JSON, or a JSON header followed by the raw float32 bytes."""
    output: dict[str, Any] = {
        "name": OUTPUT_NAME,
        "datatype": DATATYPE,
        "shape": [len(predictions)],
    }
    raw = b""
    if request.binary_output:
        raw = np.ascontiguousarray(predictions, dtype=_WIRE_FP32).tobytes()
        output["parameters"] = {"binary_data_size": len(raw)}
    else:
        output["data"] = predictions
    body: dict[str, Any] = {"model_name": model_name, "model_version": version}
    if request.request_id is not None:
        body["id"] = request.request_id
    body["outputs"] = [output]
    header = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    if not request.binary_output:
        return Response(header, media_type="application/json")
    return Response(
        header + raw,
        media_type="application/octet-stream",
        headers={HEADER_LENGTH: str(len(header))},
    )
